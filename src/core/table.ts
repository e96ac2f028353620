/**
 * Plain text tables for the terminal and logs: no colours, no boxes, two spaces between columns
 * and a rule under the head, so that default views fit 100 columns. cli-table3 loads on first use.
 * Every cell and note is passed through terminalSafe: what a file or a tool wrote is shown, never
 * acted on by the terminal.
 */
import { lazyRequire } from './lazy.js';
import { terminalSafe } from './text.js';

type TableConstructor = typeof import('cli-table3');
const cliTable = lazyRequire<TableConstructor>('cli-table3');

export interface TableOptions {
  colAligns?: ('left' | 'right' | 'center')[];
  /** Fixed column widths; cells longer than theirs wrap onto further lines. */
  colWidths?: (number | null)[];
  /**
   * Columns whose text may wrap onto further lines (free text: notes, descriptions, paths) when
   * the table would otherwise be wider than TERMINAL_WIDTH; the widest of them narrows first.
   */
  wrap?: number[];
}

const NONE = { top: '', 'top-mid': '', 'top-left': '', 'top-right': '', bottom: '', 'bottom-mid': '', 'bottom-left': '', 'bottom-right': '', left: '', 'left-mid': '', mid: '', 'mid-mid': '', right: '', 'right-mid': '' };

/** The width every default view keeps to. */
export const TERMINAL_WIDTH = 100;

/** Between columns. */
const GAP = 2;

/** A wrapping column is not made narrower than this. */
const MIN_WRAP_WIDTH = 12;

/** A number as tables print it (1,234.5 or ±1.2% or 3.4x), or a placeholder: such columns align right. */
const NUMERIC = /^(?:[-+±]?[\d,]+(?:\.\d+)?(?:e[-+]?\d+)?[%x]?|-|)$/;

/** Render `rows` under `head`; columns of numbers align right. */
export function renderTable(head: string[], rows: (string | number)[][], options: TableOptions = {}): string {
  const Table = cliTable();
  const titles = head.map((h) => terminalSafe(h));
  const cells = rows.map((r) => head.map((_, i) => terminalSafe(String(r[i] ?? ''))));
  const natural = titles.map((h, i) => Math.max(h.length, ...cells.map((r) => r[i].length)));
  const widths = natural.map((w, i) => options.colWidths?.[i] ?? w);
  narrowToFit(widths, options.wrap ?? []);
  const aligns = options.colAligns ?? head.map((_, i) => (cells.length && cells.every((r) => NUMERIC.test(r[i])) ? 'right' : 'left'));
  const table = new Table({
    chars: { ...NONE, middle: ' '.repeat(GAP) },
    style: { head: [], border: [], 'padding-left': 0, 'padding-right': 0 },
    colAligns: aligns,
  });
  const wrapped = (row: string[]) => row.map((cell, i) => wrapLines(cell, widths[i]).join('\n'));
  table.push(wrapped(titles), widths.map((w) => '─'.repeat(w)), ...cells.map(wrapped));
  return table
    .toString()
    .split('\n')
    .map((l) => l.trimEnd())
    .join('\n');
}

/** Narrow the wrapping columns, widest first, until the table fits the terminal (or they cannot narrow further). */
function narrowToFit(widths: number[], wrap: number[]): void {
  const total = () => widths.reduce((a, b) => a + b, 0) + GAP * (widths.length - 1);
  while (total() > TERMINAL_WIDTH) {
    const candidates = wrap.filter((i) => widths[i] > MIN_WRAP_WIDTH);
    if (!candidates.length) return;
    const widest = candidates.reduce((a, b) => (widths[b] > widths[a] ? b : a));
    widths[widest] -= 1;
  }
}

/** `text` broken at spaces into lines of at most `width` characters; a longer word is split. */
function wrapLines(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (let word of text.split(' ')) {
    while (word.length > width) {
      if (line) lines.push(line);
      lines.push(word.slice(0, width));
      word = word.slice(width);
      line = '';
    }
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line || lines.length === 0) lines.push(line);
  return lines;
}

/** Notes under a table, wrapped at word boundaries to the terminal width. */
export function wrapText(text: string, width = TERMINAL_WIDTH): string {
  return wrapLines(terminalSafe(text), width).join('\n');
}
