/**
 * Attention over two key sets, written as one concatenation of their biased logits,
 *   concat_last([q @ K1 + c1, q @ K2 + c2, ...])
 * becomes one product with the keys concatenated and one constant bias table,
 *   q @ concat_last([K1, K2, ...]) + concat_last([c1', c2', ...])
 * (ci' is ci broadcast to the logits' rows), the same function in real arithmetic. FcaFormer's
 * blocks attend to their own tokens and to earlier blocks' cross tokens this way: the rewrite
 * copies the small key tensors instead of the logits and runs one MatMul and one Add, not two.
 * It needs the biases as parameters, so it runs after precomputeAttentionBias.
 */
import { cloneGraph, consumers, type Graph, type Node, numel, producers } from '../ir.js';
import { paramOf, setParam } from './util.js';

export function mergeAttentionKeys(input: Graph): Graph {
  const graph = cloneGraph(input);
  const made = producers(graph);
  const users = consumers(graph);
  const single = (value: string) => users.get(value)?.length === 1;
  for (const concat of [...graph.nodes]) {
    if (concat.op !== 'Concat' || concat.inputs.length < 2) continue;
    const rank = graph.values.get(concat.outputs[0])!.shape.length;
    if (concat.axis !== rank - 1) continue;
    const parts = concat.inputs.map((name) => biasedProduct(graph, made, name, single));
    if (parts.some((p) => !p) || new Set(parts.map((p) => p!.query)).size !== 1 || !mergeable(graph, parts as BiasedProduct[])) continue;
    replace(graph, concat, parts as BiasedProduct[]);
  }
  return graph;
}

interface BiasedProduct {
  add: Node;
  matmul: Node;
  query: string;
  keys: string;
  bias: string;
}

/** `name` = Add(MatMul(q, K), c) with c a float parameter, each used only there. */
function biasedProduct(graph: Graph, made: Map<string, Node>, name: string, single: (v: string) => boolean): BiasedProduct | undefined {
  const add = made.get(name);
  if (add?.op !== 'Add' || !single(name)) return undefined;
  for (const side of [0, 1]) {
    const matmul = made.get(add.inputs[side]);
    const bias = paramOf(graph, add.inputs[1 - side]);
    if (matmul?.op !== 'MatMul' || !single(matmul.outputs[0]) || bias?.dtype !== 'float32') continue;
    return { add, matmul, query: matmul.inputs[0], keys: matmul.inputs[1], bias: bias.name };
  }
  return undefined;
}

/** The key sets differ only in their count, and each bias has a value for every key column. */
function mergeable(graph: Graph, parts: BiasedProduct[]): boolean {
  const keyShapes = parts.map((p) => graph.values.get(p.keys)!.shape);
  const sameLead = keyShapes.every((s) => s.length === keyShapes[0].length && s.slice(0, -1).every((d, a) => d === keyShapes[0][a]));
  return sameLead && parts.every((p, i) => paramOf(graph, p.bias)!.viewShape.at(-1) === keyShapes[i].at(-1));
}

function replace(graph: Graph, concat: Node, parts: BiasedProduct[]): void {
  const out = graph.values.get(concat.outputs[0])!.shape;
  const keyShapes = parts.map((p) => graph.values.get(p.keys)!.shape);
  const widths = keyShapes.map((s) => s[s.length - 1]);
  const scope = concat.module;
  const base = concat.name;

  const keysOut = `${base}/keys`;
  graph.values.set(keysOut, { name: keysOut, shape: [...keyShapes[0].slice(0, -1), widths.reduce((a, b) => a + b, 0)], dtype: 'float32' });
  const logitsOut = `${base}/logits`;
  graph.values.set(logitsOut, { name: logitsOut, shape: out, dtype: 'float32' });

  // The table keeps only the axes some bias varies along; its rows are the logits' rows.
  const biases = parts.map((p) => paramOf(graph, p.bias)!);
  const rank = Math.max(...biases.map((b) => b.viewShape.length));
  const aligned = biases.map((b) => [...Array(rank - b.viewShape.length).fill(1), ...b.viewShape]);
  const lead = Array.from({ length: rank - 1 }, (_, a) => Math.max(...aligned.map((s) => s[a])));
  const tableShape = [...lead, out[out.length - 1]];
  const tableName = `${scope}.merged_attention_bias`;
  setParam(graph, tableName, tableShape, 'constant', biases.every((b) => b.data) ? mergedTable(aligned, biases.map((b) => b.data as Float32Array), lead, widths) : undefined);

  const at = graph.nodes.indexOf(concat);
  const nodes: Node[] = [
    { op: 'Concat', axis: keyShapes[0].length - 1, name: `${base}/keys`, module: scope, inputs: parts.map((p) => p.keys), outputs: [keysOut] },
    { op: 'MatMul', name: `${base}/matmul`, module: scope, inputs: [parts[0].query, keysOut], outputs: [logitsOut] },
    { op: 'Add', name: `${base}/bias`, module: scope, inputs: [logitsOut, tableName], outputs: [concat.outputs[0]] },
  ];
  graph.nodes.splice(at, 1, ...nodes);
  const gone = new Set(parts.flatMap((p) => [p.add, p.matmul]));
  graph.nodes = graph.nodes.filter((n) => !gone.has(n));
}

/** Each bias broadcast to the table's leading axes, placed side by side along the last one. */
function mergedTable(shapes: number[][], data: Float32Array[], lead: number[], widths: number[]): Float32Array {
  const total = widths.reduce((a, b) => a + b, 0);
  const rows = numel(lead);
  const table = new Float32Array(rows * total);
  for (let row = 0; row < rows; row++) {
    // The row's coordinates along the leading axes.
    const coords: number[] = [];
    let rest = row;
    for (let a = lead.length - 1; a >= 0; a--) {
      coords[a] = rest % lead[a];
      rest = Math.floor(rest / lead[a]);
    }
    let column = 0;
    shapes.forEach((shape, i) => {
      // Where this bias's row starts: axes of size 1 broadcast (index 0).
      let offset = 0;
      for (let a = 0; a < lead.length; a++) offset = offset * shape[a] + (shape[a] === 1 ? 0 : coords[a]);
      table.set(data[i].subarray(offset * widths[i], (offset + 1) * widths[i]), row * total + column);
      column += widths[i];
    });
  }
  return table;
}
