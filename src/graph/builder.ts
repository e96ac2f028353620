/**
 * The builder API that model specs use. It keeps a stack of module names so parameters get
 * exactly the PyTorch state_dict keys (`network.0.1.mlp.fc1.weight`), and it infers every
 * output shape as the graph is built, failing at the line that made an impossible shape.
 */
import { UsageError } from '../core/errors.js';
import { type DType, type Graph, type ModuleInfo, type Node, type NodeOp, numel, type Param, type ParamRole, type Value } from './ir.js';
import { MAX_PARAMS } from './size.js';

export class ShapeError extends UsageError {}

export interface ConvOptions {
  out: number;
  kernel?: number;
  stride?: number;
  pad?: number;
  groups?: number;
  bias?: boolean;
}

export interface AvgPoolOptions {
  kernel: number;
  stride: number;
  pad: number;
  countIncludePad: boolean;
  /** PyTorch's ceil_mode: a last, partial window where the input does not divide. */
  ceilMode?: boolean;
}

export class GraphBuilder {
  private readonly path: string[] = [];
  private readonly graph: Graph;
  private counter = 0;
  /** Elements of every parameter and buffer so far: building stops at the first beyond MAX_PARAMS. */
  private paramElements = 0;

  constructor(name: string) {
    this.graph = {
      name,
      inputs: [],
      outputs: [],
      outputNames: [],
      values: new Map(),
      params: new Map(),
      nodes: [],
      modules: [],
    };
  }

  /** Run `fn` inside child module `name` (a string key or a Sequential index). */
  within<T>(name: string | number, fn: () => T): T {
    this.path.push(String(name));
    try {
      return fn();
    } finally {
      this.path.pop();
    }
  }

  get modulePath(): string {
    return this.path.join('.');
  }

  private qualified(local: string): string {
    return this.path.length ? `${this.modulePath}.${local}` : local;
  }

  /** Record facts about the current module that its nodes alone do not show. */
  describeModule(info: Omit<ModuleInfo, 'path'>): void {
    this.graph.modules.push({ path: this.modulePath, ...info });
  }

  input(name: string, shape: number[]): Value {
    const value: Value = { name, shape, dtype: 'float32' };
    this.graph.inputs.push(value);
    this.graph.values.set(name, value);
    return value;
  }

  /** Return `value` from the graph as output `name` (e.g. `logits`). */
  output(value: Value, name: string): void {
    this.graph.outputs.push(value.name);
    this.graph.outputNames.push(name);
  }

  /**
   * A parameter or buffer of the current module, named `<module>.<local>`. Data the graph derives
   * itself (index tables) is best given as a function: it runs only once the size is known to fit.
   */
  param(
    local: string,
    shape: number[],
    role: ParamRole,
    opts: { viewShape?: number[]; dtype?: DType; trainable?: boolean; data?: Param['data'] | (() => Param['data']) } = {},
  ): Value {
    const name = this.qualified(local);
    if (this.graph.params.has(name)) throw new Error(`duplicate parameter ${name}`);
    this.checkShape(`parameter ${name}`, shape);
    this.paramElements += numel(shape);
    if (this.paramElements > MAX_PARAMS) {
      const input = this.graph.inputs[0]?.shape;
      throw new ShapeError(
        `${this.graph.name}${input ? ` on a ${input.join('x')} input` : ''} has more than ${MAX_PARAMS.toLocaleString('en-US')} parameters and buffers (${name} ${JSON.stringify(shape)} brings it to ` +
          `${this.paramElements.toLocaleString('en-US')}): eformer builds models of at most ${MAX_PARAMS / 1e6} M parameters (3 times efficientformer_l7)`,
      );
    }
    const dtype = opts.dtype ?? 'float32';
    const viewShape = opts.viewShape ?? shape;
    this.graph.params.set(name, {
      name,
      shape,
      viewShape,
      dtype,
      role,
      trainable: opts.trainable ?? true,
      data: typeof opts.data === 'function' ? opts.data() : opts.data,
    });
    const value: Value = { name, shape: viewShape, dtype };
    this.graph.values.set(name, value);
    return value;
  }

