/**
 * Next-ViT (ByteDance, 2022): a conv stem, then stages of Next Convolution Blocks (grouped 3x3
 * "multi-head convolutional attention" + MLP) with a Next Transformer Block closing every few
 * blocks (attention over average-pooled keys on three quarters of the channels, convolutional
 * attention on the rest, concatenated). BatchNorm and ReLU throughout. Names follow the
 * released bytedance/Next-ViT checkpoints (`features.<i>` over all stages, `proj_head.0`).
 */
import { UsageError } from '../../core/errors.js';
import { IMAGENET_MEAN, IMAGENET_STD } from '../../data/imagenet.js';
import { GraphBuilder } from '../../graph/builder.js';
import type { Graph, Value } from '../../graph/ir.js';
import { checkConfigFields, type ConfigBounds, depths, perStage, RANGES, whole } from '../config-json.js';
import { type BlockNamer, entry, type ModelEntry, type ModelFamily } from '../family.js';
import { groupByIndex } from '../layers.js';
import { timmNaming } from './naming.js';

export interface NextVitConfig {
  /** The four stem convs: 3 -> s0 (stride 2) -> s1 -> s2 -> s2 (stride 2). */
  stemChannels: number[];
  depths: number[];
  /** Output channels of the convolution blocks (NCB), stage by stage. */
  convWidths: number[];
  /** Output channels of the transformer blocks (NTB), stage by stage; unused where a stage has none. */
  transformerWidths: number[];
  /** Every n-th block of a stage is a transformer block (0: none); the stage depth must be a multiple. */
  transformerEvery: number[];
  /** Stride of each stage's first block. */
  strides: number[];
  /** Key/value token reduction of each stage's attention: groups of srRatio^2 consecutive tokens are averaged. */
  srRatios: number[];
  /** Channels per attention head and per group of the grouped 3x3 conv. */
  headDim: number;
  /** Share of a transformer block's channels that go through attention (the rest through conv attention). */
  mixBlockRatio: number;
  convMlpRatio: number;
  transformerMlpRatio: number;
  numClasses: number;
  batchNormEps: number;
}

/** What a `--config` file may hold. */
const BOUNDS: ConfigBounds<NextVitConfig> = {
  stemChannels: { each: RANGES.width, entries: [3, 3] },
  depths: depths(),
  convWidths: perStage(RANGES.width),
  // 0 where a stage has no transformer block.
  transformerWidths: perStage(whole(0, RANGES.width.max)),
  transformerEvery: perStage(whole(0, RANGES.blocks.max)),
  strides: perStage(whole(1, 2)),
  srRatios: perStage(RANGES.grid),
  headDim: RANGES.keyDim,
  mixBlockRatio: RANGES.fraction,
  convMlpRatio: RANGES.ratio,
  transformerMlpRatio: RANGES.ratio,
  numClasses: RANGES.classes,
  batchNormEps: RANGES.eps,
};

export function nextVitConfig(c: Pick<NextVitConfig, 'depths'> & Partial<NextVitConfig>): NextVitConfig {
  const config: NextVitConfig = {
    stemChannels: [64, 32, 64],
    convWidths: [96, 192, 384, 768],
    transformerWidths: [0, 256, 512, 1024],
    transformerEvery: [0, 4, 5, 3],
    strides: [1, 2, 2, 2],
    srRatios: [8, 4, 2, 1],
    headDim: 32,
    mixBlockRatio: 0.75,
    convMlpRatio: 3,
    transformerMlpRatio: 2,
    numClasses: 1000,
    batchNormEps: 1e-5,
    ...c,
  };
  const stages = config.depths.length;
  for (const field of ['convWidths', 'transformerWidths', 'transformerEvery', 'strides', 'srRatios'] as const) {
    if (config[field].length !== stages) throw new UsageError(`${field} must have ${stages} entries (one per stage, as depths)`);
  }
  if (config.stemChannels.length !== 3) throw new UsageError('stemChannels must have 3 entries');
  // The reference's embedding pools at stride 2 and ignores any other stride.
  if (config.strides.some((s) => s !== 1 && s !== 2)) throw new UsageError(`strides must be 1 or 2, got [${config.strides}]`);
  for (const block of blockPlan(config)) {
    const where = `stage ${block.stage} block ${block.index}`;
    if (block.out % config.headDim) throw new UsageError(`${where}: ${block.out} channels are not a multiple of headDim ${config.headDim}`);
    if (block.kind === 'ntb') {
      const { attention, conv } = transformerSplit(config, block.out);
      if (conv <= 0 || attention % config.headDim || conv % config.headDim) {
        throw new UsageError(`${where}: a transformer block of ${block.out} channels splits into ${attention} attention + ${conv} conv channels; both must be positive multiples of headDim ${config.headDim}`);
      }
    }
  }
  config.depths.forEach((d, s) => {
    const every = config.transformerEvery[s];
    if (every > 0 && d % every) throw new UsageError(`depths[${s}] = ${d} must be a multiple of transformerEvery[${s}] = ${every}`);
  });
  return config;
}

