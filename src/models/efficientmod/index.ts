/**
 * EfficientMod (ICLR 2024, ma-xu/EfficientMod): four stages of efficient-modulation blocks,
 * in the hybrid variants followed by plain multi-head self-attention blocks in the last two
 * stages. The reference network runs channels-last ([B, H, W, C]): LayerNorms and Linears act on
 * the last axis and every convolution is wrapped in permutes to NCHW and back. The graph keeps
 * that layout, because the toolbox count rules read shapes (a Linear on [B, H, W, C] counts W
 * tokens, a LayerNorm 2·H·W, a GELU H·W): the counts reproduce the reference's hooks only so.
 * Names are the reference checkpoints' state_dict keys (no BatchNorm, so no buffers).
 */
import { UsageError } from '../../core/errors.js';
import { IMAGENET_MEAN, IMAGENET_STD } from '../../data/imagenet.js';
import { GraphBuilder } from '../../graph/builder.js';
import type { Graph, Value } from '../../graph/ir.js';
import { between, CONFIG_LIMITS, checkConfigFields, type ConfigBounds, depths, perBlock, perStage, RANGES, whole } from '../config-json.js';
import { type BlockNamer, entry, type ModelEntry, type ModelFamily } from '../family.js';
import { groupByIndex } from '../layers.js';

export interface EfficientModConfig {
  /** Channels of each stage (`embed_dim`). */
  embedDims: number[];
  /** Efficient-modulation blocks per stage (`depths`). */
  depths: number[];
  /** Attention blocks after them, per stage (`attention_depth`). */
  attentionDepths: number[];
  /**
   * Expansion ratio of every modulation block, stage by stage (`mlp_ratio`, which the reference
   * also passes as `conv_group_dim`): fc1 widens C to C·r and the context is tiled r times.
   */
  mlpRatios: number[][];
  /** MLP ratio of the attention blocks of each stage (`att_ratio`). */
  attentionRatios: number[];
  /** Kernel of the depthwise context conv (`context_size`). */
  contextSize: number;
  /** Kernel, stride and padding of the stem (index 0) and of each downsampling embedding. */
  patchSizes: number[];
  patchStrides: number[];
  patchPads: number[];
  numClasses: number;
  layerNormEps: number;
}

/** The reference's Attention: 8 heads of max(C // 8, 32) channels (not constructor arguments). */
const ATTENTION_HEADS = 8;
const MIN_HEAD_DIM = 32;

export function efficientModConfig(
  c: Pick<EfficientModConfig, 'embedDims' | 'depths' | 'mlpRatios'> & Partial<EfficientModConfig>,
): EfficientModConfig {
  const stages = c.embedDims.length;
  const config: EfficientModConfig = {
    attentionDepths: new Array(stages).fill(0),
    attentionRatios: new Array(stages).fill(4),
    contextSize: 7,
    patchSizes: [7, 3, 3, 3],
    patchStrides: [4, 2, 2, 2],
    patchPads: [3, 1, 1, 1],
    numClasses: 1000,
    layerNormEps: 1e-5,
    ...c,
  };
  const perStage: (keyof EfficientModConfig)[] = ['depths', 'attentionDepths', 'mlpRatios', 'attentionRatios', 'patchSizes', 'patchStrides', 'patchPads'];
  for (const field of perStage) {
    if ((config[field] as unknown[]).length !== stages) throw new UsageError(`${field} must have ${stages} entries (one per stage, as embedDims)`);
  }
  config.depths.forEach((d, i) => {
    const ratios = config.mlpRatios[i];
    if (ratios.length !== d) throw new UsageError(`mlpRatios[${i}] must have ${d} entries (the stage depth)`);
    // The context (C channels) is tiled r times to meet fc1's C·r channels: r must be a whole number.
    if (ratios.some((r) => !Number.isInteger(r) || r < 1)) throw new UsageError(`mlpRatios[${i}] must be whole numbers of at least 1, got ${ratios.join(', ')}`);
  });
  const blocks = [...config.depths, ...config.attentionDepths].reduce((a, b) => a + b, 0);
  if (blocks > CONFIG_LIMITS.totalDepth) throw new UsageError(`depths and attentionDepths add up to ${blocks} blocks; eformer builds at most ${CONFIG_LIMITS.totalDepth} in all`);
  if (config.contextSize % 2 !== 1) throw new UsageError(`contextSize must be odd (the conv pads contextSize // 2 each side), got ${config.contextSize}`);
  return config;
}

