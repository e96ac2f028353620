/**
 * MobileViG (CVPR Workshops 2023, SLDGroup/MobileViG): convolutional stages of inverted residuals,
 * then graph stages of a Grapher (Sparse Vision Graph Attention, a max-relative graph conv over
 * rows and columns K, 2K, ... apart) and an FFN, all 4-D with BatchNorm after every conv. Two
 * 1x1-conv heads on the pooled features, averaged at inference. Names follow the reference
 * `models/mobilevig.py` state_dict.
 */
import { UsageError } from '../../core/errors.js';
import { IMAGENET_MEAN, IMAGENET_STD } from '../../data/imagenet.js';
import { GraphBuilder } from '../../graph/builder.js';
import type { Graph, Value } from '../../graph/ir.js';
import { CONFIG_LIMITS, checkConfigFields, type ConfigBounds, depths, perStage, RANGES } from '../config-json.js';
import { type BlockNamer, entry, type ModelEntry, type ModelFamily } from '../family.js';

export interface MobileViGConfig {
  /** Inverted residual blocks in each convolutional stage (`local_blocks`). */
  localBlocks: number[];
  localChannels: number[];
  /** Grapher + FFN blocks in each graph stage (`global_blocks`); every variant has one graph stage. */
  globalBlocks: number[];
  globalChannels: number[];
  /** Width of the 1x1 conv between pooling and the heads (`emb_dims`). */
  embDims: number;
  /** The graph connects each patch to those K, 2K, ... rows and columns away, cyclically (`K`). */
  k: number;
  /** A second head (`dist_head`) averaged with `head` at inference. */
  distillation: boolean;
  numClasses: number;
}

export function mobileViGConfig(
  c: Pick<MobileViGConfig, 'localBlocks' | 'localChannels' | 'globalBlocks' | 'globalChannels'> & Partial<MobileViGConfig>,
): MobileViGConfig {
  const config = { embDims: 512, k: 2, distillation: true, numClasses: 1000, ...c };
  if (config.localBlocks.length === 0 || config.localBlocks.length !== config.localChannels.length) {
    throw new UsageError('localBlocks and localChannels must have one entry per convolutional stage (at least one)');
  }
  if (config.globalBlocks.length === 0 || config.globalBlocks.length !== config.globalChannels.length) {
    throw new UsageError('globalBlocks and globalChannels must have one entry per graph stage (at least one)');
  }
  const blocks = [...config.localBlocks, ...config.globalBlocks].reduce((a, b) => a + b, 0);
  if (blocks > CONFIG_LIMITS.totalDepth) throw new UsageError(`localBlocks and globalBlocks add up to ${blocks} blocks; eformer builds at most ${CONFIG_LIMITS.totalDepth} in all`);
  if (!Number.isInteger(config.k) || config.k < 1) throw new UsageError(`k must be a whole number of at least 1, got ${config.k}`);
  return config;
}

/** What a `--config` file may hold. */
const BOUNDS: ConfigBounds<MobileViGConfig> = {
  localBlocks: depths(),
  localChannels: perStage(RANGES.width),
  globalBlocks: depths(),
  globalChannels: perStage(RANGES.width),
  embDims: RANGES.width,
  k: RANGES.grid,
  numClasses: RANGES.classes,
};

const BN_EPS = 1e-5;
/** Hidden width of the inverted residuals and FFNs, as a multiple of the block width (fixed in the reference). */
const MLP_RATIO = 4;