/** The reference's `_make_divisible`: round to the nearest multiple, never below 90% of v. */
function makeDivisible(v: number, divisor: number): number {
  let rounded = Math.max(divisor, Math.floor(Math.trunc(v + divisor / 2) / divisor) * divisor);
  if (rounded < 0.9 * v) rounded += divisor;
  return rounded;
}

/** The reference rounds these widths to multiples of 32 whatever the head size. */
const WIDTH_DIVISOR = 32;

function transformerSplit(c: NextVitConfig, out: number): { attention: number; conv: number } {
  const attention = makeDivisible(Math.trunc(out * c.mixBlockRatio), WIDTH_DIVISOR);
  return { attention, conv: out - attention };
}

interface PlannedBlock {
  kind: 'ncb' | 'ntb';
  stage: number;
  /** Index within the stage. */
  index: number;
  in: number;
  out: number;
  stride: number;
}

/** Every block in `features` order: the reference's flat numbering over all stages. */
function blockPlan(c: NextVitConfig): PlannedBlock[] {
  const plan: PlannedBlock[] = [];
  let channels = c.stemChannels[2];
  c.depths.forEach((depth, stage) => {
    for (let index = 0; index < depth; index++) {
      const every = c.transformerEvery[stage];
      const kind = every > 0 && (index + 1) % every === 0 ? 'ntb' : 'ncb';
      const out = kind === 'ntb' ? c.transformerWidths[stage] : c.convWidths[stage];
      plan.push({ kind, stage, index, in: channels, out, stride: index === 0 ? c.strides[stage] : 1 });
      channels = out;
    }
  });
  return plan;
}

/** Side of the square map each stage sees: stride-2 convs and ceil-mode pools both give ceil(n/2); an empty stage pools nothing. */
function stageGrids(c: NextVitConfig, resolution: number): number[] {
  let grid = Math.ceil(Math.ceil(resolution / 2) / 2);
  return c.strides.map((s, stage) => (grid = s === 2 && c.depths[stage] > 0 ? Math.ceil(grid / 2) : grid));
}

/** Stages whose attention pools keys: each needs at least srRatio^2 tokens. */
function resolutionProblem(c: NextVitConfig, resolution: number): string | undefined {
  const grids = stageGrids(c, resolution);
  for (const block of blockPlan(c)) {
    const sr = c.srRatios[block.stage];
    const grid = grids[block.stage];
    if (block.kind === 'ntb' && sr > 1 && grid * grid < sr * sr) {
      return `stage ${block.stage}'s attention averages keys over ${sr * sr} tokens and its ${grid}x${grid} map has ${grid * grid}`;
    }
  }
  return undefined;
}

/**
 * The breakdown: stem, `stage s · block b (NCB|NTB) · part`, head. The graph numbers blocks over
 * all stages (`features.<i>`); a stage starts at each strided block after the first, which is
 * where every published variant starts one.
 */
function nextVitNamer(graph: Graph): BlockNamer {
  const blockOf = (path: string) => (path.startsWith('features.') ? Number(path.split('.')[1]) : undefined);
  const blocks = Math.max(-1, ...graph.nodes.map((n) => blockOf(n.module) ?? -1)) + 1;
  const strided = new Set(graph.nodes.filter((n) => n.op === 'AvgPool').map((n) => blockOf(n.module)));
  const transformer = new Set(graph.nodes.filter((n) => n.module.split('.')[2] === 'e_mhsa').map((n) => blockOf(n.module)));
  const place: { stage: number; index: number }[] = [];
  for (let i = 0, stage = 0, first = 0; i < blocks; i++) {
    if (i > 0 && strided.has(i)) [stage, first] = [stage + 1, i];
    place.push({ stage, index: i - first });
  }
  const parts: Record<string, string> = {
    patch_embed: 'embedding',
    norm1: 'attention',
    e_mhsa: 'attention',
    projection: 'conv attention',
    mhca: 'conv attention',
    norm: 'mlp',
    norm2: 'mlp',
    mlp: 'mlp',
  };
  return (path) => {
    const [top, , part] = path.split('.');
    if (top === 'stem') return { block: 'stem', stage: 'stem' };
    if (top === 'norm' || top.startsWith('proj_head')) return { block: 'head', stage: 'head' };
    const i = blockOf(path);
    if (i === undefined || !place[i]) return undefined;
    const stage = `stage ${place[i].stage}`;
    const what = part === undefined ? 'residual + layout' : (parts[part] ?? part);
    return { block: `${stage} · block ${place[i].index} (${transformer.has(i) ? 'NTB' : 'NCB'}) · ${what}`, stage: `${stage} · ${what}` };
  };
}