/** What a `--config` file may hold. */
const BOUNDS: ConfigBounds<EfficientModConfig> = {
  embedDims: perStage(RANGES.width),
  depths: depths(),
  attentionDepths: depths(),
  mlpRatios: perBlock(whole(1, RANGES.ratio.max)),
  // 0 where a stage has no attention blocks.
  attentionRatios: perStage(between(0, RANGES.ratio.max)),
  contextSize: RANGES.kernel,
  patchSizes: perStage(RANGES.kernel),
  patchStrides: perStage(RANGES.kernel),
  patchPads: perStage(whole(0, RANGES.kernel.max)),
  numClasses: RANGES.classes,
  layerNormEps: RANGES.eps,
};

export const efficientMod: ModelFamily<EfficientModConfig> = {
  id: 'efficientmod',
  defaultResolution: 224,
  namings: [],
  groupOf: groupByIndex('layers'),
  blockNamer: efficientModNamer,
  // timm's defaults, which the reference's train.py and validate.py use (no default_cfg of its own):
  // crop_pct 0.875, bicubic, ImageNet mean and std.
  preprocessing: { resizeShortest: 256, crop: 224, mean: IMAGENET_MEAN, std: IMAGENET_STD },

  checkResolution(_config, resolution, modelName) {
    // Convolutions and global attention take any grid; the floor of 32 is the one eformer sets for
    // every family that has no tighter limit (MobileNetV2, V2).
    if (!Number.isInteger(resolution) || resolution < 32) {
      throw new UsageError(`${modelName} cannot take resolution ${resolution}: use any whole number from 32 up (e.g. 224, 256)`);
    }
  },

  config(raw, where) {
    const example = efficientModConfig({ embedDims: [32], depths: [1], mlpRatios: [[1]], attentionDepths: [0], attentionRatios: [4], patchSizes: [7], patchStrides: [4], patchPads: [3] });
    return efficientModConfig(checkConfigFields(raw, example, ['embedDims', 'depths', 'mlpRatios'], where, BOUNDS) as EfficientModConfig);
  },

  build(config, { resolution, batch = 1, name = 'efficientmod' }) {
    this.checkResolution(config, resolution, name);
    const b = new GraphBuilder(name);
    const image = b.input('image', [batch, 3, resolution, resolution]);
    // The reference permutes the image to channels-last and the stem's conv permutes it straight
    // back: an identity, so the stem reads the NCHW input directly.
    let x = b.within('patch_embed', () => patchEmbed(b, image, config, 0));
    const stages = config.embedDims.length;
    b.within('layers', () => {
      for (let s = 0; s < stages; s++) {
        x = b.within(s, () => {
          let y = x;
          for (let j = 0; j < config.depths[s]; j++) y = b.within('blocks', () => b.within(j, () => modulationBlock(b, y, config, config.mlpRatios[s][j])));
          for (let a = 0; a < config.attentionDepths[s]; a++) {
            y = b.within('blocks', () => b.within(config.depths[s] + a, () => attentionBlock(b, y, config, config.attentionRatios[s])));
          }
          if (s === stages - 1) return y;
          return b.within('downsample', () => patchEmbed(b, toChannelsFirst(b, y), config, s + 1));
        });
      }
    });
    x = b.layerNorm('norm', x, config.layerNormEps);
    // AdaptiveAvgPool2d(1) on the permuted map and flatten: the mean over H and W.
    const pooled = b.mean(x, [1, 2]);
    b.output(b.linear('head', pooled, config.numClasses), 'logits');
    return b.finish();
  },
};

const toChannelsFirst = (b: GraphBuilder, x: Value) => b.transpose(x, [0, 3, 1, 2]);
const toChannelsLast = (b: GraphBuilder, x: Value) => b.transpose(x, [0, 2, 3, 1]);