export const mobileViG: ModelFamily<MobileViGConfig> = {
  id: 'mobilevig',
  defaultResolution: 224,
  namings: [],
  groupOf: (path) => {
    const [first, index] = path.split('.');
    return (first === 'local_backbone' || first === 'backbone') && index !== undefined ? `${first}.${index}` : first || '(graph)';
  },
  blockNamer: mobileViGNamer,
  // default_cfg: crop_pct 0.9 at 224 (timm resizes the short side to floor(224 / 0.9)), bicubic.
  preprocessing: { resizeShortest: 248, crop: 224, mean: IMAGENET_MEAN, std: IMAGENET_STD },

  checkResolution(_config, resolution, modelName) {
    // Every layer is a conv (stride-2 3x3 convs give ceil(R/2)), the pooling adapts, and the graph
    // shifts follow the final grid: nothing is fixed to one size.
    if (!Number.isInteger(resolution) || resolution < 1) {
      throw new UsageError(`${modelName} cannot take resolution ${resolution}: use a whole number of pixels, 1 or more (any size works; published at 224)`);
    }
  },

  config(raw, where) {
    const example = mobileViGConfig({ localBlocks: [1], localChannels: [16], globalBlocks: [1], globalChannels: [16] });
    return mobileViGConfig(checkConfigFields(raw, example, ['localBlocks', 'localChannels', 'globalBlocks', 'globalChannels'], where, BOUNDS) as MobileViGConfig);
  },

  build(config, { resolution, batch = 1, name = 'mobilevig' }) {
    this.checkResolution(config, resolution, name);
    const b = new GraphBuilder(name);
    let x = b.input('image', [batch, 3, resolution, resolution]);
    x = b.within('stem', () => b.within('stem', () => stem(b, x, config.localChannels[0])));

    let index = 0;
    b.within('local_backbone', () => {
      config.localBlocks.forEach((blocks, stage) => {
        if (stage > 0) x = b.within(index++, () => downsample(b, x, config.localChannels[stage]));
        for (let i = 0; i < blocks; i++) x = b.within(index++, () => invertedResidual(b, x));
      });
      // The transition from the convolutional to the graph stages.
      x = b.within(index++, () => downsample(b, x, config.globalChannels[0]));
    });

    index = 0;
    b.within('backbone', () => {
      config.globalBlocks.forEach((blocks, stage) => {
        if (stage > 0) x = b.within(index++, () => downsample(b, x, config.globalChannels[stage]));
        for (let i = 0; i < blocks; i++) {
          x = b.within(index++, () => {
            const mixed = b.within(0, () => grapher(b, x, config.k));
            return b.within(1, () => ffn(b, mixed));
          });
        }
      });
    });

    // AdaptiveAvgPool2d(1), then a 1x1 conv, BN and GELU on the [B, C, 1, 1] map.
    const pooled = b.mean(x, [2, 3], true);
    const features = b.within('prediction', () => b.gelu(b.batchNorm(2, b.conv(1, pooled, { out: config.embDims }), BN_EPS), 3));
    b.output(heads(b, features, config), 'logits');
    return b.finish();
  },
};

/** `stem.stem.{0..5}`: two stride-2 3x3 convs, each with BN and GELU. */
function stem(b: GraphBuilder, x: Value, width: number): Value {
  let y = b.gelu(b.batchNorm(1, b.conv(0, x, { out: Math.floor(width / 2), kernel: 3, stride: 2, pad: 1 }), BN_EPS), 2);
  y = b.conv(3, y, { out: width, kernel: 3, stride: 2, pad: 1 });
  return b.gelu(b.batchNorm(4, y, BN_EPS), 5);
}

/** `conv.0` a stride-2 3x3 conv, `conv.1` its BN; no activation. */
function downsample(b: GraphBuilder, x: Value, out: number): Value {
  return b.within('conv', () => b.batchNorm(1, b.conv(0, x, { out, kernel: 3, stride: 2, pad: 1 }), BN_EPS));
}

/** x + layer_scale_2 * mlp(x); the mlp's one `act` module runs twice. */
function invertedResidual(b: GraphBuilder, x: Value): Value {
  const dim = x.shape[1];
  const hidden = dim * MLP_RATIO;
  const scale = b.param('layer_scale_2', [dim, 1, 1], 'layer_scale');
  const branch = b.within('mlp', () => {
    let y = b.gelu(b.batchNorm('norm1', b.conv('fc1', x, { out: hidden }), BN_EPS), 'act');
    y = b.conv('mid', y, { out: hidden, kernel: 3, pad: 1, groups: hidden });
    y = b.gelu(b.batchNorm('mid_norm', y, BN_EPS), 'act');
    return b.batchNorm('norm2', b.conv('fc2', y, { out: dim }), BN_EPS);
  });
  return b.add(x, b.mul(scale, branch));
}

