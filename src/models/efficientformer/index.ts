/**
 * EfficientFormer (V1, NeurIPS 2022): 4-D MetaBlocks with pooling mixers, then 3-D
 * attention blocks at the end of the last stage. Parameter names follow the released
 * snap-research checkpoints.
 */
import { UsageError } from '../../core/errors.js';
import { IMAGENET_MEAN, IMAGENET_STD } from '../../data/imagenet.js';
import { GraphBuilder } from '../../graph/builder.js';
import type { Value } from '../../graph/ir.js';
import { checkConfigFields, type ConfigBounds, depths, perStage, RANGES, whole } from '../config-json.js';
import { entry, IPHONE_12, type ModelEntry, type ModelFamily } from '../family.js';
import { attentionBias, distilledHead, downsampled, groupByIndex, snapBlockOf, snapLayoutNamer, stem, toolboxAttentionMacs } from '../layers.js';
import { readHfConfig } from './hf-config.js';
import { huggingFaceNaming, timmNaming } from './naming.js';
import { type EfficientFormerConfig, efficientFormerConfig } from './config.js';

export { type EfficientFormerConfig, efficientFormerConfig };

/** Stride-2 convs between the input and the last stage: the stem's two and one embedding per later stage (five for four stages). */
const strideSteps = (config: EfficientFormerConfig) => config.hiddenSizes.length + 1;

/** What a `--config` file may hold (the Hugging Face reader applies the same ranges). */
const BOUNDS: ConfigBounds<EfficientFormerConfig> = {
  hiddenSizes: perStage(RANGES.width),
  depths: depths(1),
  numMeta3dBlocks: whole(0, RANGES.blocks.max),
  mlpExpansionRatio: RANGES.ratio,
  poolSize: RANGES.kernel,
  keyDim: RANGES.keyDim,
  numAttentionHeads: RANGES.heads,
  attentionRatio: RANGES.ratio,
  resolution: RANGES.grid,
  numClasses: RANGES.classes,
  layerNormEps: RANGES.eps,
  batchNormEps: RANGES.eps,
};

