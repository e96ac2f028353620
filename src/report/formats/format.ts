import type { ResultsFile } from '../../results/results.js';

export interface RenderOptions {
  /** Every column, not just what fits 100 columns (the table format's --wide; files always get everything). */
  wide?: boolean;
  /**
   * How the reader gets every column, as the table's footer says it: the default names `report`'s
   * options (`--wide, or -f markdown/csv/html,`); a command with other options names its own.
   */
  everyColumn?: string;
  /** The results files' paths, to say which file each row came from when there are several. */
  sources?: string[];
}

/** A report format: one file each under formats/. */
export interface ReportFormat {
  id: string;
  /** The file extension `eformer report -o FILE` recognises it by. */
  extension: string;
  render(files: ResultsFile[], options?: RenderOptions): string;
}
