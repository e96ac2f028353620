/** Human-readable tables for `eformer count` and `eformer models`. */
import { renderTable } from '../core/table.js';
import type { LayerCount } from '../graph/count.js';
import type { ModelEntry } from '../models/family.js';
import type { CountRecord } from '../pipeline/index.js';
import { billions, grouped, millions } from './format.js';

/** Params and MACs per model; the paper's figures where the entry has them (MACs only at the family's published resolution). */
export function countTable(records: CountRecord[], entryOf: (name: string) => ModelEntry | undefined): string {
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
      p && r.resolution === entry!.family.defaultResolution ? p.macsG.toFixed(p.macsDigits) : '-',
    ];
  });
  const head = ['model', 'res', 'params (toolbox) M', 'params total', 'params deployed', 'MACs (toolbox) G', 'MACs standard G', 'paper params M', 'paper MACs G'];
  return renderTable(head, rows);
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
  return renderTable(['module', 'kind', 'output', 'params', 'MACs'], table, { colAligns: ['left', 'left', 'left', 'right', 'right'] });
}

export function modelsTable(entries: readonly ModelEntry[]): string {
  const rows = entries.map((e) => {
    const p = e.paper;
    return [e.name, e.family.id, p?.top1 ?? '-', p ? p.paramsM.toFixed(p.paramsDigits) : '-', p ? p.macsG.toFixed(p.macsDigits) : '-', p ? p.iphone12Ms.toFixed(1) : '-', e.baseline ? 'baseline' : ''];
  });
  return renderTable(['model', 'family', 'top-1 (paper)', 'params M', 'MACs G', 'iPhone 12 ms', ''], rows);
}
