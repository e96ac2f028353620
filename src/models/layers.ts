/**
 * Building blocks shared by several families: the snap-research EfficientFormer lineage's
 * attention bias, stem, EfficientFormerV2-style FFN and embedding, distilled head and module
 * layout, and the toolbox's attention hook.
 */
import type { GraphBuilder } from '../graph/builder.js';
import type { Graph, Value } from '../graph/ir.js';
import type { BlockNamer } from './family.js';

/**
 * Relative-position bias indices. Offsets (|dy|, |dx|) between every query point and every
 * key point are numbered in order of first appearance, scanning queries then keys row-major;
 * a query point (y, x) on a coarse grid sits at (y * step, x * step) on the key grid.
 */
export function attentionBiasIndices(queryRes: number, keyRes: number, step = 1): { idxs: BigInt64Array; offsets: number } {
  const numbering = new Map<string, number>();
  const idxs = new BigInt64Array(queryRes * queryRes * keyRes * keyRes);
  let i = 0;
  for (let qy = 0; qy < queryRes; qy++) {
    for (let qx = 0; qx < queryRes; qx++) {
      for (let ky = 0; ky < keyRes; ky++) {
        for (let kx = 0; kx < keyRes; kx++) {
          const key = `${Math.abs(qy * step - ky)},${Math.abs(qx * step - kx)}`;
          let id = numbering.get(key);
          if (id === undefined) {
            id = numbering.size;
            numbering.set(key, id);
          }
          idxs[i++] = BigInt(id);
        }
      }
    }
  }
  return { idxs, offsets: numbering.size };
}

/**
 * How many offsets attentionBiasIndices numbers, without building the table: the pairs (|dy|, |dx|)
 * are every pair of the distinct |q * step - k| along one axis (rows and columns range alike).
 */
export function attentionBiasOffsetCount(queryRes: number, keyRes: number, step = 1): number {
  const distances = new Set<number>();
  for (let q = 0; q < queryRes; q++) for (let k = 0; k < keyRes; k++) distances.add(Math.abs(q * step - k));
  return distances.size ** 2;
}

/** `attention_biases[:, attention_bias_idxs]` as parameters of the current module. */
export function attentionBias(b: GraphBuilder, heads: number, queryRes: number, keyRes: number, step = 1): Value {
  const table = b.param('attention_biases', [heads, attentionBiasOffsetCount(queryRes, keyRes, step)], 'attention_biases');
  const nq = queryRes * queryRes;
  const nk = keyRes * keyRes;
  // The index table is nq x nk int64: made only once the builder knows it fits.
  const index = b.param('attention_bias_idxs', [nq, nk], 'attention_bias_idxs', {
    dtype: 'int64',
    trainable: false,
    data: () => attentionBiasIndices(queryRes, keyRes, step).idxs,
  });
  return b.gather(table, index, 1);
}

/** Two stride-2 3x3 convs with BN and an activation: `patch_embed.{0..5}`. */
export function stem(b: GraphBuilder, x: Value, width: number, act: (v: Value, name: number) => Value): Value {
  return b.within('patch_embed', () => {
    let y = b.conv(0, x, { out: width / 2, kernel: 3, stride: 2, pad: 1 });
    y = act(b.batchNorm(1, y), 2);
    y = b.conv(3, y, { out: width, kernel: 3, stride: 2, pad: 1 });
    return act(b.batchNorm(4, y), 5);
  });
}

/**
 * EfficientFormerV2's `Mlp` with its mid conv (VCMamba reuses the class): 1x1 conv -> BN -> GELU ->
 * depthwise 3x3 -> BN -> GELU -> 1x1 conv -> BN, hidden width int(dim * ratio). One `act` module, called twice.
 */
export function midConvMlp(b: GraphBuilder, x: Value, ratio: number, eps: number): Value {
  const dim = x.shape[1];
  const hidden = Math.trunc(dim * ratio);
  let y = b.gelu(b.batchNorm('norm1', b.conv('fc1', x, { out: hidden }), eps), 'act');
  y = b.conv('mid', y, { out: hidden, kernel: 3, pad: 1, groups: hidden });
  y = b.gelu(b.batchNorm('mid_norm', y, eps), 'act');
  return b.batchNorm('norm2', b.conv('fc2', y, { out: dim }), eps);
}

