/**
 * PlainMamba2D's four-direction selective scan, lowered to plain tensor operators that
 * onnxruntime and the Core ML bridge both run (no Loop/Scan subgraph, no custom op).
 *
 * For each direction k the reference (mamba_ssm's selective_scan_fn) runs, over scan steps t:
 *   h_t = exp(Δ_t ⊗ A) ⊙ h_{t-1} + (Δ_t ⊙ u_{k,t}) ⊗ B_{k,t},   y_{k,t} = h_t · C_t + D ⊙ u_{k,t}
 * where only u is gathered into the direction's snake order; Δ, B and C stay in row-major token
 * order (so step t mixes the input of cell order_k[t] with the Δ, B, C of token t), and B_{k,t}
 * adds the direction table's row for the move into step t. Each y_k goes back to row-major order
 * and the four are summed. Δ and A are shared by the directions, so all four run as one batch.
 *
 * Lowerings (same parameters, same numbers to float rounding):
 * - `unrolled`: the recurrence, four nodes per step (L = H*W steps), the state kept small.
 * - `chunked`: chunks of W steps (one row of the grid, so they tile L exactly). Inside a chunk the
 *   closed form h_t = Σ_{s≤t} exp(A Σ_{s<r≤t} Δ_r) ⊙ (Δ_s u_s) ⊗ B_s as a masked matrix product;
 *   across chunks a recurrence of H steps carries the state.
 * - `parallel`: the closed form over the whole sequence (one chunk): fewest nodes, O(L²) work.
 * The closed form sums Δ over each segment with a 0/1 matrix product rather than differencing a
 * cumulative sum, so a long prefix never costs precision in a short segment's decay.
 */
import type { GraphBuilder } from '../../graph/builder.js';
import type { Value } from '../../graph/ir.js';

export type ScanLowering = 'unrolled' | 'chunked' | 'parallel';
export const SCAN_LOWERINGS: readonly ScanLowering[] = ['unrolled', 'chunked', 'parallel'];

/** The reference's direction codes: the move that led into a step. */
const START = 0;
const RIGHT = 1;
const LEFT = 2;
const UP = 3;
const DOWN = 4;
/** Rows of `direction_Bs`: one per code. */
export const DIRECTION_CODES = 5;

export interface ScanOrder {
  /** order[t]: the row-major cell read at scan step t. */
  order: number[];
  /** inverse[p]: the step at which cell p is read. */
  inverse: number[];
  /** codes[t]: the move into step t (START at t = 0). */
  codes: number[];
}

/** Cells of a boustrophedon over rows (`byRows`) or columns, the lines in `lines` order, the first walked forwards when `firstForward`. */
function snake(H: number, W: number, byRows: boolean, lines: number[], firstForward: boolean): [number, number][] {
  const length = byRows ? W : H;
  const cells: [number, number][] = [];
  lines.forEach((line, i) => {
    const forward = i % 2 === 0 ? firstForward : !firstForward;
    for (let s = 0; s < length; s++) {
      const at = forward ? s : length - 1 - s;
      cells.push(byRows ? [line, at] : [at, line]);
    }
  });
  return cells;
}

const upTo = (n: number) => Array.from({ length: n }, (_, i) => i);

/**
 * PlainMamba2D's four scan orders on an H x W grid: (1) rows top to bottom from (0, 0) going
 * right; (2) rows bottom to top, from the bottom-right going left when H is odd, else from the
 * bottom-left going right; (3) columns left to right from (0, 0) going down; (4) columns right
 * to left, from the bottom-right going up when W is odd, else from the top-right going down.
 */
export function scanOrders(H: number, W: number): ScanOrder[] {
  const paths = [
    snake(H, W, true, upTo(H), true),
    snake(H, W, true, upTo(H).reverse(), H % 2 === 0),
    snake(H, W, false, upTo(W), true),
    snake(H, W, false, upTo(W).reverse(), W % 2 === 0),
  ];
  return paths.map((cells) => {
    const order = cells.map(([i, j]) => i * W + j);
    const inverse = new Array<number>(order.length);
    order.forEach((p, t) => (inverse[p] = t));
    const codes = cells.map(([i, j], t) => {
      if (t === 0) return START;
      const [pi, pj] = cells[t - 1];
      return i > pi ? DOWN : i < pi ? UP : j > pj ? RIGHT : LEFT;
    });
    return { order, inverse, codes };
  });
}