  /** A parameter the current module already made, read again (VCMamba adds `dt_proj.bias` a second time). */
  existingParam(local: string): Value {
    const name = this.qualified(local);
    const value = this.graph.values.get(name);
    if (!value || !this.graph.params.has(name)) throw new Error(`no parameter ${name} yet`);
    return value;
  }

  /**
   * Every dimension a whole number of at least 1: a config whose numbers do not divide (half of an
   * odd width, a ratio that rounds a hidden width to 0) is stopped at the layer it breaks.
   */
  private checkShape(what: string, shape: number[]): void {
    if (shape.every((d) => Number.isSafeInteger(d) && d >= 1)) return;
    throw new ShapeError(`${what} would have shape [${shape.join(', ')}]: every dimension must be a whole number of at least 1 (check the config's widths and ratios)`);
  }

  private emit(op: NodeOp, inputs: Value[], outShapes: number[][], dtype: DType = 'float32'): Value[] {
    const id = this.counter++;
    const base = this.modulePath || 'graph';
    for (const shape of outShapes) this.checkShape(`${op.op} in ${base}`, shape);
    const outputs = outShapes.map((shape, i) => {
      const value: Value = { name: `${base}/${op.op}_${id}${outShapes.length > 1 ? `:${i}` : ''}`, shape, dtype };
      this.graph.values.set(value.name, value);
      return value;
    });
    const node = {
      ...op,
      name: `${base}/${op.op}_${id}`,
      module: this.modulePath,
      inputs: inputs.map((v) => v.name),
      outputs: outputs.map((v) => v.name),
    } as Node;
    this.graph.nodes.push(node);
    return outputs;
  }

  private emit1(op: NodeOp, inputs: Value[], shape: number[]): Value {
    return this.emit(op, inputs, [shape])[0];
  }

  // ---- layers with parameters (each one a PyTorch module) -------------------------------

  conv(name: string | number, x: Value, o: ConvOptions): Value {
    const [b, c, h, w] = expectRank(x, 4, 'Conv2d');
    const k = o.kernel ?? 1;
    const stride = o.stride ?? 1;
    const pad = o.pad ?? 0;
    const groups = o.groups ?? 1;
    if (c % groups || o.out % groups) throw new ShapeError(`Conv2d ${this.qualified(String(name))}: channels ${c}->${o.out} not divisible by groups ${groups}`);
    const oh = Math.floor((h + 2 * pad - k) / stride) + 1;
    const ow = Math.floor((w + 2 * pad - k) / stride) + 1;
    if (oh < 1 || ow < 1) throw new ShapeError(`Conv2d ${this.qualified(String(name))}: input ${h}x${w} is too small`);
    return this.within(name, () => {
      const weight = this.param('weight', [o.out, c / groups, k, k], 'conv_weight');
      const inputs = [x, weight];
      if (o.bias ?? true) inputs.push(this.param('bias', [o.out], 'conv_bias'));
      return this.emit1({ op: 'Conv', kernel: k, stride, pad, groups }, inputs, [b, o.out, oh, ow]);
    });
  }

  /** BatchNorm2d on [B, C, H, W], or BatchNorm1d on [B, C, N]: channels on axis 1. */
  batchNorm(name: string | number, x: Value, eps = 1e-5): Value {
    if (x.shape.length < 3 || x.shape.length > 4) throw new ShapeError(`BatchNorm expects a rank-3 or rank-4 input, got [${x.shape}]`);
    const c = x.shape[1];
    return this.within(name, () => {
      const inputs = [
        this.param('weight', [c], 'bn_weight'),
        this.param('bias', [c], 'bn_bias'),
        this.param('running_mean', [c], 'bn_running_mean', { trainable: false }),
        this.param('running_var', [c], 'bn_running_var', { trainable: false }),
      ];
      this.param('num_batches_tracked', [], 'bn_num_batches_tracked', {
        dtype: 'int64',
        trainable: false,
        data: new BigInt64Array(1),
      });
      return this.emit1({ op: 'BatchNorm', eps }, [x, ...inputs], x.shape);
    });
  }

