/**
 * Layouts: how a TFLite tensor holds an IR value. The IR is PyTorch's (NCHW feature maps, row-major
 * everything); the TFLite graph is channels-last. A layout L is a permutation with
 * `physical = ir.permute(L)`: physical axis i is IR axis L[i]. A 4-D feature map in NHWC has
 * L = [0, 2, 3, 1]; a token sequence kept as it is has the identity.
 *
 * Tracking a layout per value instead of transposing at every IR Transpose is what makes the graph
 * channels-last end to end: an IR Transpose only changes the bookkeeping, and a Reshape is a plain
 * RESHAPE whenever the axes it merges or splits lie next to each other, in order, in the physical
 * tensor (flatten(2).transpose(1, 2) of an NCHW map is a RESHAPE of the NHWC one). A real TRANSPOSE is
 * written only where an operator needs an axis order the tensor does not have.
 */

import type { Graph } from '../graph/ir.js';

export type Layout = readonly number[];

export const identity = (rank: number): number[] => Array.from({ length: rank }, (_, i) => i);
export const NHWC: Layout = [0, 2, 3, 1];

export const sameLayout = (a: Layout, b: Layout) => a.length === b.length && a.every((x, i) => x === b[i]);
export const isIdentity = (l: Layout) => l.every((x, i) => x === i);

export function inverse(p: Layout): number[] {
  const out = new Array<number>(p.length);
  p.forEach((a, i) => (out[a] = i));
  return out;
}

/** The physical shape of an IR shape held in layout `l`. */
export const physicalShape = (shape: readonly number[], l: Layout) => l.map((a) => shape[a]);

/** The layout of `ir.permute(perm)` when `ir` is held in `l` (the same physical tensor, re-labelled). */
export function afterTranspose(l: Layout, perm: Layout): number[] {
  const inv = inverse(perm);
  return l.map((a) => inv[a]);
}

/** The layout the input of `ir.permute(perm)` must have for its output to come out in `out`. */
export const beforeTranspose = (out: Layout, perm: Layout): number[] => out.map((a) => perm[a]);

/** The TRANSPOSE permutation that takes a physical tensor from layout `from` to layout `to`. */
export function transposePerm(from: Layout, to: Layout): number[] {
  const inv = inverse(from);
  return to.map((a) => inv[a]);
}

/** True when going from `from` to `to` moves only size-1 axes: a RESHAPE then does it, no data moves. */
export function onlyUnitAxesMove(shape: readonly number[], from: Layout, to: Layout): boolean {
  const big = (l: Layout) => l.filter((a) => shape[a] !== 1);
  return sameLayout(big(from), big(to));
}

/**
 * The axes of a reshape grouped into runs whose element counts agree ([2, 3, 4] -> [6, 4] is
 * ([0, 1] -> [0]), ([2] -> [1])), over the axes of size > 1 only.
 */
function reshapeGroups(inShape: readonly number[], outShape: readonly number[]): { from: number[]; to: number[] }[] {
  const a = identity(inShape.length).filter((i) => inShape[i] !== 1);
  const b = identity(outShape.length).filter((i) => outShape[i] !== 1);
  const groups: { from: number[]; to: number[] }[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    const from = [a[i++]];
    const to = [b[j++]];
    let pa = inShape[from[0]];
    let pb = outShape[to[0]];
    while (pa !== pb) {
      if (pa < pb) {
        from.push(a[i]);
        pa *= inShape[a[i++]];
      } else {
        to.push(b[j]);
        pb *= outShape[b[j++]];
      }
    }
    groups.push({ from, to });
  }
  return groups;
}

/**
 * The layout a reshape's output has when its input, held in `l`, is reshaped as it lies in memory;
 * undefined when the reshape cannot be done that way (an axis group it merges or splits is not
 * contiguous and in order in the physical tensor). Size-1 output axes go where they keep the
 * result closest to row-major.
 */
export function reshapeLayout(inShape: readonly number[], outShape: readonly number[], l: Layout): number[] | undefined {
  const groups = reshapeGroups(inShape, outShape);
  const groupOf = new Map<number, number>();
  groups.forEach((g, k) => g.from.forEach((axis) => groupOf.set(axis, k)));
  const physical = l.filter((a) => inShape[a] !== 1);
  const order: number[] = [];
  for (let i = 0; i < physical.length; ) {
    const g = groups[groupOf.get(physical[i])!];
    // The group's input axes must follow one another, in their IR order.
    if (!g.from.every((axis, k) => physical[i + k] === axis)) return undefined;
    order.push(...g.to);
    i += g.from.length;
  }
  for (let axis = 0; axis < outShape.length; axis++) {
    if (outShape[axis] !== 1) continue;
    const at = order.findIndex((a) => a > axis);
    order.splice(at < 0 ? order.length : at, 0, axis);
  }
  return order;
}