/** `Sequential(1x1 conv, BN)` under `name`. */
function convBn(b: GraphBuilder, name: string, x: Value, out: number): Value {
  return b.within(name, () => b.batchNorm(1, b.conv(0, x, { out }), BN_EPS));
}

/** x + fc2(MRConv4d(fc1(x))): the graph conv sees each patch beside its max-relative feature. */
function grapher(b: GraphBuilder, x: Value, k: number): Value {
  const dim = x.shape[1];
  const y = convBn(b, 'fc1', x, dim);
  const graphed = b.within('graph_conv', () => {
    const joined = b.concat([y, maxRelative(b, y, k)], 1);
    return b.within('nn', () => b.gelu(b.batchNorm(1, b.conv(0, joined, { out: 2 * dim }), BN_EPS), 2));
  });
  return b.add(convBn(b, 'fc2', graphed, dim), x);
}

/**
 * MRConv4d's max-relative feature: max(0, max_i (y - roll(y, i))) over the shifts i = K, 2K, ...
 * below the grid size, along rows and along columns (the reference starts its running max from
 * y - y = 0). Computed as y + max(-y, rolls of -y), which is the same float for every element:
 * rounding is monotone, so max_i fl(y - r_i) = fl(y - min_i r_i), and including -y itself gives the
 * zero floor (y - y = 0). It needs one negation and one add instead of a subtraction per shift,
 * and every roll is a slice of one doubled copy along its axis rather than two slices and a concat.
 * Where the grid is too small for any shift, the result is y - y = 0, as in the reference.
 */
function maxRelative(b: GraphBuilder, y: Value, k: number): Value {
  const negated = b.scale(y, -1);
  let farthest = negated;
  for (const axis of [2, 3]) {
    const n = y.shape[axis];
    if (k >= n) continue;
    // roll(v, i)[h] = v[(h - i) mod n] = [v; v][n - i + h].
    const doubled = b.concat([negated, negated], axis);
    for (let i = k; i < n; i += k) farthest = b.max(farthest, b.slice(doubled, axis, n - i, 2 * n - i));
  }
  return b.add(y, farthest);
}

/** x + fc2(GELU(fc1(x))), each fc a 1x1 conv with BN. */
function ffn(b: GraphBuilder, x: Value): Value {
  const dim = x.shape[1];
  const hidden = convBn(b, 'fc1', x, dim * MLP_RATIO);
  return b.add(convBn(b, 'fc2', b.gelu(hidden, 'act'), dim), x);
}

/**
 * `head` and `dist_head` are 1x1 convs on the [B, emb, 1, 1] features (counted as convs); at
 * inference their average, squeezed to [B, classes]. Averaging before the squeeze is the same
 * arithmetic and lets mergeDistillationHeads make them one conv.
 */
function heads(b: GraphBuilder, features: Value, c: MobileViGConfig): Value {
  let logits = b.conv('head', features, { out: c.numClasses });
  if (c.distillation) logits = b.scale(b.add(logits, b.conv('dist_head', features, { out: c.numClasses })), 0.5);
  return b.reshape(logits, [features.shape[0], c.numClasses]);
}

/**
 * Breakdown names. Stages count from 0 over the convolutional then the graph stages; a
 * `Downsample` (found by its `conv.0` weight) leads into the next one.
 */