  linear(name: string | number, x: Value, out: number, o: { bias?: boolean } = {}): Value {
    const inFeatures = x.shape[x.shape.length - 1];
    return this.within(name, () => {
      const weight = this.param('weight', [out, inFeatures], 'linear_weight');
      const inputs = [x, weight];
      if (o.bias ?? true) inputs.push(this.param('bias', [out], 'linear_bias'));
      return this.emit1({ op: 'Linear' }, inputs, [...x.shape.slice(0, -1), out]);
    });
  }

  /**
   * Call the Linear module `name`, built earlier by `linear`, once more on another input: a module
   * the reference's forward calls twice (the toolbox's hook fires, and counts, on each call).
   */
  linearAgain(name: string | number, x: Value): Value {
    return this.within(name, () => {
      const weight = this.graph.values.get(this.qualified('weight'));
      if (!weight || this.graph.params.get(weight.name)?.role !== 'linear_weight') throw new Error(`no Linear ${this.modulePath} to call again`);
      const [out, inFeatures] = weight.shape;
      if (x.shape[x.shape.length - 1] !== inFeatures) throw new ShapeError(`Linear ${this.modulePath} takes ${inFeatures} features, got [${x.shape}]`);
      const bias = this.graph.values.get(this.qualified('bias'));
      return this.emit1({ op: 'Linear' }, bias ? [x, weight, bias] : [x, weight], [...x.shape.slice(0, -1), out]);
    });
  }

  /** nn.LayerNorm over the last axis; `hooked: false` for F.layer_norm in a module the toolbox does not hook. */
  layerNorm(name: string | number, x: Value, eps = 1e-5, o: { hooked?: false } = {}): Value {
    const c = x.shape[x.shape.length - 1];
    return this.within(name, () => {
      const weight = this.param('weight', [c], 'ln_weight');
      const bias = this.param('bias', [c], 'ln_bias');
      return this.emit1({ op: 'LayerNorm', eps, ...o }, [x, weight, bias], x.shape);
    });
  }

  // ---- functional ops (no parameters of their own) ---------------------------------------

  relu(x: Value): Value {
    return this.emit1({ op: 'Relu' }, [x], x.shape);
  }

  relu6(x: Value): Value {
    return this.emit1({ op: 'Relu6' }, [x], x.shape);
  }

  /** Exact (erf) GELU. `name` is the nn.GELU module's name when it is a module. */
  gelu(x: Value, name?: string | number): Value {
    const run = () => this.emit1({ op: 'Gelu' }, [x], x.shape);
    return name === undefined ? run() : this.within(name, run);
  }

  add(a: Value, b: Value): Value {
    return this.emit1({ op: 'Add' }, [a, b], broadcast(a.shape, b.shape));
  }

  sub(a: Value, b: Value): Value {
    return this.emit1({ op: 'Sub' }, [a, b], broadcast(a.shape, b.shape));
  }

  mul(a: Value, b: Value): Value {
    return this.emit1({ op: 'Mul' }, [a, b], broadcast(a.shape, b.shape));
  }

  scale(x: Value, factor: number): Value {
    return this.emit1({ op: 'Scale', factor }, [x], x.shape);
  }

  matmul(a: Value, b: Value): Value {
    const ra = a.shape.length;
    const rb = b.shape.length;
    if (ra < 2 || rb < 2) throw new ShapeError('MatMul needs rank >= 2');
    const [m, k1] = a.shape.slice(-2);
    const [k2, n] = b.shape.slice(-2);
    if (k1 !== k2) throw new ShapeError(`MatMul: ${a.shape} x ${b.shape} do not agree`);
    const batch = broadcast(a.shape.slice(0, -2), b.shape.slice(0, -2));
    return this.emit1({ op: 'MatMul' }, [a, b], [...batch, m, n]);
  }

  softmax(x: Value, axis = -1): Value {
    return this.emit1({ op: 'Softmax', axis }, [x], x.shape);
  }

