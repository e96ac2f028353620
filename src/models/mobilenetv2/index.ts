/**
 * MobileNetV2, the papers' latency baseline, as torchvision builds it (parameter names
 * `features.N...`, `classifier.1`).
 */
import { UsageError } from '../../core/errors.js';
import { IMAGENET_MEAN, IMAGENET_STD } from '../../data/imagenet.js';
import { GraphBuilder } from '../../graph/builder.js';
import type { Value } from '../../graph/ir.js';
import { CONFIG_LIMITS, above, checkConfigFields, type ConfigBounds, RANGES, whole } from '../config-json.js';
import { type BlockNamer, entry, IPHONE_12, type ModelEntry, type ModelFamily } from '../family.js';
import { groupByIndex } from '../layers.js';

export interface MobileNetV2Config {
  widthMult: number;
  numClasses: number;
  /** Inverted residual settings: expansion t, channels c, repeats n, first stride s. */
  settings: [number, number, number, number][];
  roundNearest: number;
}

const TORCHVISION_SETTINGS: MobileNetV2Config['settings'] = [
  [1, 16, 1, 1],
  [6, 24, 2, 2],
  [6, 32, 3, 2],
  [6, 64, 4, 2],
  [6, 96, 3, 1],
  [6, 160, 3, 2],
  [6, 320, 1, 1],
];

export function mobileNetV2Config(c: Partial<MobileNetV2Config> = {}): MobileNetV2Config {
  const config = { widthMult: 1, numClasses: 1000, settings: TORCHVISION_SETTINGS, roundNearest: 8, ...c };
  const blocks = config.settings.reduce((sum, [, , n]) => sum + n, 0);
  if (blocks > CONFIG_LIMITS.totalDepth) throw new UsageError(`settings repeat ${blocks} blocks in all; eformer builds at most ${CONFIG_LIMITS.totalDepth}`);
  return config;
}

/** What a `--config` file may hold: settings rows are [expansion t, channels c, repeats n, stride s]. */
const BOUNDS: ConfigBounds<MobileNetV2Config> = {
  widthMult: above(0, CONFIG_LIMITS.ratio),
  numClasses: RANGES.classes,
  settings: { rows: [RANGES.ratio, RANGES.width, RANGES.depth, whole(1, 2)], entries: [1, 4 * CONFIG_LIMITS.stages] },
  roundNearest: whole(1, 64),
};

/** torchvision's `_make_divisible`: round to a multiple, never dropping below 90%. */
export function makeDivisible(v: number, divisor: number): number {
  let rounded = Math.max(divisor, Math.floor((v + divisor / 2) / divisor) * divisor);
  if (rounded < 0.9 * v) rounded += divisor;
  return rounded;
}

/** `features.<n>` is one block each; the classifier is the head. */
const torchvisionNamer: BlockNamer = (path) => {
  const parts = path.split('.');
  if (parts[0] === 'classifier') return { block: 'head', stage: 'head' };
  if (parts[0] === 'features' && parts[1] !== undefined) return { block: `features.${parts[1]}`, stage: `features.${parts[1]}` };
  return undefined;
};

export const mobileNetV2: ModelFamily<MobileNetV2Config> = {
  id: 'mobilenetv2',
  defaultResolution: 224,
  // torchvision's own names are the checkpoint keys: no other naming to accept.
  namings: [],
  groupOf: groupByIndex('features'),
  blockNamer: () => torchvisionNamer,
  preprocessing: { resizeShortest: 256, crop: 224, mean: IMAGENET_MEAN, std: IMAGENET_STD },

  checkResolution(_config, resolution, modelName) {
    if (!Number.isInteger(resolution) || resolution < 32) {
      throw new UsageError(`${modelName} cannot take resolution ${resolution}: use an integer of at least 32 (default 224)`);
    }
  },

  config(raw, where) {
    return mobileNetV2Config(checkConfigFields(raw, mobileNetV2Config(), [], where, BOUNDS));
  },

  build(config, { resolution, batch = 1, name = 'mobilenetv2' }) {
    this.checkResolution(config, resolution, name);
    const b = new GraphBuilder(name);
    let x = b.input('image', [batch, 3, resolution, resolution]);
    const divisible = (v: number) => makeDivisible(v, config.roundNearest);
    let channels = divisible(32 * config.widthMult);
    const lastChannels = divisible(1280 * Math.max(1, config.widthMult));
    let index = 0;
    b.within('features', () => {
      x = b.within(index++, () => convBnRelu6(b, x, channels, 3, 2));
      for (const [t, c, n, s] of config.settings) {
        const out = divisible(c * config.widthMult);
        for (let i = 0; i < n; i++) {
          x = b.within(index++, () => invertedResidual(b, x, out, i === 0 ? s : 1, t));
          channels = out;
        }
      }
      x = b.within(index++, () => convBnRelu6(b, x, lastChannels, 1, 1));
    });
    const pooled = b.mean(x, [2, 3]);
    b.output(b.within('classifier', () => b.linear(1, pooled, config.numClasses)), 'logits');
    return b.finish();
  },
};

/** torchvision's Conv2dNormActivation: conv (no bias) `.0`, BN `.1`, ReLU6. */
function convBnRelu6(b: GraphBuilder, x: Value, out: number, kernel: number, stride: number, groups = 1): Value {
  const y = b.conv(0, x, { out, kernel, stride, pad: (kernel - 1) / 2, groups, bias: false });
  return b.relu6(b.batchNorm(1, y));
}

function invertedResidual(b: GraphBuilder, x: Value, out: number, stride: number, expand: number): Value {
  const inp = x.shape[1];
  const hidden = Math.round(inp * expand);
  const y = b.within('conv', () => {
    let i = 0;
    let h = x;
    if (expand !== 1) h = b.within(i++, () => convBnRelu6(b, h, hidden, 1, 1));
    h = b.within(i++, () => convBnRelu6(b, h, hidden, 3, stride, hidden));
    h = b.conv(i++, h, { out, bias: false });
    return b.batchNorm(i, h);
  });
  return stride === 1 && inp === out ? b.add(x, y) : y;
}

export const mobileNetV2Zoo: ModelEntry[] = [
  entry({
    name: 'mobilenetv2_100',
    family: mobileNetV2,
    config: mobileNetV2Config({ widthMult: 1.0 }),
    baseline: true,
    paper: { top1: '71.8', top1Value: 71.8, paramsM: 3.5, macsG: 0.3, latency: { ms: 1.7, device: IPHONE_12 }, paramsDigits: 1, macsDigits: 2 },
  }),
  entry({
    name: 'mobilenetv2_140',
    family: mobileNetV2,
    config: mobileNetV2Config({ widthMult: 1.4 }),
    baseline: true,
    paper: { top1: '74.7', top1Value: 74.7, paramsM: 6.1, macsG: 0.58, latency: { ms: 1.6, device: IPHONE_12 }, paramsDigits: 1, macsDigits: 2 },
  }),
];