function mobileViGNamer(graph: Graph): BlockNamer {
  /** Stage and block of each index of a ModuleList that starts in stage `first`; its last stage. */
  const layout = (container: string, first: number) => {
    const pattern = new RegExp(`^${container}\\.(\\d+)\\.(conv\\.0\\.)?`);
    const indices = new Map<number, boolean>();
    for (const name of graph.params.keys()) {
      const m = pattern.exec(name);
      if (m) indices.set(Number(m[1]), Boolean(m[2]) || (indices.get(Number(m[1])) ?? false));
    }
    const places = new Map<number, { stage: number; block?: number }>();
    let stage = first;
    let start = 0;
    for (const [i, isDownsample] of [...indices].sort((a, b) => a[0] - b[0])) {
      if (isDownsample) {
        places.set(i, { stage: ++stage });
        start = i + 1;
      } else {
        places.set(i, { stage, block: i - start });
      }
    }
    return { places, last: stage };
  };
  const local = layout('local_backbone', 0);
  // The last local Downsample already leads into the first graph stage.
  const global = layout('backbone', local.last);
  return (path) => {
    const parts = path.split('.');
    if (parts[0] === 'stem') return { block: 'stem', stage: 'stem' };
    if (['prediction', 'head', 'dist_head'].includes(parts[0]) || parts[0].startsWith('head+')) return { block: 'head', stage: 'head' };
    const place = (parts[0] === 'local_backbone' ? local : parts[0] === 'backbone' ? global : undefined)?.places.get(Number(parts[1]));
    if (!place) return undefined;
    if (place.block === undefined) return { block: `downsample ${place.stage - 1}->${place.stage}`, stage: `downsample ${place.stage - 1}->${place.stage}` };
    const stage = `stage ${place.stage}`;
    const part = parts[0] === 'local_backbone' ? (parts[2] === 'mlp' ? 'mlp' : 'residual') : parts[2] === '0' ? 'grapher' : parts[2] === '1' ? 'ffn' : 'residual';
    return { block: `${stage} · block ${place.block} · ${part}`, stage: `${stage} · ${part}` };
  };
}

/** Where MobileViG was measured: the paper's abstract, iPhone 13 mini NPU, compiled with Core ML. */
const IPHONE_13_MINI = 'iPhone 13 mini, Core ML';

// Top-1, params and GMACs: the paper's table as RepViT (arXiv 2307.09283, Table 1) quotes it;
// latency: the abstract gives only Ti's and B's. No countNote: the repository counts with
// util/profile.py, the toolbox's own hooks (both heads included), so the figures are eformer's
// toolbox count rounded.
export const mobileViGZoo: ModelEntry[] = [
  entry({
    name: 'mobilevig_ti',
    family: mobileViG,
    config: mobileViGConfig({ localBlocks: [2, 2, 6], localChannels: [42, 84, 168], globalBlocks: [2], globalChannels: [256], embDims: 512 }),
    paper: { top1: '75.7', top1Value: 75.7, paramsM: 5.2, macsG: 0.7, latency: { ms: 0.78, device: IPHONE_13_MINI }, paramsDigits: 1, macsDigits: 1 },
  }),
  entry({
    name: 'mobilevig_s',
    family: mobileViG,
    config: mobileViGConfig({ localBlocks: [3, 3, 9], localChannels: [42, 84, 176], globalBlocks: [3], globalChannels: [256], embDims: 512 }),
    paper: { top1: '78.2', top1Value: 78.2, paramsM: 7.2, macsG: 1.0, paramsDigits: 1, macsDigits: 1 },
  }),
  entry({
    name: 'mobilevig_m',
    family: mobileViG,
    config: mobileViGConfig({ localBlocks: [3, 3, 9], localChannels: [42, 84, 224], globalBlocks: [3], globalChannels: [400], embDims: 768 }),
    paper: { top1: '80.6', top1Value: 80.6, paramsM: 14.0, macsG: 1.5, paramsDigits: 1, macsDigits: 1 },
  }),
  entry({
    name: 'mobilevig_b',
    family: mobileViG,
    config: mobileViGConfig({ localBlocks: [5, 5, 15], localChannels: [42, 84, 240], globalBlocks: [5], globalChannels: [464], embDims: 768 }),
    paper: { top1: '82.6', top1Value: 82.6, paramsM: 26.7, macsG: 2.8, latency: { ms: 2.3, device: IPHONE_13_MINI }, paramsDigits: 1, macsDigits: 1 },
  }),
];
