/**
 * VCMamba (ICCV 2025 workshop): an EfficientFormerV2-style CNN (ReLU stem, FFN blocks with a
 * depthwise mid conv, conv embeddings) whose last stage ends in multi-directional Mamba blocks
 * (PlainMambaLayer): a learned position embedding is added to the 7x7 stage-3 map, then each
 * block runs a selective scan over the grid in four snake orders. Names follow
 * Wertyuui345/VCMamba's `model/mambacnn.py` and `model/plain_mamba_layer.py` state_dicts.
 */
import { UsageError } from '../../core/errors.js';
import { IMAGENET_MEAN, IMAGENET_STD } from '../../data/imagenet.js';
import { GraphBuilder } from '../../graph/builder.js';
import type { Graph, Value } from '../../graph/ir.js';
import { checkConfigFields, type ConfigBounds, depths, perStage, RANGES } from '../config-json.js';
import { type BlockNamer, entry, type ModelEntry, type ModelFamily } from '../family.js';
import { convEmbedding, distilledHead, downsampled, groupByIndex, layerScaledFfn, midConvMlp, snapLayoutNamer, stem } from '../layers.js';
import { DIRECTION_CODES, fourDirectionScan, SCAN_LOWERINGS, type ScanLowering } from './scan.js';

export type { ScanLowering } from './scan.js';

export interface VCMambaConfig {
  /** Channels of the four stages. */
  widths: number[];
  depths: number[];
  /** PlainMambaLayers at the end of the last stage (`vit_num`); the other blocks are FFNs. */
  mambaBlocks: number;
  /** Hidden width of every MLP over its input width (`mlp_ratios`). */
  mlpRatio: number;
  /**
   * Side of `pos_embed`: the constructor's `resolution // 32`, 7 for the released models (built
   * at 224). The stage-3 grid of the input must have this size.
   */
  posEmbedGrid: number;
  numClasses: number;
  distillation: boolean;
  /** How the selective scan is lowered (same parameters, same numbers; see scan.ts). */
  scan: ScanLowering;
}

/** BatchNorm2d and LayerNorm defaults, never changed by the reference. */
const EPS = 1e-5;
/** PlainMamba2D's defaults (PlainMambaLayer passes none of them). */
const D_STATE = 16;
const EXPAND = 2;
const CONV_SIZE = 7;

export function vcmambaConfig(c: Pick<VCMambaConfig, 'widths' | 'depths' | 'mambaBlocks'> & Partial<VCMambaConfig>): VCMambaConfig {
  const config: VCMambaConfig = { mlpRatio: 4, posEmbedGrid: 7, numClasses: 1000, distillation: true, scan: 'unrolled', ...c };
  if (config.widths.length !== 4 || config.depths.length !== 4) throw new UsageError('VCMamba has four stages: widths and depths need 4 entries');
  if (config.widths[0] % 2) throw new UsageError(`widths[0] must be even (the stem's first conv makes half as many channels), got ${config.widths[0]}`);
  // The reference runs blocks depth-vit_num .. depth-1 in one go, so with fewer blocks than
  // vit_num it would run some twice; with none, pos_embed would be unused.
  if (!Number.isInteger(config.mambaBlocks) || config.mambaBlocks < 1 || config.mambaBlocks > config.depths[3]) {
    throw new UsageError(`mambaBlocks must be 1 to depths[3] (${config.depths[3]}), got ${config.mambaBlocks}`);
  }
  if (!SCAN_LOWERINGS.includes(config.scan)) throw new UsageError(`scan must be ${SCAN_LOWERINGS.map((s) => `'${s}'`).join(', ')}, got '${config.scan}'`);
  return config;
}

/** What a `--config` file may hold. */
const BOUNDS: ConfigBounds<VCMambaConfig> = {
  widths: perStage(RANGES.width),
  depths: depths(),
  mambaBlocks: RANGES.blocks,
  mlpRatio: RANGES.ratio,
  posEmbedGrid: RANGES.grid,
  numClasses: RANGES.classes,
};

/** Grid of stage i: the stem's two stride-2 convs and i stride-2 embeddings, each rounding up. */
const stageGrid = (resolution: number, i: number) => downsampled(resolution, i + 2);

