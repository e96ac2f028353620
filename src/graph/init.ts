/**
 * Deterministic random weights for exporting without a checkpoint. Every parameter gets its
 * own stream seeded from (seed, name), so values do not depend on build order. Statistics are
 * deliberately far from PyTorch's init (BN running stats, layer scales, attention biases) so
 * that folding passes are exercised on non-trivial numbers.
 */
import { type Graph, numel, type Param } from './ir.js';

/** FNV-1a over the name, mixed with the seed. */
function hashSeed(seed: number, name: string): number {
  let h = 0x811c9dc5 ^ seed;
  for (let i = 0; i < name.length; i++) {
    h ^= name.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** Range [lo, hi) that each role draws from. Weights use a fan-in scaled symmetric range. */
function range(p: Param): [number, number] {
  switch (p.role) {
    case 'conv_weight':
    case 'linear_weight': {
      const fanIn = numel(p.shape.slice(1));
      const a = Math.sqrt(3 / fanIn);
      return [-a, a];
    }
    case 'conv_bias':
    case 'linear_bias':
    case 'bn_bias':
    case 'ln_bias':
    case 'bn_running_mean':
      return [-0.2, 0.2];
    case 'bn_weight':
    case 'ln_weight':
    case 'scale_factor':
      return [0.5, 1.5];
    case 'bn_running_var':
      return [0.5, 2];
    case 'layer_scale':
      return [0.1, 0.6];
    case 'attention_biases':
      return [-1, 1];
    case 'position_embedding':
    case 'ssm_direction_bias':
      return [-0.5, 0.5];
    // A = -exp(A_log) from -0.37 to -7.4: slow and fast decays (S4D's init spans -1 to -16).
    case 'ssm_a_log':
      return [-1, 2];
    case 'ssm_d':
      return [0.5, 1.5];
    default:
      return [0, 0];
  }
}

export function randomizeWeights(graph: Graph, seed = 0): void {
  for (const p of graph.params.values()) {
    // Constants the graph derived (masks, index tables) keep their values.
    if (p.dtype !== 'float32' || p.role === 'constant') continue;
    const [lo, hi] = range(p);
    p.data = uniform(numel(p.shape), hashSeed(seed, p.name), lo, hi - lo);
  }
}

/**
 * n draws of lo + span * U[0, 1) from mulberry32 seeded with `seed`: the same numbers as calling
 * mulberry32(seed)() n times, with the generator inlined, because a closure call per element
 * cost 1.4 s on efficientformer_l7's 82 M weights.
 */
function uniform(n: number, seed: number, lo: number, span: number): Float32Array {
  const data = new Float32Array(n);
  let a = seed >>> 0;
  for (let i = 0; i < n; i++) {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    data[i] = lo + span * (((t ^ (t >>> 14)) >>> 0) / 4294967296);
  }
  return data;
}
