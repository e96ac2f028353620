/**
 * EfficientFormerV2 (ICCV 2023): all-4-D, BatchNorm everywhere, FFNs with a depthwise mid
 * conv, attention in the last two stages (strided in stage 2), and an attention
 * downsampling embedding into stage 3. Names follow the released snap-research checkpoints.
 */
import { UsageError } from '../../core/errors.js';
import { IMAGENET_MEAN, IMAGENET_STD } from '../../data/imagenet.js';
import { GraphBuilder } from '../../graph/builder.js';
import type { Value } from '../../graph/ir.js';
import { checkConfigFields, checkStageLists, type ConfigBounds, depths, perBlock, perStage, RANGES, whole } from '../config-json.js';
import { entry, IPHONE_12, type ModelEntry, type ModelFamily } from '../family.js';
import { attentionBias, convEmbedding, distilledHead, downsampled, groupByIndex, layerScaledFfn, midConvMlp, snapBlockOf, snapLayoutNamer, stem, toolboxAttentionMacs } from '../layers.js';
import { timmNaming } from './naming.js';

export interface EfficientFormerV2Config {
  widths: number[];
  depths: number[];
  /** Attention blocks at the end of stages 2 and 3: `vit_num`. */
  vitNum: number;
  /** MLP expansion ratio of every block, stage by stage. */
  expansionRatios: number[][];
  keyDim: number;
  numHeads: number;
  attnRatio: number;
  /** Attention4DDownsample's key size (the embedding into the last stage). */
  downsampleKeyDim: number;
  numClasses: number;
  distillation: boolean;
  batchNormEps: number;
}

export function efficientFormerV2Config(
  c: Pick<EfficientFormerV2Config, 'widths' | 'depths' | 'vitNum' | 'expansionRatios'> & Partial<EfficientFormerV2Config>,
): EfficientFormerV2Config {
  const config = { keyDim: 32, numHeads: 8, attnRatio: 4, downsampleKeyDim: 16, numClasses: 1000, distillation: true, batchNormEps: 1e-5, ...c };
  checkStageLists({ widths: config.widths, depths: config.depths, expansionRatios: config.expansionRatios });
  if (config.widths[0] % 2) throw new UsageError(`widths[0] must be even (the stem's first conv makes half as many channels), got ${config.widths[0]}`);
  config.depths.forEach((d, i) => {
    if (config.expansionRatios[i]?.length !== d) throw new UsageError(`expansionRatios[${i}] must have ${d} entries (the stage depth)`);
  });
  return config;
}

/** What a `--config` file may hold. */
const BOUNDS: ConfigBounds<EfficientFormerV2Config> = {
  widths: perStage(RANGES.width),
  depths: depths(1),
  vitNum: whole(0, RANGES.blocks.max),
  expansionRatios: perBlock(RANGES.ratio),
  keyDim: RANGES.keyDim,
  numHeads: RANGES.heads,
  attnRatio: RANGES.ratio,
  downsampleKeyDim: RANGES.keyDim,
  numClasses: RANGES.classes,
  batchNormEps: RANGES.eps,
};

/** Resolution of stage i: what the stem and i embeddings leave of the input. */
const stageResolution = (resolution: number, i: number) => downsampled(resolution, i + 2);