export const vcmamba: ModelFamily<VCMambaConfig> = {
  id: 'vcmamba',
  defaultResolution: 224,
  namings: [],
  groupOf: groupByIndex('network'),
  blockNamer: mambaLayoutNamer,
  // default_cfg: crop_pct 0.9, bicubic, ImageNet mean/std (the repo's own eval transform,
  // datasets.py with --eval-crop-ratio 0.875, resizes to 256 instead).
  preprocessing: { resizeShortest: Math.floor(224 / 0.9), crop: 224, mean: IMAGENET_MEAN, std: IMAGENET_STD },

  checkResolution(config, resolution, modelName) {
    const g = config.posEmbedGrid;
    if (Number.isInteger(resolution) && resolution >= 1 && stageGrid(resolution, 3) === g) return;
    const grid = Number.isInteger(resolution) && resolution >= 1 ? `, not ${stageGrid(resolution, 3)}x${stageGrid(resolution, 3)}` : '';
    throw new UsageError(
      `${modelName} cannot take resolution ${resolution}: its position embedding is fixed to a ${g}x${g} stage-3 grid ` +
        `(ceil(R/32) must be ${g}${grid}): use ${32 * (g - 1) + 1} to ${32 * g}`,
    );
  },

  config(raw, where) {
    const example = vcmambaConfig({ widths: [8, 16, 32, 64], depths: [1, 1, 1, 1], mambaBlocks: 1 });
    return vcmambaConfig(checkConfigFields(raw, example, ['widths', 'depths', 'mambaBlocks'], where, BOUNDS) as VCMambaConfig);
  },

  build(config, { resolution, batch = 1, name = 'vcmamba' }) {
    this.checkResolution(config, resolution, name);
    const b = new GraphBuilder(name);
    let x = b.input('image', [batch, 3, resolution, resolution]);
    const g = config.posEmbedGrid;
    const posEmbed = b.param('pos_embed', [1, config.widths[3], g, g], 'position_embedding');
    x = stem(b, x, config.widths[0], (v) => b.relu(v));
    b.within('network', () => {
      for (let i = 0; i < 4; i++) {
        x = b.within(2 * i, () => stage(b, x, config, i, posEmbed));
        if (i < 3) x = b.within(2 * i + 1, () => convEmbedding(b, x, config.widths[i + 1], EPS));
      }
    });
    const [, channels, h, w] = x.shape;
    const tokens = b.transpose(b.reshape(x, [batch, channels, h * w]), [0, 2, 1]);
    const pooled = b.mean(b.layerNorm('norm', tokens, EPS), [1]);
    b.output(distilledHead(b, pooled, config.numClasses, config.distillation), 'logits');
    return b.finish();
  },
};

function stage(b: GraphBuilder, x: Value, c: VCMambaConfig, index: number, posEmbed: Value): Value {
  const depth = c.depths[index];
  const firstMamba = index === 3 ? depth - c.mambaBlocks : depth;
  for (let block = 0; block < depth; block++) {
    if (block === firstMamba) x = b.add(x, posEmbed);
    x = b.within(block, () => (block >= firstMamba ? plainMambaLayer(b, x, c) : layerScaledFfn(b, x, c.mlpRatio, EPS)));
  }
  return x;
}

/** `x + mamba(norm(x))`, then `x + mlp(norm2(x))`: BatchNorms in front, no layer scale. */
function plainMambaLayer(b: GraphBuilder, x: Value, c: VCMambaConfig): Value {
  const normed = b.batchNorm('norm', x, EPS);
  x = b.add(x, b.within('mamba', () => plainMamba2d(b, normed, c)));
  const normed2 = b.batchNorm('norm2', x, EPS);
  return b.add(x, b.within('mlp', () => midConvMlp(b, normed2, c.mlpRatio, EPS)));
}

/**
 * 1x1 conv + BN to E = 2C channels, depthwise 7x7 + SiLU, tokens row-major; x_proj gives Δ's
 * low-rank input, B and C; Δ = softplus(dt_proj(dt) + dt_proj.bias) (the reference passes the
 * Linear's bias again as the scan's delta_bias); the four-direction scan; LayerNorm over E;
 * back to the grid; ReLU, 1x1 conv + BN to C.
 */