/** PatchEmbed on an NCHW input: `proj` conv, back to channels-last, `norm` LayerNorm. */
function patchEmbed(b: GraphBuilder, x: Value, c: EfficientModConfig, index: number): Value {
  const out = c.embedDims[index];
  const y = b.conv('proj', x, { out, kernel: c.patchSizes[index], stride: c.patchStrides[index], pad: c.patchPads[index] });
  return b.layerNorm('norm', toChannelsLast(b, y), c.layerNormEps);
}

/**
 * BasicBlock: x + gamma_1 · fc2(v · ctx), with ctx = g(GELU(dwconv(f(LN x)))) and v = fc1(LN x),
 * GELU'd and met by ctx tiled r times when fc1 widens (r > 1); at r = 1 the reference skips the GELU.
 */
function modulationBlock(b: GraphBuilder, x: Value, c: EfficientModConfig, ratio: number): Value {
  const dim = x.shape[3];
  const gamma = b.param('gamma_1', [dim], 'layer_scale');
  const h = b.layerNorm('norm', x, c.layerNormEps);
  const y = b.within('mlp', () => {
    const ctx = b.within('context_layer', () => {
      const f = toChannelsFirst(b, b.linear('f', h, dim));
      const conv = b.within('context_list', () => b.conv(0, f, { out: dim, kernel: c.contextSize, pad: (c.contextSize - 1) / 2, groups: dim }));
      // The activation runs on the NCHW conv output, before the permute back (the GELU hook sees that shape).
      return b.linear('g', toChannelsLast(b, b.gelu(conv, 'act')), dim);
    });
    let v = b.linear('fc1', h, dim * ratio);
    v = ratio === 1 ? b.mul(v, ctx) : b.mul(b.gelu(v, 'act'), b.concat(new Array(ratio).fill(ctx), 3));
    return b.linear('fc2', v, dim);
  });
  return b.add(x, b.mul(gamma, y));
}

/** AttentionBlock on the stage's tokens: pre-norm multi-head self-attention and MLP, no layer scale. */
function attentionBlock(b: GraphBuilder, x: Value, c: EfficientModConfig, mlpRatio: number): Value {
  const [batch, height, width, dim] = x.shape;
  let t = b.reshape(x, [batch, height * width, dim]);
  const h1 = b.layerNorm('norm1', t, c.layerNormEps);
  t = b.add(t, b.within('attn', () => attention(b, h1)));
  const h2 = b.layerNorm('norm2', t, c.layerNormEps);
  const mlp = b.within('mlp', () => b.linear('fc2', b.gelu(b.linear('fc1', h2, Math.trunc(dim * mlpRatio)), 'act'), dim));
  return b.reshape(b.add(t, mlp), [batch, height, width, dim]);
}

function attention(b: GraphBuilder, x: Value): Value {
  const [batch, tokens, dim] = x.shape;
  const heads = ATTENTION_HEADS;
  const headDim = Math.max(Math.floor(dim / heads), MIN_HEAD_DIM);
  const qkv = b.reshape(b.linear('qkv', x, 3 * heads * headDim, { bias: false }), [batch, tokens, 3, heads, headDim]);
  // permute(2, 0, 3, 1, 4) then unbind(0): q, k, v as [B, heads, N, head_dim].
  const [q, k, v] = b.split(b.transpose(qkv, [2, 0, 3, 1, 4]), 0, [1, 1, 1]).map((p) => b.reshape(p, [batch, heads, tokens, headDim]));
  const attn = b.softmax(b.matmul(b.scale(q, headDim ** -0.5), b.transpose(k, [0, 1, 3, 2])), -1);
  const out = b.reshape(b.transpose(b.matmul(attn, v), [0, 2, 1, 3]), [batch, tokens, heads * headDim]);
  return b.linear('proj', out, dim);
}

/**
 * Breakdown names: `patch_embed` the stem, `layers.<s>.downsample` the embedding into stage s+1,
 * a modulation block's `mlp.context_layer` its context branch and the rest its modulation, an
 * attention block's `attn`/`norm1` its attention and `mlp`/`norm2` its MLP.
 */