export const efficientFormer: ModelFamily<EfficientFormerConfig> = {
  id: 'efficientformer',
  defaultResolution: 224,
  namings: [huggingFaceNaming, timmNaming],
  groupOf: groupByIndex('network'),
  blockNamer: snapLayoutNamer,
  // Hugging Face's EfficientFormerImageProcessor with the released checkpoints' settings.
  preprocessing: { resizeShortest: 256, crop: 224, mean: IMAGENET_MEAN, std: IMAGENET_STD },
  hfConfig: { modelTypes: ['efficientformer'], read: readHfConfig },

  checkResolution(config, resolution, modelName) {
    if (!Number.isInteger(resolution) || resolution < 1) throw new UsageError(`resolution must be a positive integer, got ${resolution}`);
    if (config.numMeta3dBlocks === 0) return;
    const grid = config.resolution;
    if (downsampled(resolution, strideSteps(config)) !== grid) {
      const step = 2 ** strideSteps(config);
      const lo = step * (grid - 1) + 1;
      const hi = step * grid;
      throw new UsageError(
        `${modelName} cannot take resolution ${resolution}: its attention is fixed to a ${grid}x${grid} grid, ` +
          `so the input must be ${lo} to ${hi} pixels (default ${hi})`,
      );
    }
  },

  searchSpace: {
    // Around l1, l3 and l7. The attention's 7x7 grid ties the space to inputs of 193 to 224.
    defaultSpace: {
      resolution: 224,
      stages: [
        { widths: [48, 64, 96], depths: [2, 3, 4, 6], ratios: [4] },
        { widths: [96, 128, 192], depths: [2, 4, 6], ratios: [4] },
        { widths: [224, 320, 384], depths: [6, 9, 12, 18], ratios: [4] },
        { widths: [448, 512, 768], depths: [2, 4, 6, 8], ratios: [4] },
      ],
      attention: [0, 1, 2, 4, 6, 8],
    },
    attentionStages: [3],
    perBlockRatios: false,
    blockOf: snapBlockOf,
    configOf: (p) => efficientFormerConfig({ hiddenSizes: p.widths, depths: p.depths, numMeta3dBlocks: p.attention, mlpExpansionRatio: p.ratios[0][0] }),
    pointOf: (c) => ({ widths: c.hiddenSizes, depths: c.depths, ratios: c.depths.map((d) => Array(d).fill(c.mlpExpansionRatio)), attention: c.numMeta3dBlocks }),
  },

  config(raw, where) {
    const example = efficientFormerConfig({ hiddenSizes: [48], depths: [1], numMeta3dBlocks: 0 });
    return efficientFormerConfig(checkConfigFields(raw, example, ['hiddenSizes', 'depths', 'numMeta3dBlocks'], where, BOUNDS) as EfficientFormerConfig);
  },

  build(config, { resolution, batch = 1, name = 'efficientformer' }) {
    this.checkResolution(config, resolution, name);
    const b = new GraphBuilder(name);
    let x = b.input('image', [batch, 3, resolution, resolution]);
    x = stem(b, x, config.hiddenSizes[0], (v) => b.relu(v));
    const stages = config.hiddenSizes.length;
    b.within('network', () => {
      for (let i = 0; i < stages; i++) {
        x = b.within(2 * i, () => stage(b, x, config, i));
        if (i < stages - 1) {
          x = b.within(2 * i + 1, () => {
            const y = b.conv('proj', x, { out: config.hiddenSizes[i + 1], kernel: 3, stride: 2, pad: 1 });
            return b.batchNorm('norm', y, config.batchNormEps);
          });
        }
      }
    });
    if (x.shape.length === 4) x = flat(b, x);
    x = b.layerNorm('norm', x, config.layerNormEps);
    const pooled = b.mean(x, [1]);
    b.output(distilledHead(b, pooled, config.numClasses, config.distillation), 'logits');
    return b.finish();
  },
};

function stage(b: GraphBuilder, x: Value, c: EfficientFormerConfig, index: number): Value {
  const depth = c.depths[index];
  const last = index === c.depths.length - 1;
  const attentionBlocks = last ? c.numMeta3dBlocks : 0;
  let slot = 0;
  if (last && attentionBlocks === depth) x = b.within(slot++, () => flat(b, x));
  for (let block = 0; block < depth; block++) {
    if (depth - block <= attentionBlocks) {
      x = b.within(slot++, () => meta3d(b, x, c));
    } else {
      x = b.within(slot++, () => meta4d(b, x, c));
      if (last && depth - block - 1 === attentionBlocks && attentionBlocks > 0) x = b.within(slot++, () => flat(b, x));
    }
  }
  return x;
}

/** [B, C, H, W] -> [B, HW, C]. */
function flat(b: GraphBuilder, x: Value): Value {
  const [n, c, h, w] = x.shape;
  return b.transpose(b.reshape(x, [n, c, h * w]), [0, 2, 1]);
}

function meta4d(b: GraphBuilder, x: Value, c: EfficientFormerConfig): Value {
  const dim = x.shape[1];
  const ls1 = b.param('layer_scale_1', [dim], 'layer_scale', { viewShape: [dim, 1, 1] });
  const ls2 = b.param('layer_scale_2', [dim], 'layer_scale', { viewShape: [dim, 1, 1] });
  const mixed = b.within('token_mixer', () => {
    const pad = Math.floor(c.poolSize / 2);
    const pooled = b.avgPool(x, { kernel: c.poolSize, stride: 1, pad, countIncludePad: false }, 'pool');
    return b.sub(pooled, x);
  });
  x = b.add(x, b.mul(ls1, mixed));
  const mlp = b.within('mlp', () => {
    let y = b.batchNorm('norm1', b.conv('fc1', x, { out: Math.trunc(dim * c.mlpExpansionRatio) }), c.batchNormEps);
    y = b.gelu(y, 'act');
    return b.batchNorm('norm2', b.conv('fc2', y, { out: dim }), c.batchNormEps);
  });
  return b.add(x, b.mul(ls2, mlp));
}