export const nextVit: ModelFamily<NextVitConfig> = {
  id: 'nextvit',
  defaultResolution: 224,
  namings: [timmNaming],
  groupOf: groupByIndex('features'),
  blockNamer: nextVitNamer,
  // The reference's evaluation transform (classification/datasets.py): bicubic resize to 256/224 of
  // the input, centre crop. timm's pretrained_cfg says crop_pct 0.95 for the same weights.
  preprocessing: { resizeShortest: 256, crop: 224, mean: IMAGENET_MEAN, std: IMAGENET_STD },

  checkResolution(config, resolution, modelName) {
    if (!Number.isInteger(resolution) || resolution < 1) throw new UsageError(`${modelName} cannot take resolution ${resolution}: use a positive integer (e.g. 224, 384)`);
    const problem = resolutionProblem(config, resolution);
    if (problem) {
      let smallest = resolution + 1;
      while (resolutionProblem(config, smallest)) smallest++;
      throw new UsageError(`${modelName} cannot take resolution ${resolution}: ${problem}: use ${smallest} or more (e.g. 224, 384)`);
    }
  },

  config(raw, where) {
    return nextVitConfig(checkConfigFields(raw, nextVitConfig({ depths: [3, 4, 10, 3] }), ['depths'], where, BOUNDS) as NextVitConfig);
  },

  build(config, { resolution, batch = 1, name = 'nextvit' }) {
    this.checkResolution(config, resolution, name);
    const b = new GraphBuilder(name);
    const eps = config.batchNormEps;
    let x = b.input('image', [batch, 3, resolution, resolution]);
    const [s0, s1, s2] = config.stemChannels;
    b.within('stem', () => {
      [
        [s0, 2],
        [s1, 1],
        [s2, 1],
        [s2, 2],
      ].forEach(([out, stride], i) => {
        x = b.within(i, () => b.relu(b.batchNorm('norm', b.conv('conv', x, { out, kernel: 3, stride, pad: 1, bias: false }), eps)));
      });
    });
    b.within('features', () => {
      blockPlan(config).forEach((block, i) => {
        x = b.within(i, () => (block.kind === 'ntb' ? transformerBlock(b, x, config, block) : convBlock(b, x, config, block)));
      });
    });
    const pooled = b.mean(b.batchNorm('norm', x, eps), [2, 3]);
    b.output(
      b.within('proj_head', () => b.linear(0, pooled, config.numClasses)),
      'logits',
    );
    return b.finish();
  },
};

/** Stride 2: 2x2 ceil-mode average pool, 1x1 conv, BN; a width change alone: 1x1 conv, BN; else nothing. */
function patchEmbed(b: GraphBuilder, x: Value, out: number, stride: number, eps: number): Value {
  if (stride === 2) x = b.avgPool(x, { kernel: 2, stride: 2, pad: 0, countIncludePad: false, ceilMode: true }, 'avgpool');
  else if (x.shape[1] === out) return x;
  return b.batchNorm('norm', b.conv('conv', x, { out, bias: false }), eps);
}

/** Grouped 3x3 conv (one group per head), BN, ReLU, 1x1 projection. */
function convAttention(b: GraphBuilder, x: Value, c: NextVitConfig): Value {
  const channels = x.shape[1];
  let y = b.conv('group_conv3x3', x, { out: channels, kernel: 3, pad: 1, groups: Math.floor(channels / c.headDim), bias: false });
  y = b.relu(b.batchNorm('norm', y, c.batchNormEps));
  return b.conv('projection', y, { out: channels, bias: false });
}

function mlp(b: GraphBuilder, x: Value, ratio: number): Value {
  const channels = x.shape[1];
  const hidden = b.relu(b.conv('conv1', x, { out: makeDivisible(channels * ratio, WIDTH_DIVISOR) }));
  return b.conv('conv2', hidden, { out: channels });
}

function convBlock(b: GraphBuilder, x: Value, c: NextVitConfig, block: PlannedBlock): Value {
  x = b.within('patch_embed', () => patchEmbed(b, x, block.out, block.stride, c.batchNormEps));
  x = b.add(x, b.within('mhca', () => convAttention(b, x, c)));
  const normed = b.batchNorm('norm', x, c.batchNormEps);
  return b.add(x, b.within('mlp', () => mlp(b, normed, c.convMlpRatio)));
}

