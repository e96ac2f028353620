/**
 * A configuration seen as the latency table sees it: the family's graph cut into its blocks,
 * each with its signature, a readable kind and shape, and its share of the toolbox counts.
 */
import { type Block, blockShape, splitIntoBlocks } from '../graph/blocks.js';
import { countGraph } from '../graph/count.js';
import type { Graph } from '../graph/ir.js';
import type { ModelFamily } from '../models/family.js';
import type { SearchSpace } from '../models/space.js';

export interface AnalysedBlock {
  block: Block;
  kind: string;
  shape: string;
  params: number;
  macs: number;
}

export interface Analysed {
  graph: Graph;
  blocks: AnalysedBlock[];
  params: number;
  macs: number;
}

/** The family's search space, or a usage error saying the family has none. */
export function spaceOf<C>(family: ModelFamily<C>): SearchSpace<C> {
  if (!family.searchSpace) throw new Error(`family ${family.id} has no search space`);
  return family.searchSpace;
}

/**
 * Build `config` (shapes only) and cut it into blocks. Without `counts`, params and MACs stay 0:
 * a search reads them from the table's entries instead, which is much faster.
 */
export function analyse<C>(family: ModelFamily<C>, config: C, resolution: number, name = family.id, counts = true): Analysed {
  const space = spaceOf(family);
  const graph = family.build(config, { resolution, name });
  const blocks = splitIntoBlocks(graph, (path) => space.blockOf(path));
  if (!counts) return { graph, params: 0, macs: 0, blocks: blocks.map((block) => ({ block, kind: block.path, shape: '', params: 0, macs: 0 })) };
  return withCounts(family, graph, blocks);
}

function withCounts<C>(family: ModelFamily<C>, graph: Graph, blocks: Block[]): Analysed {
  const space = spaceOf(family);
  const counts = countGraph(graph);
  const byBlock = new Map<string, { params: number; macs: number }>();
  for (const layer of counts.layers) {
    const key = space.blockOf(layer.module);
    const t = byBlock.get(key) ?? { params: 0, macs: 0 };
    t.params += layer.params;
    t.macs += layer.macs;
    byBlock.set(key, t);
  }
  const namer = family.blockNamer(graph);
  return {
    graph,
    params: counts.params.toolbox,
    macs: counts.macs.toolbox,
    blocks: blocks.map((block) => {
      const named = block.nodes.map((n) => namer(n.module)).find(Boolean);
      // `stage 2 · block 3 · mlp` -> `stage 2 · mlp`: what the block is, not where.
      const kind = named?.stage ?? block.path;
      return { block, kind, shape: blockShape(graph, block), ...(byBlock.get(block.path) ?? { params: 0, macs: 0 }) };
    }),
  };
}
