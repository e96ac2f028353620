/**
 * FcaFormer (forward cross attention, hkzhang-git/FcaFormer): two ConvNeXt stages, then two stages
 * of FcaBlocks whose attention also sees "cross tokens", a 7x7 stride-4 depthwise summary of the
 * tokens of every earlier block in the stage, each scaled by a learned factor and given a learned
 * bias. Names follow the reference's state_dict (`layer_2.blocks.3.qkv.weight`).
 */
import { UsageError } from '../../core/errors.js';
import { IMAGENET_MEAN, IMAGENET_STD } from '../../data/imagenet.js';
import { GraphBuilder } from '../../graph/builder.js';
import type { Value } from '../../graph/ir.js';
import { CONFIG_LIMITS, checkConfigFields, type ConfigBounds, depths, perStage, RANGES, whole } from '../config-json.js';
import { entry, type BlockNamer, type ModelEntry, type ModelFamily } from '../family.js';
import { attentionBiasIndices, attentionBiasOffsetCount, downsampled } from '../layers.js';

export interface FcaFormerConfig {
  /** Channels of the four stages: two ConvNeXt stages, then two FcaBlock stages. */
  embedDims: number[];
  depths: number[];
  /** Attention heads per stage (the ConvNeXt stages' entries are unused: 0 in the reference). */
  numHeads: number[];
  /** Hidden width of the FcaBlocks' MLP over their width (the ConvNeXt blocks always use 4). */
  mlpRatio: number;
  /** A block attends to the cross tokens of at most this many earlier blocks (`cab_max_d`). */
  cabMaxDepth: number;
  numClasses: number;
}

export function fcaFormerConfig(c: Pick<FcaFormerConfig, 'embedDims' | 'depths' | 'numHeads'> & Partial<FcaFormerConfig>): FcaFormerConfig {
  const config = { mlpRatio: 4, cabMaxDepth: 12, numClasses: 1000, ...c };
  for (const field of ['embedDims', 'depths', 'numHeads'] as const) {
    if (config[field].length !== 4) throw new UsageError(`${field} must have 4 entries (two ConvNeXt stages, two FcaBlock stages)`);
  }
  const positive = (v: number) => Number.isInteger(v) && v > 0;
  if (!config.embedDims.every(positive) || !config.depths.every((d) => Number.isInteger(d) && d >= 0)) {
    throw new UsageError('embedDims must be positive integers and depths non-negative integers');
  }
  for (const s of [2, 3]) {
    if (!positive(config.numHeads[s]) || config.embedDims[s] % config.numHeads[s]) {
      throw new UsageError(`numHeads[${s}] must be a positive divisor of embedDims[${s}] (${config.embedDims[s]})`);
    }
  }
  if (!positive(config.cabMaxDepth) || !positive(config.numClasses) || !(config.mlpRatio > 0)) {
    throw new UsageError('cabMaxDepth and numClasses must be positive integers and mlpRatio positive');
  }
  return config;
}

/**
 * The token grids of stages 2 and 3 for an input R: the stem and the two patch mergings each
 * halve with ceil (k3 s2 p1), so ceil(R/16) and ceil(R/32).
 */
const grids = (resolution: number) => [downsampled(resolution, 4), downsampled(resolution, 5)];

/** What a `--config` file may hold. */
const BOUNDS: ConfigBounds<FcaFormerConfig> = {
  embedDims: perStage(RANGES.width),
  depths: depths(),
  numHeads: perStage(whole(0, RANGES.heads.max)),
  mlpRatio: RANGES.ratio,
  cabMaxDepth: whole(1, CONFIG_LIMITS.totalDepth),
  numClasses: RANGES.classes,
};