export const efficientFormerV2: ModelFamily<EfficientFormerV2Config> = {
  id: 'efficientformerv2',
  defaultResolution: 224,
  namings: [timmNaming],
  groupOf: groupByIndex('network'),
  blockNamer: snapLayoutNamer,
  preprocessing: { resizeShortest: 256, crop: 224, mean: IMAGENET_MEAN, std: IMAGENET_STD },

  checkResolution(config, resolution, modelName) {
    if (!Number.isInteger(resolution) || resolution < 1) {
      throw new UsageError(`${modelName} cannot take resolution ${resolution}: use a whole number of pixels (e.g. 224, 256, 384)`);
    }
    // Stage 2's strided attention upsamples its grid by 2 and adds it back: the stage grid must be even.
    // That is the only limit: the reference builds every attention table from ceil(R/16) and ceil(R/32),
    // and at R = 17..32 runs stage 2 at 2x2 (its strided attention at 1x1) and stage 3 at 1x1.
    const hasStage2Attention = config.depths.length > 2 && config.vitNum > 0;
    if (hasStage2Attention && stageResolution(resolution, 2) % 2 !== 0) {
      // ceil(R / 16) is even exactly for R in 32m-15 .. 32m (m >= 1): name the ranges around R.
      const m = Math.floor(resolution / 32);
      const ranges = [...(m >= 1 ? [`${32 * m - 15} to ${32 * m}`] : []), `${32 * m + 17} to ${32 * m + 32}`].join(' or ');
      throw new UsageError(
        `${modelName} cannot take resolution ${resolution}: stage 2 runs at ${stageResolution(resolution, 2)}x${stageResolution(resolution, 2)}, ` +
          `and its strided attention needs an even grid (ceil(R/16) even): use ${ranges} (e.g. 224, 256, 384)`,
      );
    }
  },

  searchSpace: {
    // Around the four published models: s0 to l in width and depth, ratios 3 or 4, up to 6 attention blocks.
    defaultSpace: {
      resolution: 224,
      stages: [
        { widths: [32, 40], depths: [2, 3, 4, 5], ratios: [3, 4] },
        { widths: [48, 64, 80], depths: [2, 3, 4, 5], ratios: [3, 4] },
        { widths: [96, 120, 144, 192], depths: [6, 9, 12, 15], ratios: [3, 4] },
        { widths: [176, 224, 288, 384], depths: [4, 6, 8, 10], ratios: [3, 4] },
      ],
      attention: [0, 1, 2, 3, 4, 5, 6],
    },
    attentionStages: [2, 3],
    perBlockRatios: true,
    blockOf: snapBlockOf,
    configOf: (p) => efficientFormerV2Config({ widths: p.widths, depths: p.depths, vitNum: p.attention, expansionRatios: p.ratios }),
    pointOf: (c) => ({ widths: c.widths, depths: c.depths, ratios: c.expansionRatios, attention: c.vitNum }),
  },

  config(raw, where) {
    const example = efficientFormerV2Config({ widths: [32], depths: [1], vitNum: 0, expansionRatios: [[4]] });
    return efficientFormerV2Config(checkConfigFields(raw, example, ['widths', 'depths', 'vitNum', 'expansionRatios'], where, BOUNDS) as EfficientFormerV2Config);
  },

  build(config, { resolution, batch = 1, name = 'efficientformerv2' }) {
    this.checkResolution(config, resolution, name);
    const b = new GraphBuilder(name);
    let x = b.input('image', [batch, 3, resolution, resolution]);
    x = stem(b, x, config.widths[0], (v, i) => b.gelu(v, i));
    const stages = config.widths.length;
    b.within('network', () => {
      for (let i = 0; i < stages; i++) {
        x = b.within(2 * i, () => stage(b, x, config, i));
        if (i === stages - 1) break;
        x = b.within(2 * i + 1, () => (i >= 2 ? attentionEmbedding(b, x, config, config.widths[i + 1]) : convEmbedding(b, x, config.widths[i + 1], config.batchNormEps)));
      }
    });
    x = b.batchNorm('norm', x, config.batchNormEps);
    const pooled = b.mean(x, [2, 3]);
    b.output(distilledHead(b, pooled, config.numClasses, config.distillation), 'logits');
    return b.finish();
  },
};

function stage(b: GraphBuilder, x: Value, c: EfficientFormerV2Config, index: number): Value {
  const depth = c.depths[index];
  for (let block = 0; block < depth; block++) {
    const ratio = c.expansionRatios[index][block];
    const attentionBlock = index >= 2 && block > depth - 1 - c.vitNum;
    x = b.within(block, () => (attentionBlock ? attnFfn(b, x, c, ratio, index === 2 ? 2 : 1) : layerScaledFfn(b, x, ratio, c.batchNormEps)));
  }
  return x;
}

function layerScale(b: GraphBuilder, name: string, dim: number): Value {
  return b.param(name, [dim, 1, 1], 'layer_scale');
}