/** Row-major data of `shape` permuted: out = data.permute(perm). */
export function transposeData<T extends Float32Array | Int8Array | Int32Array | Uint16Array>(data: T, shape: readonly number[], perm: Layout): T {
  const rank = shape.length;
  const outShape = perm.map((a) => shape[a]);
  const inStrides = new Array<number>(rank);
  for (let i = rank - 1, s = 1; i >= 0; i--) {
    inStrides[i] = s;
    s *= shape[i];
  }
  const strides = perm.map((a) => inStrides[a]);
  const out = new (data.constructor as new (n: number) => T)(data.length);
  const index = new Array<number>(rank).fill(0);
  let from = 0;
  for (let o = 0; o < out.length; o++) {
    out[o] = data[from];
    // Odometer over the output's axes, last fastest, moving `from` by the input stride of each.
    for (let d = rank - 1; d >= 0; d--) {
      if (++index[d] < outShape[d]) {
        from += strides[d];
        break;
      }
      from -= strides[d] * (outShape[d] - 1);
      index[d] = 0;
    }
  }
  return out;
}

/**
 * For each value, the layouts its readers take, best first: a conv, pool or resize takes NHWC, a
 * matmul row-major operands (its right one also with the last two axes swapped), softmax, layer norm
 * and linear any layout with their axis last; transposes, elementwise ops, slices, splits and
 * reshapes that only add or drop size-1 axes pass their outputs' wishes on to their inputs.
 * Computed backwards over the graph; the first reader that has a wish decides.
 */
export function preferences(graph: Graph): Map<string, Layout[]> {
  const wanted = new Map<string, Layout[]>();
  const wish = (value: string, layouts: Layout[]) => {
    if (layouts.length && !wanted.has(value) && !graph.params.has(value)) wanted.set(value, layouts);
  };
  const shape = (v: string) => graph.values.get(v)!.shape;
  for (const node of [...graph.nodes].reverse()) {
    const out = wanted.get(node.outputs[0]) ?? [];
    const rank = shape(node.inputs[0]).length;
    const lastAxis = (ls: Layout[]) => [...ls.filter((l) => l[l.length - 1] === rank - 1), identity(rank)];
    switch (node.op) {
      case 'Conv':
      case 'AvgPool':
      case 'Upsample':
        if (rank === 4) wish(node.inputs[0], [NHWC]);
        break;
      case 'MatMul': {
        const r = shape(node.outputs[0]).length;
        if (shape(node.inputs[0]).length === r) wish(node.inputs[0], [identity(r)]);
        if (shape(node.inputs[1]).length === r) wish(node.inputs[1], [identity(r), [...identity(r - 2), r - 1, r - 2]]);
        break;
      }
      case 'Softmax':
      case 'LayerNorm':
      case 'Linear':
        wish(node.inputs[0], lastAxis(out));
        break;
      case 'Transpose':
        wish(node.inputs[0], out.map((l) => beforeTranspose(l, node.perm)));
        break;
      case 'Split': {
        const lists = node.outputs.map((o) => wanted.get(o) ?? []);
        wish(node.inputs[0], lists[0].filter((l) => lists.every((list) => list.some((m) => sameLayout(m, l)))));
        break;
      }
      case 'Reshape': {
        const inShape = shape(node.inputs[0]);
        const outShape = shape(node.outputs[0]);
        const sameBig = inShape.filter((d) => d !== 1).join() === outShape.filter((d) => d !== 1).join();
        if (sameBig) wish(node.inputs[0], out.flatMap((l) => reshapeLayout(outShape, inShape, l) ?? []).length ? out.map((l) => reshapeLayout(outShape, inShape, l)!).filter(Boolean) : []);
        break;
      }
      case 'Gelu':
      case 'Relu':
      case 'Relu6':
      case 'Sigmoid':
      case 'Exp':
      case 'Scale':
      case 'Slice':
        wish(node.inputs[0], out);
        break;
      case 'Add':
      case 'Sub':
      case 'Mul':
      case 'Max':
        for (const i of node.inputs) if (shape(i).length === shape(node.outputs[0]).length) wish(i, out);
        break;
      default:
        break;
    }
  }
  return wanted;
}