export const fcaFormer: ModelFamily<FcaFormerConfig> = {
  id: 'fcaformer',
  defaultResolution: 224,
  // The reference's own names are the only ones (no timm or Hugging Face port).
  namings: [],
  groupOf: (module) => module.split('.')[0] || '(graph)',
  blockNamer: () => fcaFormerNamer,
  preprocessing: { resizeShortest: 256, crop: 224, mean: IMAGENET_MEAN, std: IMAGENET_STD },

  /**
   * The reference sizes its attention tables for its build size B (`img_size`): stage grids
   * floor(B/16) and floor(B/32), while an input R makes ceil(R/16) and ceil(R/32). They agree only
   * for B a multiple of 32 and R from B-15 to B: the released models (B = 224) take 209 to 224.
   * eformer builds the tables for B = 32·ceil(R/32), the only build size that can take R.
   */
  checkResolution(_config, resolution, modelName) {
    if (!Number.isInteger(resolution) || resolution < 17) {
      throw new UsageError(`${modelName} cannot take resolution ${resolution}: use an integer of at least 17 (the released models take 209 to 224)`);
    }
    const [stage2, stage3] = grids(resolution);
    if (stage2 !== 2 * stage3) {
      const below = 32 * Math.floor(resolution / 32);
      throw new UsageError(
        `${modelName} cannot take resolution ${resolution}: its attention tables are built for a multiple of 32, B, and take inputs B-15 to B only ` +
          `(stage grids ceil(R/16) = B/16 and ceil(R/32) = B/32; ${resolution} gives ${stage2}x${stage2} and ${stage3}x${stage3}): ` +
          `use ${below - 15} to ${below} or ${below + 17} to ${below + 32} (the released models, built at 224: 209 to 224)`,
      );
    }
  },

  config(raw, where) {
    const example = fcaFormerConfig({ embedDims: [1, 1, 1, 1], depths: [1, 1, 1, 1], numHeads: [0, 0, 1, 1] });
    return fcaFormerConfig(checkConfigFields(raw, example, ['embedDims', 'depths', 'numHeads'], where, BOUNDS) as FcaFormerConfig);
  },

  build(config, { resolution, batch = 1, name = 'fcaformer' }) {
    this.checkResolution(config, resolution, name);
    const b = new GraphBuilder(name);
    let x = b.input('image', [batch, 3, resolution, resolution]);
    const dims = config.embedDims;
    x = b.within('patch_embed', () =>
      b.within('seq', () => {
        const y = b.gelu(convBn(b, 0, x, Math.floor(dims[0] / 2), { kernel: 3, stride: 2, pad: 1 }), 1);
        return convBn(b, 2, y, dims[0], { kernel: 3, stride: 2, pad: 1 });
      }),
    );
    for (const s of [0, 1]) {
      x = b.within(`layer_${s}`, () => {
        let y = x;
        for (let j = 0; j < config.depths[s]; j++) y = b.within('blocks', () => b.within(j, () => convNextBlock(b, y)));
        return b.within('downsample', () => patchMerging(b, y, dims[s + 1]));
      });
    }
    // rearrange('b c h w -> b (h w) c')
    x = b.transpose(b.reshape(x, [batch, dims[2], -1]), [0, 2, 1]);
    for (const s of [2, 3]) {
      x = b.within(`layer_${s}`, () => {
        const y = fcaLayer(b, x, config, s);
        if (s === 3) return y;
        const grid = Math.sqrt(y.shape[1]);
        const merged = b.within('downsample', () => patchMerging(b, b.transpose(b.reshape(y, [batch, grid, grid, dims[2]]), [0, 3, 1, 2]), dims[3]));
        return b.transpose(b.reshape(merged, [batch, dims[3], -1]), [0, 2, 1]);
      });
    }
    const pooled = b.mean(x, [1]);
    b.output(b.linear('head', b.layerNorm('norm_head', pooled), config.numClasses), 'logits');
    return b.finish();
  },
};

/** `Conv2d_BN`: a bias-free conv (`.c`) and its BatchNorm (`.bn`). */
function convBn(b: GraphBuilder, name: string | number, x: Value, out: number, conv: { kernel?: number; stride?: number; pad?: number; groups?: number } = {}): Value {
  return b.within(name, () => b.batchNorm('bn', b.conv('c', x, { out, bias: false, ...conv })));
}

/** 1x1 conv, GELU, depthwise 3x3 stride 2, GELU, 1x1 conv (each with BN); one `act` module called twice. */
function patchMerging(b: GraphBuilder, x: Value, out: number): Value {
  let y = b.gelu(convBn(b, 'conv1', x, out), 'act');
  y = b.gelu(convBn(b, 'conv2', y, out, { kernel: 3, stride: 2, pad: 1, groups: out }), 'act');
  return convBn(b, 'conv3', y, out);
}

/**
 * ConvNeXt block on NCHW: depthwise 7x7, then channels-last LayerNorm (eps 1e-6, the file's own
 * class calling F.layer_norm, which the toolbox does not hook), Linear 4C, GELU, Linear C, scale.
 */
function convNextBlock(b: GraphBuilder, x: Value): Value {
  const c = x.shape[1];
  const gamma = b.param('gamma', [c], 'layer_scale');
  let h = b.transpose(b.conv('dwconv', x, { out: c, kernel: 7, pad: 3, groups: c }), [0, 2, 3, 1]);
  h = b.layerNorm('norm', h, 1e-6, { hooked: false });
  h = b.linear('pwconv2', b.gelu(b.linear('pwconv1', h, 4 * c), 'act'), c);
  return b.add(x, b.transpose(b.mul(gamma, h), [0, 3, 1, 2]));
}