  reshape(x: Value, shape: number[]): Value {
    const total = x.shape.reduce((p, d) => p * d, 1);
    const known = shape.filter((d) => d !== -1).reduce((p, d) => p * d, 1);
    const resolved = shape.map((d) => (d === -1 ? total / known : d));
    if (resolved.reduce((p, d) => p * d, 1) !== total || resolved.some((d) => !Number.isInteger(d))) {
      throw new ShapeError(`Reshape: cannot view ${x.shape} as ${shape}`);
    }
    return this.emit1({ op: 'Reshape', shape: resolved }, [x], resolved);
  }

  transpose(x: Value, perm: number[]): Value {
    if (perm.length !== x.shape.length) throw new ShapeError(`Transpose: perm ${perm} for rank ${x.shape.length}`);
    return this.emit1({ op: 'Transpose', perm }, [x], perm.map((p) => x.shape[p]));
  }

  split(x: Value, axis: number, sizes: number[]): Value[] {
    const ax = axis < 0 ? x.shape.length + axis : axis;
    if (sizes.reduce((a, b) => a + b, 0) !== x.shape[ax]) throw new ShapeError(`Split: ${sizes} does not cover ${x.shape[ax]}`);
    const shapes = sizes.map((s) => x.shape.map((d, i) => (i === ax ? s : d)));
    return this.emit({ op: 'Split', axis: ax, sizes }, [x], shapes);
  }

  mean(x: Value, axes: number[], keepdims = false): Value {
    const rank = x.shape.length;
    const norm = axes.map((a) => (a < 0 ? rank + a : a));
    const shape = keepdims
      ? x.shape.map((d, i) => (norm.includes(i) ? 1 : d))
      : x.shape.filter((_, i) => !norm.includes(i));
    return this.emit1({ op: 'ReduceMean', axes: norm, keepdims }, [x], shape);
  }

  /** nn.Upsample(scale_factor, mode='bilinear', align_corners=False). */
  upsampleBilinear(x: Value, scale: number, name?: string): Value {
    const [b, c, h, w] = expectRank(x, 4, 'Upsample');
    const run = () => this.emit1({ op: 'Upsample', scale }, [x], [b, c, h * scale, w * scale]);
    return name === undefined ? run() : this.within(name, run);
  }

  avgPool(x: Value, o: AvgPoolOptions, name?: string | number): Value {
    const [b, c, h, w] = expectRank(x, 4, 'AvgPool2d');
    // PyTorch: with ceil_mode a last window may start past the input only if it starts inside the padding.
    const size = (n: number) => {
      const span = n + 2 * o.pad - o.kernel;
      let out = (o.ceilMode ? Math.ceil(span / o.stride) : Math.floor(span / o.stride)) + 1;
      if (o.ceilMode && (out - 1) * o.stride >= n + o.pad) out--;
      return out;
    };
    const { ceilMode, ...rest } = o;
    const op = ceilMode ? { op: 'AvgPool' as const, ...rest, ceilMode } : { op: 'AvgPool' as const, ...rest };
    const run = () => this.emit1(op, [x], [b, c, size(h), size(w)]);
    return name === undefined ? run() : this.within(name, run);
  }

  /** Elementwise maximum of two tensors (broadcasting). */
  max(a: Value, b: Value): Value {
    return this.emit1({ op: 'Max' }, [a, b], broadcast(a.shape, b.shape));
  }

  /** torch.cat along `axis`. */
  concat(values: Value[], axis: number): Value {
    const rank = values[0].shape.length;
    const ax = axis < 0 ? rank + axis : axis;
    for (const v of values) {
      if (v.shape.length !== rank || v.shape.some((d, i) => i !== ax && d !== values[0].shape[i])) throw new ShapeError(`Concat on axis ${ax}: [${values.map((x) => x.shape).join('] [')}] do not agree`);
    }
    const shape = values[0].shape.map((d, i) => (i === ax ? values.reduce((s, v) => s + v.shape[ax], 0) : d));
    return this.emit1({ op: 'Concat', axis: ax }, values, shape);
  }

