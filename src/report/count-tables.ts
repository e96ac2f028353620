/** Human-readable tables for `eformer count` and `eformer models`. */
import { renderTable, wrapText } from '../core/table.js';
import type { LayerCount } from '../graph/count.js';
import type { ModelEntry } from '../models/family.js';
import type { CountRecord } from '../pipeline/index.js';
import { billions, grouped, millions, paperMs } from './format.js';

/** Params and MACs per model; the paper's figures where the entry has them (MACs only at the family's published resolution). */
export function countTable(records: CountRecord[], entryOf: (name: string) => ModelEntry | undefined, wide = false): string {
  const rows = records.map((r) => {
    const entry = entryOf(r.model);
    const p = entry?.paper;
    return [
      r.model,
      r.resolution,
      millions(r.params.toolbox),
      grouped(r.params.total),
      grouped(r.params.deployed),
      billions(r.macs.toolbox),
      billions(r.macs.standard),
      p ? p.paramsM.toFixed(p.paramsDigits) : '-',
      p?.macsG !== undefined && r.resolution === entry!.family.defaultResolution ? p.macsG.toFixed(p.macsDigits) : '-',
    ];
  });
  const head = ['model', 'res', 'params M', 'params total', 'deployed', 'MACs G', 'MACs std G', 'paper M', 'paper G'];
  // The default view leaves out the standard MAC count (conv, linear, matmul only), which --wide and --json keep.
  const keep = wide ? head.map((_, i) => i) : [0, 1, 2, 3, 4, 5, 7, 8];
  const note = 'params M, MACs G: the papers\' toolbox convention; params total: every parameter; deployed: the exported ONNX initializers';
  return `${renderTable(keep.map((i) => head[i]), rows.map((r) => keep.map((i) => r[i])))}\n${wrapText(note)}`;
}

/** One row per hooked layer, with a subtotal after each top-level group (stem, stage, head). */
export function layerTable(record: CountRecord): string {
  const table: (string | number)[][] = [];
  const flush = (group: string, rows: LayerCount[]) => {
    const params = rows.reduce((s, l) => s + l.params, 0);
    const macs = rows.reduce((s, l) => s + l.macs, 0);
    table.push([`= ${group}`, 'subtotal', '', grouped(params), grouped(macs)]);
  };
  let group: string | undefined;
  let rows: LayerCount[] = [];
  for (const layer of record.layers) {
    if (group !== undefined && layer.group !== group) {
      flush(group, rows);
      rows = [];
    }
    group = layer.group;
    rows.push(layer);
    table.push([layer.module, layer.kind, layer.outShape.length ? `[${layer.outShape.join('x')}]` : '', grouped(layer.params), grouped(layer.macs)]);
  }
  if (group !== undefined) flush(group, rows);
  table.push([`= ${record.model} @${record.resolution}`, 'total', '', grouped(record.params.toolbox), grouped(record.macs.toolbox)]);
  return renderTable(['module', 'kind', 'output', 'params', 'MACs'], table, { colAligns: ['left', 'left', 'left', 'right', 'right'], wrap: [0] });
}

/**
 * The zoo with the papers' figures. The default view fits 100 columns: the family is left to
 * `--wide` (each model's name starts with it, and `-m FAMILY` takes it), the CNN baselines are
 * marked on their names.
 */
export function modelsTable(entries: readonly ModelEntry[], wide = false): string {
  const rows = entries.map((e) => {
    const p = e.paper;
    return [
      wide || !e.baseline ? e.name : `${e.name} (CNN)`,
      ...(wide ? [e.baseline ? `${e.family.id} (CNN)` : e.family.id] : []),
      p ? (wide ? p.top1 : p.top1Value.toFixed(1)) : '-',
      p ? p.paramsM.toFixed(p.paramsDigits) : '-',
      p?.macsG !== undefined ? p.macsG.toFixed(p.macsDigits) : '-',
      p?.latency ? paperMs(p.latency.ms) : '-',
      p?.latency ? p.latency.device : '-',
      ...(wide ? [p?.countNote ?? ''] : []),
    ];
  });
  const headers = ['model', ...(wide ? ['family'] : []), wide ? 'top-1 % (paper)' : 'top-1 %', 'params M', 'MACs G', 'ms', 'measured on', ...(wide ? ['how the paper counted'] : [])];
  const notes = entries.some((e) => e.paper?.countNote) && !wide ? '; --wide adds each model\'s family and says where a paper counted params or MACs differently from eformer' : '';
  return `${renderTable(headers, rows)}\n${wrapText(`the papers' figures: ImageNet-1k top-1, params, MACs at the family's published resolution, latency where the paper measured it; (CNN): the papers' MobileNetV2 comparison models${notes}`)}`;
}