/** A stage of FcaBlocks: block i attends to its own tokens and to the cross tokens of the (at most cabMaxDepth) blocks before it. */
function fcaLayer(b: GraphBuilder, x: Value, c: FcaFormerConfig, stage: number): Value {
  const depth = c.depths[stage];
  const cross: Value[] = [];
  for (let i = 0; i < depth; i++) {
    const recent = cross.slice(-c.cabMaxDepth);
    const crossIn = recent.length === 0 ? undefined : recent.length === 1 ? recent[0] : b.concat(recent, 1);
    const out = b.within('blocks', () => b.within(i, () => fcaBlock(b, x, crossIn, c, stage, i < depth - 1)));
    x = out.tokens;
    if (out.cross) cross.push(out.cross);
  }
  return x;
}

/** [B, T, 3C] from the shared qkv Linear -> heads [B, h, T, d]: q (unless `keysOnly`), k transposed for q @ k, v. */
function splitQkv(b: GraphBuilder, qkv: Value, heads: number, keysOnly = false): { q?: Value; kT: Value; v: Value } {
  const [batch, tokens, threeC] = qkv.shape;
  const c = threeC / 3;
  const [q, k, v] = b.split(qkv, 2, [c, c, c]);
  const perHead = (t: Value, perm: number[]) => b.transpose(b.reshape(t, [batch, tokens, heads, c / heads]), perm);
  return { q: keysOnly ? undefined : perHead(q, [0, 2, 1, 3]), kT: perHead(k, [0, 2, 3, 1]), v: perHead(v, [0, 2, 1, 3]) };
}

function fcaBlock(b: GraphBuilder, x: Value, crossIn: Value | undefined, c: FcaFormerConfig, stage: number, makesCross: boolean): { tokens: Value; cross?: Value } {
  const [batch, tokens, dim] = x.shape;
  const grid = Math.sqrt(tokens);
  const heads = c.numHeads[stage];
  const headDim = dim / heads;
  const gamma1 = b.param('gamma_1', [dim], 'layer_scale');
  const gamma2 = b.param('gamma_2', [dim], 'layer_scale');

  const own = splitQkv(b, b.linear('qkv', b.layerNorm('norm1', x), 3 * dim), heads);
  const q = b.scale(own.q!, headDim ** -0.5);
  let logits = b.add(b.matmul(q, own.kT), relativeBias(b, heads, grid));
  let v = own.v;
  if (crossIn) {
    const n = crossIn.shape[1];
    const tokenBias = b.param('s_token_bias', [1, heads, 1, n], 'attention_biases');
    const scaled = b.mul(crossIn, b.param('s_scale_factors', [1, n, 1], 'scale_factor'));
    // The same qkv Linear, called a second time; the cross tokens' queries go unused.
    const crossQkv = splitQkv(b, b.linearAgain('qkv', b.layerNorm('s_norm', scaled)), heads, true);
    logits = b.concat([logits, b.add(b.matmul(q, crossQkv.kT), tokenBias)], -1);
    v = b.concat([v, crossQkv.v], 2);
  }
  const attended = b.transpose(b.matmul(b.softmax(logits, -1), v), [0, 2, 1, 3]);
  x = b.add(x, b.mul(gamma1, b.linear('proj', b.reshape(attended, [batch, tokens, dim]), dim)));

  const map = b.reshape(b.transpose(x, [0, 2, 1]), [batch, dim, grid, grid]);
  const cross = makesCross ? b.transpose(b.reshape(b.conv('dw_conv', map, { out: dim, kernel: 7, stride: 4, pad: 3, groups: dim, bias: false }), [batch, dim, -1]), [0, 2, 1]) : undefined;
  // local_conv replaces the tokens: no skip connection around it.
  x = b.transpose(b.reshape(convBn(b, 'local_conv', map, dim, { kernel: 3, pad: 1, groups: dim }), [batch, dim, tokens]), [0, 2, 1]);
  // Two LayerNorms in a row: the block's norm2, then the Mlp's own norm.
  const normed = b.layerNorm('norm2', x);
  const mlp = b.within('mlp', () => b.linear('fc2', b.gelu(b.linear('fc1', b.layerNorm('norm', normed), Math.trunc(dim * c.mlpRatio)), 'act'), dim));
  return { tokens: b.add(x, b.mul(gamma2, mlp)), cross };
}