  /** x[..., start:end, ...] along `axis` (step 1; negative indices count from the end, as in Python). */
  slice(x: Value, axis: number, start: number, end: number): Value {
    const ax = axis < 0 ? x.shape.length + axis : axis;
    const n = x.shape[ax];
    const clamp = (i: number) => Math.max(0, Math.min(n, i < 0 ? n + i : i));
    const [s0, e0] = [clamp(start), clamp(end)];
    if (e0 <= s0) throw new ShapeError(`Slice ${start}:${end} of an axis of ${n} is empty`);
    return this.emit1({ op: 'Slice', axis: ax, start: s0, end: e0 }, [x], x.shape.map((d, i) => (i === ax ? e0 - s0 : d)));
  }

  /** torch.roll by `shift` along `axis`: the last `shift` entries move to the front (a slice and a concat). */
  roll(x: Value, shift: number, axis: number): Value {
    const ax = axis < 0 ? x.shape.length + axis : axis;
    const n = x.shape[ax];
    const k = ((shift % n) + n) % n;
    if (k === 0) return x;
    return this.concat([this.slice(x, ax, n - k, n), this.slice(x, ax, 0, n - k)], ax);
  }

  sigmoid(x: Value, name?: string | number): Value {
    const run = () => this.emit1({ op: 'Sigmoid' }, [x], x.shape);
    return name === undefined ? run() : this.within(name, run);
  }

  /** SiLU (swish): x * sigmoid(x). */
  silu(x: Value, name?: string | number): Value {
    const run = () => this.mul(x, this.emit1({ op: 'Sigmoid' }, [x], x.shape));
    return name === undefined ? run() : this.within(name, run);
  }

  softplus(x: Value): Value {
    return this.emit1({ op: 'Softplus' }, [x], x.shape);
  }

  exp(x: Value): Value {
    return this.emit1({ op: 'Exp' }, [x], x.shape);
  }

  sum(x: Value, axes: number[], keepdims = false): Value {
    const rank = x.shape.length;
    const norm = axes.map((a) => (a < 0 ? rank + a : a));
    const shape = keepdims ? x.shape.map((d, i) => (norm.includes(i) ? 1 : d)) : x.shape.filter((_, i) => !norm.includes(i));
    return this.emit1({ op: 'ReduceSum', axes: norm, keepdims }, [x], shape);
  }

  /** x.index_select(axis, indices) with constant indices (a permutation, say). */
  select(x: Value, axis: number, indices: readonly number[], local = 'index'): Value {
    const ax = axis < 0 ? x.shape.length + axis : axis;
    if (indices.some((i) => !Number.isInteger(i) || i < 0 || i >= x.shape[ax])) throw new ShapeError(`select: an index is outside [0, ${x.shape[ax]})`);
    const idx = this.param(`${local}_${this.counter}`, [indices.length], 'constant', { dtype: 'int64', trainable: false, data: BigInt64Array.from(indices.map(BigInt)) });
    return this.gather(x, idx, ax);
  }

  /** `table[:, idxs]`: how attention gathers its relative-position biases. */
  gather(table: Value, idxs: Value, axis: number): Value {
    const ax = axis < 0 ? table.shape.length + axis : axis;
    const shape = [...table.shape.slice(0, ax), ...idxs.shape, ...table.shape.slice(ax + 1)];
    return this.emit1({ op: 'Gather', axis: ax }, [table, idxs], shape);
  }

  finish(): Graph {
    return this.graph;
  }
}

function expectRank(x: Value, rank: number, what: string): number[] {
  if (x.shape.length !== rank) throw new ShapeError(`${what} expects a rank-${rank} input, got [${x.shape}]`);
  return x.shape;
}

/** Numpy broadcasting. */
export function broadcast(a: readonly number[], b: readonly number[]): number[] {
  const rank = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < rank; i++) {
    const da = a[a.length - rank + i] ?? 1;
    const db = b[b.length - rank + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) throw new ShapeError(`cannot broadcast [${a}] with [${b}]`);
    out.push(da === 1 ? db : da);
  }
  return out;
}
