/** The int8 fidelity report as text: what `export --int8` prints. */
import { renderTable, TERMINAL_WIDTH, wrapText } from '../core/table.js';
import type { Int8Report } from '../int8/index.js';

export const formatSqnr = (db: number) => (Number.isFinite(db) ? `${db.toFixed(1)} dB` : 'exact');

/** Calibration, layers and fidelity in a few lines; with --by-layer, the per-layer table after them. */
export function int8Lines(r: Int8Report): string[] {
  const c = r.calibration;
  const source = c.kind === 'random' ? `${c.inputs} seeded random inputs (seed ${c.seed})` : `${c.inputs} images from ${c.dir}`;
  const lines = [
    `  int8: ${r.quantized_layers} layers quantised, ${r.float_layers} kept float${r.keep_float.length ? ` (--keep-float ${r.keep_float.join(', ')})` : ''}; calibrated on ${source}, ${r.method} (${r.seconds.toFixed(1)} s)`,
    `  fidelity against the float model on the calibration inputs: logits SQNR ${formatSqnr(r.sqnr_db)}, cosine ${r.cosine.toFixed(5)}, ` +
      `top-1 agreement ${(100 * r.top1_agreement).toFixed(1)}%${r.top1_caveat ? ` (${r.top1_caveat})` : ''}`,
  ].map((line) => wrapText(line));
  if (r.layers) {
    lines.push(wrapText('  per layer: SQNR of each quantised layer\'s output against the float graph\'s (error accumulated up to it), and of its own output quantiser alone'));
    const table = renderTable(
      ['module', 'op', 'output SQNR', 'own Q SQNR'],
      r.layers.map((l) => [l.module, l.op, formatSqnr(l.sqnr_db), l.own_sqnr_db === undefined ? 'float out' : formatSqnr(l.own_sqnr_db)]),
      { wrap: [0], width: TERMINAL_WIDTH - 2 },
    );
    lines.push(...table.split('\n').map((l) => `  ${l}`));
  }
  return lines;
}