function meta3d(b: GraphBuilder, x: Value, c: EfficientFormerConfig): Value {
  const dim = x.shape[2];
  const ls1 = b.param('layer_scale_1', [dim], 'layer_scale');
  const ls2 = b.param('layer_scale_2', [dim], 'layer_scale');
  const normed1 = b.layerNorm('norm1', x, c.layerNormEps);
  const attn = b.within('token_mixer', () => attention(b, normed1, c));
  x = b.add(x, b.mul(ls1, attn));
  const normed2 = b.layerNorm('norm2', x, c.layerNormEps);
  const mlp = b.within('mlp', () => {
    const hidden = b.gelu(b.linear('fc1', normed2, Math.trunc(dim * c.mlpExpansionRatio)), 'act');
    return b.linear('fc2', hidden, dim);
  });
  return b.add(x, b.mul(ls2, mlp));
}

/** Multi-head self-attention with a learned relative-position bias, on [B, N, C]. */
function attention(b: GraphBuilder, x: Value, c: EfficientFormerConfig): Value {
  const [batch, n, dim] = x.shape;
  const heads = c.numAttentionHeads;
  const d = Math.trunc(c.attentionRatio * c.keyDim);
  const dh = d * heads;
  b.describeModule({ kind: 'Attention', macs: toolboxAttentionMacs({ keyDim: c.keyDim, heads, N: n, N2: n, dh }) });
  const qkv = b.linear('qkv', x, dh + 2 * c.keyDim * heads);
  // q | k | v are interleaved per head, not three contiguous blocks.
  const [q, k, v] = b.split(b.reshape(qkv, [batch, n, heads, 2 * c.keyDim + d]), 3, [c.keyDim, c.keyDim, d]);
  const qh = b.transpose(q, [0, 2, 1, 3]);
  const kt = b.transpose(k, [0, 2, 3, 1]);
  const vh = b.transpose(v, [0, 2, 1, 3]);
  const logits = b.add(b.scale(b.matmul(qh, kt), c.keyDim ** -0.5), attentionBias(b, heads, c.resolution, c.resolution));
  const out = b.matmul(b.softmax(logits, -1), vh);
  const merged = b.reshape(b.transpose(out, [0, 2, 1, 3]), [batch, n, dh]);
  return b.linear('proj', merged, dim);
}

export const efficientFormerZoo: ModelEntry[] = [
  entry({
    name: 'efficientformer_l1',
    family: efficientFormer,
    config: efficientFormerConfig({ hiddenSizes: [48, 96, 224, 448], depths: [3, 2, 6, 4], numMeta3dBlocks: 1 }),
    paper: { top1: '79.2 / 80.2 (1000 ep)', top1Value: 79.2, paramsM: 12.3, macsG: 1.3, latency: { ms: 1.6, device: IPHONE_12 }, paramsDigits: 1, macsDigits: 1 },
  }),
  entry({
    name: 'efficientformer_l3',
    family: efficientFormer,
    config: efficientFormerConfig({ hiddenSizes: [64, 128, 320, 512], depths: [4, 4, 12, 6], numMeta3dBlocks: 4 }),
    paper: { top1: '82.4', top1Value: 82.4, paramsM: 31.3, macsG: 3.9, latency: { ms: 3.0, device: IPHONE_12 }, paramsDigits: 1, macsDigits: 1 },
  }),
  entry({
    name: 'efficientformer_l7',
    family: efficientFormer,
    config: efficientFormerConfig({ hiddenSizes: [96, 192, 384, 768], depths: [6, 6, 18, 8], numMeta3dBlocks: 8 }),
    paper: { top1: '83.3', top1Value: 83.3, paramsM: 82.1, macsG: 10.2, latency: { ms: 7.0, device: IPHONE_12 }, paramsDigits: 1, macsDigits: 1 },
  }),
];