function attnFfn(b: GraphBuilder, x: Value, c: EfficientFormerV2Config, ratio: number, stride: number): Value {
  const dim = x.shape[1];
  const ls1 = layerScale(b, 'layer_scale_1', dim);
  const ls2 = layerScale(b, 'layer_scale_2', dim);
  x = b.add(x, b.mul(ls1, b.within('token_mixer', () => attention4d(b, x, c, stride))));
  return b.add(x, b.mul(ls2, b.within('mlp', () => midConvMlp(b, x, ratio, c.batchNormEps))));
}

/** `Sequential(conv k, BN)` under `name`. */
function convBn(b: GraphBuilder, name: string, x: Value, out: number, eps: number, conv: { kernel?: number; stride?: number; pad?: number; groups?: number } = {}): Value {
  return b.within(name, () => b.batchNorm(1, b.conv(0, x, { out, ...conv }), eps));
}

/** `Sequential(GELU, 1x1 conv, BN)`: the attention output projection. */
function geluProj(b: GraphBuilder, x: Value, out: number, eps: number): Value {
  return b.within('proj', () => b.batchNorm(2, b.conv(1, b.gelu(x, 0), { out }), eps));
}

/** [B, heads * d, r, r] -> [B, heads, d, r * r]. */
function splitHeads(b: GraphBuilder, x: Value, heads: number): Value {
  const [n, ch, h, w] = x.shape;
  return b.reshape(x, [n, heads, ch / heads, h * w]);
}

function attention4d(b: GraphBuilder, x: Value, c: EfficientFormerV2Config, stride: number): Value {
  const [batch, dim, res] = x.shape;
  const heads = c.numHeads;
  const d = Math.trunc(c.attnRatio * c.keyDim);
  const dh = d * heads;
  const eps = c.batchNormEps;
  if (stride > 1) x = convBn(b, 'stride_conv', x, dim, eps, { kernel: 3, stride, pad: 1, groups: dim });
  const r = x.shape[2];
  b.describeModule({ kind: 'Attention4D', macs: toolboxAttentionMacs({ keyDim: c.keyDim, heads, N: r * r, N2: r * r, dh }) });
  const q = b.transpose(splitHeads(b, convBn(b, 'q', x, heads * c.keyDim, eps), heads), [0, 1, 3, 2]);
  const k = splitHeads(b, convBn(b, 'k', x, heads * c.keyDim, eps), heads);
  const v4 = convBn(b, 'v', x, dh, eps);
  const vLocal = convBn(b, 'v_local', v4, dh, eps, { kernel: 3, pad: 1, groups: dh });
  const v = b.transpose(splitHeads(b, v4, heads), [0, 1, 3, 2]);

  let attn = b.add(b.scale(b.matmul(q, k), c.keyDim ** -0.5), attentionBias(b, heads, r, r));
  attn = b.conv('talking_head1', attn, { out: heads });
  attn = b.softmax(attn, -1);
  attn = b.conv('talking_head2', attn, { out: heads });
  const heads4d = b.transpose(b.matmul(attn, v), [0, 1, 3, 2]);
  let out = b.add(b.reshape(heads4d, [batch, dh, r, r]), vLocal);
  if (stride > 1) {
    out = b.upsampleBilinear(out, stride, 'upsample');
    if (out.shape[2] !== res) throw new UsageError(`strided attention at ${res}x${res} cannot upsample back from ${r}x${r}`);
  }
  return geluProj(b, out, dim, eps);
}

/** Embedding into the last stage: a strided conv path plus attention with local queries. */
function attentionEmbedding(b: GraphBuilder, x: Value, c: EfficientFormerV2Config, outDim: number): Value {
  const attn = b.within('attn', () => attention4dDownsample(b, x, c, outDim));
  const conv = b.batchNorm('bn', b.conv('conv', x, { out: outDim, kernel: 3, stride: 2, pad: 1 }), c.batchNormEps);
  return b.add(attn, conv);
}

