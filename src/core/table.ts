/**
 * Plain text tables for the terminal and logs: no colours, no boxes, two spaces between columns
 * and a rule under the head, so that default views fit 100 columns. cli-table3 loads on first use.
 */
import { lazyRequire } from './lazy.js';

type TableConstructor = typeof import('cli-table3');
const cliTable = lazyRequire<TableConstructor>('cli-table3');

export interface TableOptions {
  colAligns?: ('left' | 'right' | 'center')[];
  /** Fixed column widths; cells longer than theirs wrap onto further lines. */
  colWidths?: (number | null)[];
}

const NONE = { top: '', 'top-mid': '', 'top-left': '', 'top-right': '', bottom: '', 'bottom-mid': '', 'bottom-left': '', 'bottom-right': '', left: '', 'left-mid': '', mid: '', 'mid-mid': '', right: '', 'right-mid': '' };

/** The width every default view keeps to. */
export const TERMINAL_WIDTH = 100;

/** A number as tables print it (1,234.5 or ±1.2% or 3.4x), or a placeholder: such columns align right. */
const NUMERIC = /^(?:[-+±]?[\d,]+(?:\.\d+)?(?:e[-+]?\d+)?[%x]?|-|)$/;

/** Render `rows` under `head`; columns of numbers align right. */
export function renderTable(head: string[], rows: (string | number)[][], options: TableOptions = {}): string {
  const Table = cliTable();
  const text = (v: string | number) => String(v);
  const widths = head.map((h, i) => options.colWidths?.[i] ?? Math.max(h.length, ...rows.map((r) => text(r[i] ?? '').length)));
  const aligns = options.colAligns ?? head.map((_, i) => (rows.length && rows.every((r) => NUMERIC.test(text(r[i] ?? ''))) ? 'right' : 'left'));
  const table = new Table({
    chars: { ...NONE, middle: '  ' },
    style: { head: [], border: [], 'padding-left': 0, 'padding-right': 0 },
    colAligns: aligns,
    ...(options.colWidths ? { colWidths: widths, wordWrap: true, wrapOnWordBoundary: true } : {}),
  });
  table.push(head, widths.map((w) => '─'.repeat(w)), ...rows.map((r) => r.map(text)));
  return table
    .toString()
    .split('\n')
    .map((l) => l.trimEnd())
    .join('\n');
}

/** Notes under a table, wrapped at word boundaries to the terminal width. */
export function wrapText(text: string, width = TERMINAL_WIDTH): string {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(line);
  return lines.join('\n');
}