function transformerBlock(b: GraphBuilder, x: Value, c: NextVitConfig, block: PlannedBlock): Value {
  const { attention, conv } = transformerSplit(c, block.out);
  x = b.within('patch_embed', () => patchEmbed(b, x, attention, block.stride, c.batchNormEps));
  const [batch, channels, h, w] = x.shape;
  // "b c h w -> b (h w) c". The [B, C, N] view in between is also what the key pooling reads.
  const channelsFirst = b.reshape(b.batchNorm('norm1', x, c.batchNormEps), [batch, channels, h * w]);
  const tokens = b.transpose(channelsFirst, [0, 2, 1]);
  const attended = b.within('e_mhsa', () => efficientAttention(b, tokens, channelsFirst, c, c.srRatios[block.stage]));
  x = b.add(x, b.reshape(b.transpose(attended, [0, 2, 1]), [batch, channels, h, w]));

  let local = b.within('projection', () => patchEmbed(b, x, conv, 1, c.batchNormEps));
  local = b.add(local, b.within('mhca', () => convAttention(b, local, c)));
  x = b.concat([x, local], 1);
  const normed = b.batchNorm('norm2', x, c.batchNormEps);
  return b.add(x, b.within('mlp', () => mlp(b, normed, c.transformerMlpRatio)));
}

/**
 * E_MHSA on tokens [B, N, C]. With srRatio > 1 keys and values come from AvgPool1d(sr^2) over
 * the flattened token axis (consecutive tokens, not square windows; a last partial group is
 * dropped) followed by BatchNorm1d.
 */
function efficientAttention(b: GraphBuilder, tokens: Value, channelsFirst: Value, c: NextVitConfig, srRatio: number): Value {
  const [batch, n, channels] = tokens.shape;
  const heads = channels / c.headDim;
  const perHead = (v: Value, perm: number[]) => b.transpose(b.reshape(v, [batch, v.shape[1], heads, c.headDim]), perm);
  const q = perHead(b.linear('q', tokens, channels), [0, 2, 1, 3]);
  let keyTokens = tokens;
  if (srRatio > 1) {
    const pooled = b.within('sr', () => tokenAveragePool(b, channelsFirst, srRatio * srRatio));
    keyTokens = b.transpose(b.batchNorm('norm', pooled, c.batchNormEps), [0, 2, 1]);
  }
  const k = perHead(b.linear('k', keyTokens, channels), [0, 2, 3, 1]);
  const v = perHead(b.linear('v', keyTokens, channels), [0, 2, 1, 3]);
  const weights = b.softmax(b.scale(b.matmul(q, k), c.headDim ** -0.5), -1);
  const merged = b.reshape(b.transpose(b.matmul(weights, v), [0, 2, 1, 3]), [batch, n, channels]);
  return b.linear('proj', merged, channels);
}

/** AvgPool1d(kernel = stride = k) on [B, C, N]: drop the N mod k trailing tokens, average each group of k. */
function tokenAveragePool(b: GraphBuilder, x: Value, k: number): Value {
  const [batch, channels, n] = x.shape;
  const groups = Math.floor(n / k);
  const whole = groups * k === n ? x : b.slice(x, 2, 0, groups * k);
  return b.mean(b.reshape(whole, [batch, channels, groups, k]), [3]);
}

const variant = (depths: number[]) => nextVitConfig({ depths });
const CORE_ML = 'iPhone 12 Pro Max (iOS 16), Core ML';
/** The README's table: fvcore totals, parameter totals truncated to one decimal, two latencies. */
const published = (top1: number, paramsM: number, macsG: number, coreMlMs: number, tensorRtMs: number) => ({
  top1: top1.toFixed(1),
  top1Value: top1,
  paramsM,
  macsG,
  latency: { ms: coreMlMs, device: CORE_ML },
  paramsDigits: 1,
  macsDigits: 1,
  countNote: `"FLOPs" are fvcore multiply-adds, which also count BatchNorm, pooling and the attention matmuls that the toolbox skips, and params are the total parameter count truncated, not rounded; the README also gives ${tensorRtMs.toFixed(1)} ms with TensorRT 8.0 fp16 on an unnamed GPU`,
});

export const nextVitZoo: ModelEntry[] = [
  entry({ name: 'nextvit_small', family: nextVit, config: variant([3, 4, 10, 3]), paper: published(82.5, 31.7, 5.8, 3.5, 7.7) }),
  entry({ name: 'nextvit_base', family: nextVit, config: variant([3, 4, 20, 3]), paper: published(83.2, 44.8, 8.3, 4.5, 10.5) }),
  entry({ name: 'nextvit_large', family: nextVit, config: variant([3, 4, 30, 3]), paper: published(83.6, 57.8, 10.8, 5.5, 13.0) }),
];