function attention4dDownsample(b: GraphBuilder, x: Value, c: EfficientFormerV2Config, outDim: number): Value {
  const [batch, dim, res] = x.shape;
  const heads = c.numHeads;
  const keyDim = c.downsampleKeyDim;
  const d = Math.trunc(c.attnRatio * keyDim);
  const dh = d * heads;
  const eps = c.batchNormEps;
  const res2 = Math.ceil(res / 2);
  b.describeModule({ kind: 'Attention4DDownsample', macs: toolboxAttentionMacs({ keyDim, heads, N: res * res, N2: res2 * res2, dh }) });

  // LGQuery: depthwise strided conv plus a strided 1x1 average pool, then a 1x1 conv + BN.
  const q4 = b.within('q', () => {
    const local = b.within('local', () => b.conv(0, x, { out: dim, kernel: 3, stride: 2, pad: 1, groups: dim }));
    const pool = b.avgPool(x, { kernel: 1, stride: 2, pad: 0, countIncludePad: true }, 'pool');
    return convBn(b, 'proj', b.add(local, pool), heads * keyDim, eps);
  });
  const q = b.transpose(splitHeads(b, q4, heads), [0, 1, 3, 2]);
  const k = splitHeads(b, convBn(b, 'k', x, heads * keyDim, eps), heads);
  const v4 = convBn(b, 'v', x, dh, eps);
  const vLocal = convBn(b, 'v_local', v4, dh, eps, { kernel: 3, stride: 2, pad: 1, groups: dh });
  const v = b.transpose(splitHeads(b, v4, heads), [0, 1, 3, 2]);

  const bias = attentionBias(b, heads, res2, res, Math.ceil(res / res2));
  const attn = b.softmax(b.add(b.scale(b.matmul(q, k), keyDim ** -0.5), bias), -1);
  const heads4d = b.transpose(b.matmul(attn, v), [0, 1, 3, 2]);
  const out = b.add(b.reshape(heads4d, [batch, dh, res2, res2]), vLocal);
  return geluProj(b, out, outDim, eps);
}

const ratios = (s: string) => s.split(' ').map((stage) => stage.split(',').map(Number));

export const efficientFormerV2Zoo: ModelEntry[] = [
  entry({
    name: 'efficientformerv2_s0',
    family: efficientFormerV2,
    config: efficientFormerV2Config({ widths: [32, 48, 96, 176], depths: [2, 2, 6, 4], vitNum: 2, expansionRatios: ratios('4,4 4,4 4,3,3,3,4,4 4,3,3,4') }),
    paper: { top1: '75.7 / 76.2', top1Value: 75.7, paramsM: 3.5, macsG: 0.4, latency: { ms: 0.9, device: IPHONE_12 }, paramsDigits: 1, macsDigits: 2 },
  }),
  entry({
    name: 'efficientformerv2_s1',
    family: efficientFormerV2,
    config: efficientFormerV2Config({ widths: [32, 48, 120, 224], depths: [3, 3, 9, 6], vitNum: 2, expansionRatios: ratios('4,4,4 4,4,4 4,4,3,3,3,3,4,4,4 4,4,3,3,4,4') }),
    paper: { top1: '79.0 / 79.7', top1Value: 79.0, paramsM: 6.1, macsG: 0.65, latency: { ms: 1.1, device: IPHONE_12 }, paramsDigits: 1, macsDigits: 2 },
  }),
  entry({
    name: 'efficientformerv2_s2',
    family: efficientFormerV2,
    config: efficientFormerV2Config({
      widths: [32, 64, 144, 288],
      depths: [4, 4, 12, 8],
      vitNum: 4,
      expansionRatios: ratios('4,4,4,4 4,4,4,4 4,4,3,3,3,3,3,3,4,4,4,4 4,4,3,3,3,3,4,4'),
    }),
    paper: { top1: '81.6 / 82.0', top1Value: 81.6, paramsM: 12.6, macsG: 1.25, latency: { ms: 1.6, device: IPHONE_12 }, paramsDigits: 1, macsDigits: 2 },
  }),
  entry({
    name: 'efficientformerv2_l',
    family: efficientFormerV2,
    config: efficientFormerV2Config({
      widths: [40, 80, 192, 384],
      depths: [5, 5, 15, 10],
      vitNum: 6,
      expansionRatios: ratios('4,4,4,4,4 4,4,4,4,4 4,4,4,4,3,3,3,3,3,3,3,4,4,4,4 4,4,4,3,3,3,3,4,4,4'),
    }),
    paper: { top1: '83.3 / 83.5', top1Value: 83.3, paramsM: 26.1, macsG: 2.56, latency: { ms: 2.7, device: IPHONE_12 }, paramsDigits: 1, macsDigits: 2 },
  }),
];
