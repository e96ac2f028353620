/**
 * A model cut into its building blocks (stem, each block of each stage, each downsampling
 * layer, the head), every block a graph of its own that can be exported and timed alone.
 *
 * Blocks are found from the module paths the family gave its nodes, so no family writes a
 * second, block-by-block builder that could drift from its real one. Two blocks are the same
 * computation when their signatures agree: the ops, attributes and shapes in order, names left
 * out. A latency table keyed by signatures therefore serves every configuration that uses the
 * same block, whatever its position in the network.
 */
import { createHash } from 'node:crypto';
import { type Graph, type Node, numel } from './ir.js';

export interface Block {
  /** The partition id the family's `blockOf` gave (`network.4.2`, `stem`). */
  path: string;
  /** Hash of the block's structure; equal for equal computations. */
  signature: string;
  /** The one activation the block reads, and the one it hands on. */
  input: string;
  output: string;
  nodes: Node[];
}

/**
 * The blocks of `graph` in execution order. `blockOf` maps a node's module path to its block
 * (nodes without a module stay with the block before them). Throws when a block reads more than
 * one activation from outside itself: it could not be timed alone.
 */
export function splitIntoBlocks(graph: Graph, blockOf: (modulePath: string) => string): Block[] {
  const groups: { path: string; nodes: Node[] }[] = [];
  for (const node of graph.nodes) {
    const path = node.module ? blockOf(node.module) : groups.at(-1)?.path ?? 'stem';
    if (groups.at(-1)?.path === path) groups.at(-1)!.nodes.push(node);
    else groups.push({ path, nodes: [node] });
  }
  const seen = new Set(groups.map((g) => g.path));
  if (seen.size !== groups.length) throw new Error(`${graph.name}: a block's nodes are not contiguous`);
  return groups.map((g) => {
    const produced = new Set(g.nodes.flatMap((n) => n.outputs));
    const external = [...new Set(g.nodes.flatMap((n) => n.inputs).filter((i) => !produced.has(i) && !graph.params.has(i)))];
    if (external.length !== 1) throw new Error(`${graph.name}: block ${g.path} reads ${external.length} activations from outside (${external.join(', ')})`);
    const output = g.nodes.at(-1)!.outputs[0];
    return { path: g.path, signature: signatureOf(graph, g.nodes, external[0]), input: external[0], output, nodes: g.nodes };
  });
}

/** The block's ops, attributes, input shapes and parameter shapes, in order; names left out. */
function signatureOf(graph: Graph, nodes: Node[], input: string): string {
  const local = new Map<string, string>([[input, 'x']]);
  const ref = (name: string) => {
    const p = graph.params.get(name);
    if (p) return `p${JSON.stringify(p.viewShape)}${p.role === 'layer_scale' ? 's' : ''}`;
    return local.get(name) ?? '?';
  };
  const lines = [`in ${JSON.stringify(graph.values.get(input)!.shape)}`];
  nodes.forEach((n, k) => {
    const { name: _n, module: _m, inputs, outputs, ...attrs } = n;
    outputs.forEach((o, j) => local.set(o, `v${k}.${j}`));
    lines.push(`${JSON.stringify(attrs)}(${inputs.map(ref).join(',')})`);
  });
  return createHash('sha256').update(lines.join('\n')).digest('hex').slice(0, 16);
}

/** The block as a graph of its own: its input becomes the graph's input, its output the graph's. */
export function blockGraph(graph: Graph, block: Block): Graph {
  const used = new Set(block.nodes.flatMap((n) => [...n.inputs, ...n.outputs]));
  const input = graph.values.get(block.input)!;
  return {
    name: `${graph.name}:${block.path}`,
    inputs: [{ ...input }],
    outputs: [block.output],
    outputNames: ['out'],
    values: new Map([...graph.values].filter(([name]) => used.has(name))),
    params: new Map([...graph.params].filter(([name]) => used.has(name))),
    nodes: block.nodes.map((n) => ({ ...n, inputs: [...n.inputs], outputs: [...n.outputs] })),
    modules: graph.modules.filter((m) => block.nodes.some((n) => n.module === m.path || n.module.startsWith(`${m.path}.`))),
  };
}

/** A short human description of a block's shape: `[1, 48, 56, 56] -> [1, 96, 28, 28]`. */
export function blockShape(graph: Graph, block: Block): string {
  const show = (name: string) => `[${graph.values.get(name)!.shape.join('x')}]`;
  return `${show(block.input)} -> ${show(block.output)}`;
}

/** Elements of a block's parameters (for sanity checks of partitions). */
export function blockParamElements(graph: Graph, block: Block): number {
  const names = new Set(block.nodes.flatMap((n) => n.inputs).filter((i) => graph.params.has(i)));
  return [...names].reduce((s, name) => s + numel(graph.params.get(name)!.shape), 0);
}