export interface ScanInputs {
  /** The tokens the scan reads, [B, L, E], row-major. */
  u: Value;
  /** softplus(Δ + bias), [B, L, E], row-major. */
  delta: Value;
  /** -exp(A_log), [E, N]. */
  A: Value;
  /** [B, L, N], row-major. */
  B: Value;
  C: Value;
  /** [E]. */
  D: Value;
  /** [5, N]: one row per direction code. */
  directionBs: Value;
  /** The token grid [H, W]. */
  grid: [number, number];
}

/** The sum over the four directions of the scan's output, [B, L, E] in row-major order. */
export function fourDirectionScan(b: GraphBuilder, s: ScanInputs, lowering: ScanLowering): Value {
  const [batch, L, E] = s.u.shape;
  const N = s.A.shape[1];
  const [H, W] = s.grid;
  const orders = scanOrders(H, W);
  const dirs = orders.length;
  // Step-major, E innermost: [B, L, 4, E] holds step t of direction k at (t, k), so a step is
  // contiguous and broadcasts run over whole channel rows.
  const byStep = (pick: (o: ScanOrder, t: number) => number) => upTo(L).flatMap((t) => orders.map((o) => pick(o, t)));
  const u = b.reshape(b.select(s.u, 1, byStep((o, t) => o.order[t]), 'scan_order'), [batch, L, dirs, E]);
  const directionBias = b.reshape(b.select(s.directionBs, 0, byStep((o, t) => o.codes[t]), 'direction_code'), [L, dirs, N]);
  const Bk = b.add(b.reshape(s.B, [batch, L, 1, N]), directionBias);
  const deltaU = b.mul(b.reshape(s.delta, [batch, L, 1, E]), u);
  const scanned = lowering === 'unrolled' ? unrolled(b, s, deltaU, Bk) : chunked(b, s, deltaU, Bk, lowering === 'parallel' ? L : W);
  const y = b.add(scanned, b.mul(u, s.D));
  // Back to row-major cells: cell p of direction k is its step inverse_k[p].
  const cells = upTo(L).flatMap((p) => orders.map((o, k) => o.inverse[p] * dirs + k));
  const back = b.select(b.reshape(y, [batch, L * dirs, E]), 1, cells, 'scan_inverse');
  return b.sum(b.reshape(back, [batch, L, dirs, E]), [2]);
}

const ones = (n: number) => new Array<number>(n).fill(1);

/**
 * The recurrence step by step: per step, the state [B, 1, 4, N, E] decays, takes (Δ_t u_t) ⊗ B_t
 * and is read out by C_t (1 x N) @ state (N x E), so no [L, 4, N, E] tensor is ever built and
 * the state stays small enough for the cache. Returns h_t · C_t, [B, L, 4, E].
 */
function unrolled(b: GraphBuilder, s: ScanInputs, deltaU: Value, Bk: Value): Value {
  const [batch, L, dirs, E] = deltaU.shape;
  const N = s.A.shape[1];
  const steps = (v: Value, shape: number[]) => b.split(b.reshape(v, shape), 1, ones(L));
  // exp(Δ_t ⊗ A), shared by the directions: [B, 1, 1, N, E] per step.
  const decays = b.split(b.exp(b.mul(b.reshape(s.delta, [batch, L, 1, 1, E]), b.transpose(s.A, [1, 0]))), 1, ones(L));
  const deltaUs = steps(deltaU, [batch, L, dirs, 1, E]);
  const Bs = steps(Bk, [batch, L, dirs, N, 1]);
  const Cs = steps(s.C, [batch, L, 1, 1, N]);
  let h = b.mul(deltaUs[0], Bs[0]);
  const ys = [b.matmul(Cs[0], h)];
  for (let t = 1; t < L; t++) {
    h = b.add(b.mul(decays[t], h), b.mul(deltaUs[t], Bs[t]));
    ys.push(b.matmul(Cs[t], h));
  }
  return b.reshape(b.concat(ys, 1), [batch, L, dirs, E]);
}

