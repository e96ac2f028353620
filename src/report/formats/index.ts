/** Report formats by id. A new format is one file in this folder and one line here. */
import { UsageError } from '../../core/errors.js';
import { csvFormat } from './csv.js';
import type { ReportFormat } from './format.js';
import { htmlFormat } from './html.js';
import { markdownFormat } from './markdown.js';
import { tableFormat } from './table.js';

export type { ReportFormat };

export const formats: readonly ReportFormat[] = [tableFormat, markdownFormat, csvFormat, htmlFormat];

export function findFormat(id: string): ReportFormat {
  const found = formats.find((f) => f.id === id);
  if (!found) throw new UsageError(`unknown format '${id}'; available: ${formats.map((f) => f.id).join(', ')}`);
  return found;
}
