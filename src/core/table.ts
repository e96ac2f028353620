/**
 * Plain text tables for the terminal and logs: no colours and no rule between rows. cli-table3
 * loads on first use.
 */
import { lazyRequire } from './lazy.js';

type TableConstructor = typeof import('cli-table3');
const cliTable = lazyRequire<TableConstructor>('cli-table3');

export interface TableOptions {
  colAligns?: ('left' | 'right' | 'center')[];
}

/** Render `rows` under `head` as a plain table. */
export function renderTable(head: string[], rows: (string | number)[][], options: TableOptions = {}): string {
  const Table = cliTable();
  const table = new Table({
    head,
    style: { head: [], border: [] },
    chars: { mid: '', 'left-mid': '', 'mid-mid': '', 'right-mid': '' },
    ...(options.colAligns ? { colAligns: options.colAligns } : {}),
  });
  for (const row of rows) table.push(row);
  return table.toString();
}
