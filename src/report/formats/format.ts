import type { ResultsFile } from '../../results/results.js';

/** A report format: one file each under formats/. */
export interface ReportFormat {
  id: string;
  /** Default file extension for --out. */
  extension: string;
  render(files: ResultsFile[]): string;
}
