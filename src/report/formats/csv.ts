import { allResults } from '../rows.js';
import type { ReportFormat } from './format.js';

const quote = (v: unknown) => {
  const s = v === undefined || v === null ? '' : String(v);
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
};

const HEADER = [
  'model', 'backend', 'resolution', 'batch', 'params_toolbox', 'params_total', 'params_deployed', 'macs_toolbox', 'macs_standard',
  'median_ms', 'mean_ms', 'p90_ms', 'p99_ms', 'min_ms', 'max_ms', 'std_ms', 'cov', 'median_ci95_lo', 'median_ci95_hi', 'runs', 'noisy', 'single_session_median_ms',
  'threads', 'paper_top1', 'paper_iphone12_ms', 'device_id', 'device_name', 'load_ms', 'first_run_ms', 'execution_provider',
];

/** Full-precision numbers, one row per result: for spreadsheets and scripts. */
export const csvFormat: ReportFormat = {
  id: 'csv',
  extension: 'csv',
  render(files) {
    const lines = [HEADER.join(',')];
    for (const r of allResults(files)) {
      const s = r.latency_ms;
      lines.push(
        [
          r.model, r.backend, r.resolution, r.batch, r.params?.toolbox, r.params?.total, r.params?.deployed, r.macs?.toolbox, r.macs?.standard,
          s.median, s.mean, s.p90, s.p99, s.min, s.max, s.std, s.cov, s.median_ci95?.[0], s.median_ci95?.[1], r.runs, r.noisy, r.single_session?.latency_ms.median,
          r.settings?.threads, r.paper?.top1, r.paper?.iphone12_ms, r.device?.id, r.device?.name, r.load_ms, r.first_run_ms, r.settings?.execution_provider,
        ].map(quote).join(','),
      );
    }
    return lines.join('\n');
  },
};