/** A [rows, cols] float constant of the current module, derived from the grid (not PyTorch state). */
function constant(b: GraphBuilder, local: string, rows: number, cols: number, at: (r: number, c: number) => number): Value {
  const data = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) data[r * cols + c] = at(r, c);
  return b.param(local, [rows, cols], 'constant', { trainable: false, data });
}

/**
 * The closed form in chunks of `c` steps; returns h_t · C_t, [B, L, 4, E]. Lanes (e, n) are a
 * batch axis of the matrix products, directions their columns.
 */
function chunked(b: GraphBuilder, s: ScanInputs, deltaU: Value, Bk: Value, c: number): Value {
  const [batch, L, dirs, E] = deltaU.shape;
  const N = s.A.shape[1];
  const J = L / c;
  const lanes = E * N;
  const deltaByChunk = b.reshape(b.transpose(s.delta, [0, 2, 1]), [batch, E, J, c]);
  const A = b.reshape(s.A, [E, N, 1]);
  /** exp(A * sums) for sums [B, E, J, k]: [B, E, N, J * k]. */
  const decayOf = (sums: Value) => b.exp(b.mul(b.reshape(sums, [batch, E, 1, sums.shape[2] * sums.shape[3]]), A));

  // Within a chunk: K[t, s] = exp(A Σ_{s<r≤t} Δ_r) for s ≤ t, else 0.
  const segmentSums = b.matmul(deltaByChunk, constant(b, 'scan_segments', c, c * c, (r, ts) => (Math.floor(ts / c) >= r && r > ts % c ? 1 : 0)));
  const causal = constant(b, 'scan_causal_mask', c, c, (t, u) => (u <= t ? 1 : 0));
  const K = b.mul(b.reshape(decayOf(segmentSums), [batch, lanes, J, c, c]), causal);
  // [B, L, 4, X] -> [B, X, L, 4] flattened as `shape`: lanes first, steps and directions last.
  const byLane = (v: Value, shape: number[]) => b.reshape(b.transpose(v, [0, 3, 1, 2]), shape);
  const inputs = b.reshape(b.mul(byLane(deltaU, [batch, E, 1, L * dirs]), byLane(Bk, [batch, 1, N, L * dirs])), [batch, lanes, J, c, dirs]);
  const intra = b.matmul(K, inputs); // [B, E*N, J, c, 4]: each chunk's states from a zero start

  let states = intra;
  if (J > 1) {
    // The state entering chunk j decays by exp(A Σ_{start_j≤r≤t} Δ_r) up to step t of the chunk.
    const prefixSums = b.matmul(deltaByChunk, constant(b, 'scan_prefix', c, c, (r, t) => (r <= t ? 1 : 0)));
    const carryDecay = b.reshape(decayOf(prefixSums), [batch, lanes, J, c, 1]);
    const chunkDecay = b.split(b.slice(carryDecay, 3, c - 1, c), 2, ones(J));
    const chunkEnds = b.split(b.slice(intra, 3, c - 1, c), 2, ones(J));
    const entering = [chunkEnds[0]];
    for (let j = 1; j < J - 1; j++) entering.push(b.add(b.mul(chunkDecay[j], entering[j - 1]), chunkEnds[j]));
    const carried = b.mul(b.slice(carryDecay, 2, 1, J), entering.length > 1 ? b.concat(entering, 2) : entering[0]);
    states = b.concat([b.slice(intra, 2, 0, 1), b.add(b.slice(intra, 2, 1, J), carried)], 2);
  }
  const C = b.reshape(b.transpose(s.C, [0, 2, 1]), [batch, 1, N, L, 1]);
  const y = b.sum(b.mul(b.reshape(states, [batch, E, N, L, dirs]), C), [2]); // [B, E, L, 4]
  return b.transpose(y, [0, 2, 3, 1]);
}