/** EfficientFormerV2's `FFN` block: `x + layer_scale_2 * mlp(x)`, the scale a [C, 1, 1] parameter. */
export function layerScaledFfn(b: GraphBuilder, x: Value, ratio: number, eps: number): Value {
  const ls2 = b.param('layer_scale_2', [x.shape[1], 1, 1], 'layer_scale');
  return b.add(x, b.mul(ls2, b.within('mlp', () => midConvMlp(b, x, ratio, eps))));
}

/** The `Embedding` between stages: a stride-2 3x3 conv `proj` and BN `norm`. */
export function convEmbedding(b: GraphBuilder, x: Value, outDim: number, eps: number): Value {
  return b.batchNorm('norm', b.conv('proj', x, { out: outDim, kernel: 3, stride: 2, pad: 1 }), eps);
}

/** `head` and `dist_head` on pooled features; at inference their average. */
export function distilledHead(b: GraphBuilder, pooled: Value, classes: number, distillation: boolean): Value {
  const head = b.linear('head', pooled, classes);
  if (!distillation) return head;
  const dist = b.linear('dist_head', pooled, classes);
  return b.scale(b.add(head, dist), 0.5);
}

/** The largest power-of-two downsampling keeps `ceil`: what a chain of stride-2 convs gives. */
export function downsampled(resolution: number, times: number): number {
  let r = resolution;
  for (let i = 0; i < times; i++) r = Math.ceil(r / 2);
  return r;
}

/** The toolbox hook of an attention module: key_dim*N*N2*heads + dh*N*N2 (N queries, N2 keys). */
export function toolboxAttentionMacs(a: { keyDim: number; heads: number; N: number; N2: number; dh: number }): number {
  return a.keyDim * a.N * a.N2 * a.heads + a.dh * a.N * a.N2;
}

/** Subtotal groups of an indexed top-level container (`network.3`, `features.7`); otherwise the first path segment. */
export function groupByIndex(container: string): (modulePath: string) => string {
  return (module) => {
    const parts = module.split('.');
    if (parts[0] === container && parts.length > 1) return `${parts[0]}.${parts[1]}`;
    return parts[0] || '(graph)';
  };
}

/**
 * Breakdown names for the snap-research layout: `patch_embed` is the stem, `network.<2i>` stage
 * i, `network.<2i+1>` the embedding into stage i+1, `norm` and the heads the head. A block's
 * token mixer is attention when the graph recorded an attention module there, else pooling.
 */
export function snapLayoutNamer(graph: Graph): BlockNamer {
  const attentionModules = new Set(graph.modules.map((m) => m.path));
  return (path) => {
    const parts = path.split('.');
    if (parts[0] === 'patch_embed') return { block: 'stem', stage: 'stem' };
    if (['norm', 'head', 'dist_head'].includes(parts[0]) || parts[0].startsWith('head+')) return { block: 'head', stage: 'head' };
    if (parts[0] !== 'network' || parts[1] === undefined) return undefined;
    const index = Number(parts[1]);
    if (index % 2 === 1) {
      const into = (index + 1) / 2;
      const part = parts[2] === 'attn' ? 'attention' : 'conv';
      return { block: `embedding ${into - 1}->${into} · ${part}`, stage: `embedding ${into - 1}->${into}` };
    }
    const stage = `stage ${index / 2}`;
    if (parts[2] === undefined) return { block: stage, stage };
    const blockPath = parts.slice(0, 3).join('.');
    const part = parts[3] === 'token_mixer' ? (attentionModules.has(`${blockPath}.token_mixer`) ? 'attention' : 'pooling') : parts[3] === 'mlp' ? 'mlp' : parts[3] ? 'norm' : 'residual + layout';
    return { block: `${stage} · block ${parts[2]} · ${part}`, stage: `${stage} · ${part}` };
  };
}

/**
 * The blocks of the snap-research layout, as latency tables time them: the stem, each block of
 * each stage (`network.<2i>.<j>`), each embedding (`network.<2i+1>`), and the head (final norm,
 * pooling and classifiers).
 */
export function snapBlockOf(path: string): string {
  const parts = path.split('.');
  if (parts[0] === 'patch_embed') return 'stem';
  if (parts[0] !== 'network' || parts[1] === undefined) return 'head';
  const index = Number(parts[1]);
  return index % 2 === 1 || parts[2] === undefined ? `network.${index}` : `network.${index}.${parts[2]}`;
}