function plainMamba2d(b: GraphBuilder, x: Value, c: VCMambaConfig): Value {
  const [batch, channels, H, W] = x.shape;
  const E = EXPAND * channels;
  const R = Math.ceil(channels / 16);
  const L = H * W;
  const inner = b.within('in_conv', () => b.batchNorm(1, b.conv(0, x, { out: E }), EPS));
  const local = b.silu(b.conv('conv2d', inner, { out: E, kernel: CONV_SIZE, pad: (CONV_SIZE - 1) / 2, groups: E }), 'act');
  const tokens = b.reshape(b.transpose(local, [0, 2, 3, 1]), [batch, L, E]);
  const [dt, B, C] = b.split(b.linear('x_proj', tokens, R + 2 * D_STATE, { bias: false }), 2, [R, D_STATE, D_STATE]);
  const delta = b.softplus(b.add(b.linear('dt_proj', dt, E), b.existingParam('dt_proj.bias')));
  const A = b.scale(b.exp(b.param('A_log', [E, D_STATE], 'ssm_a_log')), -1);
  const D = b.param('D', [E], 'ssm_d');
  const directionBs = b.param('direction_Bs', [DIRECTION_CODES, D_STATE], 'ssm_direction_bias');
  const y = fourDirectionScan(b, { u: tokens, delta, A, B, C, D, directionBs, grid: [H, W] }, c.scan);
  const normed = b.transpose(b.layerNorm('norm', y, EPS), [0, 2, 1]);
  return b.within('out_conv', () => b.batchNorm(2, b.conv(1, b.relu(b.reshape(normed, [batch, E, H, W])), { out: channels }), EPS));
}

/** The snap-research layout's names, with a Mamba block's token mixer called `mamba`. */
function mambaLayoutNamer(graph: Graph): BlockNamer {
  const snap = snapLayoutNamer(graph);
  return (path) => {
    const parts = path.split('.');
    if (parts[0] !== 'network' || parts[3] !== 'mamba') return snap(path);
    const stage = `stage ${Number(parts[1]) / 2}`;
    return { block: `${stage} · block ${parts[2]} · mamba`, stage: `${stage} · mamba` };
  };
}

/** How the README counted, against the toolbox convention, and the scan no counter sees. */
const countNote = (total: string, fvcore: string, scan: string) =>
  `README params are all parameters, dist_head included (${total}); its GMACs are fvcore's rounded (${fvcore}: fvcore counts BatchNorm, which the toolbox skips); no counter sees the selective scan (${scan} multiply-adds more)`;

export const vcmambaZoo: ModelEntry[] = [
  entry({
    name: 'vcmamba_s',
    family: vcmamba,
    config: vcmambaConfig({ widths: [32, 64, 144, 288], depths: [4, 4, 12, 8], mambaBlocks: 4 }),
    paper: { top1: '78.7', top1Value: 78.7, paramsM: 10.5, macsG: 1.1, paramsDigits: 1, macsDigits: 1, countNote: countNote('10.48 M', '1.06 G', '14.5 M') },
  }),
  entry({
    name: 'vcmamba_m',
    family: vcmamba,
    config: vcmambaConfig({ widths: [48, 96, 224, 448], depths: [4, 4, 12, 6], mambaBlocks: 4 }),
    paper: { top1: '81.5', top1Value: 81.5, paramsM: 21.0, macsG: 2.3, paramsDigits: 1, macsDigits: 1, countNote: countNote('21.07 M, printed truncated', '2.30 G', '22.5 M') },
  }),
  entry({
    name: 'vcmamba_b',
    family: vcmamba,
    config: vcmambaConfig({ widths: [64, 128, 320, 512], depths: [4, 4, 12, 6], mambaBlocks: 4 }),
    paper: { top1: '82.6', top1Value: 82.6, paramsM: 31.5, macsG: 4.0, paramsDigits: 1, macsDigits: 1, countNote: countNote('31.45 M', '3.99 G', '25.7 M') },
  }),
];