function efficientModNamer(graph: Graph): BlockNamer {
  const attentionBlocks = new Set(graph.nodes.map((n) => /^(layers\.\d+\.blocks\.\d+)\.attn(\.|$)/.exec(n.module)?.[1]).filter(Boolean));
  return (path) => {
    const parts = path.split('.');
    if (parts[0] === 'patch_embed') return { block: 'stem', stage: 'stem' };
    if (parts[0] === 'norm' || parts[0] === 'head') return { block: 'head', stage: 'head' };
    if (parts[0] !== 'layers' || parts[1] === undefined) return undefined;
    const s = Number(parts[1]);
    if (parts[2] === 'downsample') return { block: `embedding ${s}->${s + 1}`, stage: `embedding ${s}->${s + 1}` };
    const stage = `stage ${s}`;
    if (parts[2] !== 'blocks' || parts[3] === undefined) return { block: stage, stage };
    const blockPath = parts.slice(0, 4).join('.');
    const part = attentionBlocks.has(blockPath)
      ? ['attn', 'norm1'].includes(parts[4]) ? 'attention' : parts[4] ? 'mlp' : 'residual + layout'
      : parts[5] === 'context_layer' ? 'context' : 'modulation';
    return { block: `${stage} · block ${parts[3]} · ${part}`, stage: `${stage} · ${part}` };
  };
}

/** `[1, 6]` repeated to `depth` entries: the reference's per-stage lists, of which a stage reads the first `depth`. */
const alternating = (pattern: number[], depth: number) => Array.from({ length: depth }, (_, i) => pattern[i % pattern.length]);

/** The README publishes params and top-1 only: no MACs, no latency. */
const COUNT_NOTE =
  "README params count every parameter (params total) and the README publishes no MACs; eformer's toolbox MACs undercount this channels-last network (a Linear counts W tokens instead of H·W, a LayerNorm 2·H·W, a GELU H·W), and macs.standard is the real multiply-add count (fvcore's conv + linear + matmul)";

export const efficientModZoo: ModelEntry[] = [
  entry({
    name: 'efficientmod_xxs',
    family: efficientMod,
    config: efficientModConfig({
      embedDims: [32, 64, 128, 256],
      depths: [2, 2, 6, 2],
      attentionDepths: [0, 0, 1, 2],
      attentionRatios: [0, 0, 4, 4],
      mlpRatios: [2, 2, 6, 2].map((d) => alternating([1, 6], d)),
    }),
    paper: { top1: '77.1 (distilled)', top1Value: 77.1, paramsM: 4.7, paramsDigits: 1, macsDigits: 2, countNote: COUNT_NOTE },
  }),
  entry({
    name: 'efficientmod_xs',
    family: efficientMod,
    config: efficientModConfig({
      embedDims: [32, 64, 144, 288],
      depths: [3, 3, 4, 2],
      attentionDepths: [0, 0, 3, 3],
      mlpRatios: [3, 3, 4, 2].map((d) => alternating([1, 4], d)),
    }),
    paper: { top1: '79.4 (distilled)', top1Value: 79.4, paramsM: 6.6, paramsDigits: 1, macsDigits: 2, countNote: COUNT_NOTE },
  }),
  entry({
    name: 'efficientmod_s',
    family: efficientMod,
    config: efficientModConfig({
      embedDims: [32, 64, 144, 312],
      depths: [4, 4, 8, 4],
      attentionDepths: [0, 0, 4, 4],
      attentionRatios: [4, 4, 4, 5],
      mlpRatios: [4, 4, 8, 4].map((d) => alternating([1, 6], d)),
    }),
    paper: { top1: '81.9 (distilled)', top1Value: 81.9, paramsM: 12.9, paramsDigits: 1, macsDigits: 2, countNote: COUNT_NOTE },
  }),
  entry({
    name: 'efficientmod_s_conv',
    family: efficientMod,
    config: efficientModConfig({
      embedDims: [40, 80, 160, 344],
      depths: [4, 4, 12, 8],
      mlpRatios: [4, 4, 12, 8].map((d) => alternating([1, 6], d)),
    }),
    paper: { top1: '80.5 (no distillation)', top1Value: 80.5, paramsM: 12.9, paramsDigits: 1, macsDigits: 2, countNote: COUNT_NOTE },
  }),
];