/** `attention_biases[:, idx]` with idx[p1, p2] = |Δy|·r + |Δx|: a non-persistent buffer in the reference, so derived, not saved. */
function relativeBias(b: GraphBuilder, heads: number, grid: number): Value {
  const table = b.param('attention_biases', [heads, attentionBiasOffsetCount(grid, grid)], 'attention_biases');
  const index = b.param('attention_bias_idxs', [grid * grid, grid * grid], 'constant', { dtype: 'int64', trainable: false, data: () => attentionBiasIndices(grid, grid).idxs });
  return b.gather(table, index, 1);
}

/**
 * `stage 2 · block 3 · attention`: a block's attention is everything up to proj (cross tokens'
 * norm and scale included), `conv` its dw_conv and local_conv, `mlp` the two norms and the MLP.
 */
const fcaFormerNamer: BlockNamer = (path) => {
  const parts = path.split('.');
  if (parts[0] === 'patch_embed') return { block: 'stem', stage: 'stem' };
  if (parts[0] === 'norm_head' || parts[0] === 'head') return { block: 'head', stage: 'head' };
  const layer = /^layer_(\d)$/.exec(parts[0]);
  if (!layer) return undefined;
  const s = Number(layer[1]);
  if (parts[1] === 'downsample') return { block: `merging ${s}->${s + 1}`, stage: `merging ${s}->${s + 1}` };
  const stage = `stage ${s}`;
  if (parts[1] !== 'blocks' || parts[2] === undefined) return { block: stage, stage };
  const part = partOf(s, parts[3]);
  return { block: `${stage} · block ${parts[2]} · ${part}`, stage: `${stage} · ${part}` };
};

function partOf(stage: number, module: string | undefined): string {
  if (stage < 2) return module === 'dwconv' ? 'conv' : module === undefined ? 'residual + layout' : 'mlp';
  if (module === undefined) return 'attention + layout';
  if (['mlp', 'norm2'].includes(module)) return 'mlp';
  if (['dw_conv', 'local_conv'].includes(module)) return 'conv';
  return 'attention';
}

/** The README's edge table: batch 1, 224, four threads; it does not name the runtime. */
const EDGE = 'Cortex-A17, 4 threads';
const COUNT_NOTE =
  "README params are the true total and its MACs fvcore's (conv, linear, attention matmuls, BN and LayerNorm); the toolbox rules " +
  "leave out the matmuls, BN and the ConvNeXt blocks' own LayerNorm class, count only W of the H·W tokens of their channels-last " +
  'Linears, and count qkv twice in every block with cross tokens (it runs on the tokens and again on them), so toolbox params exceed the total';

export const fcaFormerZoo: ModelEntry[] = [
  entry({
    name: 'fcaformer_l1',
    family: fcaFormer,
    config: fcaFormerConfig({ embedDims: [64, 128, 192, 320], depths: [2, 2, 6, 2], numHeads: [0, 0, 6, 10] }),
    paper: { top1: '80.3', top1Value: 80.3, paramsM: 6.2, macsG: 1.4, latency: { ms: 312, device: EDGE }, paramsDigits: 1, macsDigits: 1, countNote: COUNT_NOTE },
  }),
  entry({
    name: 'fcaformer_l2',
    family: fcaFormer,
    config: fcaFormerConfig({ embedDims: [96, 192, 320, 480], depths: [2, 2, 7, 2], numHeads: [0, 0, 10, 15] }),
    paper: { top1: '83.1', top1Value: 83.1, paramsM: 16.3, macsG: 3.6, latency: { ms: 728, device: EDGE }, paramsDigits: 1, macsDigits: 1, countNote: COUNT_NOTE },
  }),
  entry({
    name: 'fcaformer_l3',
    family: fcaFormer,
    config: fcaFormerConfig({ embedDims: [96, 192, 320, 512], depths: [3, 6, 12, 3], numHeads: [0, 0, 10, 16] }),
    paper: { top1: '84.2', top1Value: 84.2, paramsM: 28, macsG: 6.7, latency: { ms: 1344, device: EDGE }, paramsDigits: 0, macsDigits: 1, countNote: COUNT_NOTE },
  }),
  entry({
    name: 'fcaformer_l4',
    family: fcaFormer,
    config: fcaFormerConfig({ embedDims: [128, 256, 512, 768], depths: [3, 6, 12, 3], numHeads: [0, 0, 16, 24] }),
    paper: { top1: '84.9', top1Value: 84.9, paramsM: 66, macsG: 14.5, latency: { ms: 2624, device: EDGE }, paramsDigits: 0, macsDigits: 1, countNote: COUNT_NOTE },
  }),
];
