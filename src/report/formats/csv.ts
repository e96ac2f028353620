import { terminalSafe } from '../../core/text.js';
import { paperLatency } from '../../results/results.js';
import { labelledResults } from '../rows.js';
import type { ReportFormat } from './format.js';

/**
 * A text cell a spreadsheet would run as a formula (`=HYPERLINK(...)`, `-2+3+cmd|...`, `@SUM`, or
 * one starting with a tab or CR) gets a leading `'`, as spreadsheet-safe writers do, so it shows as
 * text. Only text is touched: the numbers eformer writes stay numbers (-3.2 remains a number cell).
 */
const FORMULA_START = /^[=+\-@\t\r]/;

const quote = (v: unknown) => {
  let s = v === undefined || v === null ? '' : String(v);
  if (typeof v === 'string') s = `${FORMULA_START.test(s) ? "'" : ''}${terminalSafe(s)}`;
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
};

/**
 * Milliseconds to the microsecond (timers resolve no finer, and 18.51725600000009 is float noise,
 * not a measurement); ratios and CoV to 4 significant digits.
 */
const ms = (v: number | undefined) => (v === undefined ? undefined : Number(v.toFixed(3)));
/** Megabytes to four decimals, as results files keep them. */
const mb = (v: number | undefined) => (v === undefined ? undefined : Number(v.toFixed(4)));
const ratio = (v: number | undefined) => (v === undefined ? undefined : Number(v.toPrecision(4)));

const HEADER = [
  'file', 'model', 'backend', 'resolution', 'batch', 'params_toolbox', 'params_total', 'params_deployed', 'macs_toolbox', 'macs_standard',
  'median_ms', 'mean_ms', 'p90_ms', 'p99_ms', 'min_ms', 'max_ms', 'std_ms', 'cov', 'median_ci95_lo', 'median_ci95_hi', 'runs', 'noisy',
  'quantile_rule', 'reference', 'ratio_to_reference', 'single_session_median_ms', 'threads', 'paper_top1', 'paper_latency_ms', 'paper_latency_device',
  'device_id', 'device_name', 'load_ms', 'first_run_ms', 'peak_memory_mb', 'load_memory_mb', 'model_bytes', 'memory_source', 'execution_provider',
  'precision', 'int8_fp32_model', 'int8_speedup', 'int8_sqnr_db', 'int8_cosine', 'int8_top1_agreement', 'int8_calibration',
  'statistic',
];

/** One row per result with every figure, for spreadsheets and scripts. */
export const csvFormat: ReportFormat = {
  id: 'csv',
  extension: 'csv',
  render(files, options = {}) {
    const lines = [HEADER.join(',')];
    for (const { result: r, source } of labelledResults(files)) {
      const s = r.latency_ms;
      const file = source ? (options.sources?.[Number(source.slice(1)) - 1] ?? source) : (options.sources?.[0] ?? '');
      lines.push(
        [
          file, r.model, r.backend, r.resolution, r.batch, r.params?.toolbox, r.params?.total, r.params?.deployed, r.macs?.toolbox, r.macs?.standard,
          ms(s.median), ms(s.mean), ms(s.p90), ms(s.p99), ms(s.min), ms(s.max), ms(s.std), ratio(s.cov), ms(s.median_ci95?.[0]), ms(s.median_ci95?.[1]), r.runs, r.noisy,
          s.quantile_rule, r.vs_reference?.model, ratio(r.vs_reference?.median), ms(r.single_session?.latency_ms.median), r.settings?.threads, r.paper?.top1, paperLatency(r)?.ms, paperLatency(r)?.device,
          r.device?.id, r.device?.name, ms(r.load_ms), ms(r.first_run_ms), mb(r.memory_mb?.peak), mb(r.memory_mb?.load), r.model_bytes, r.memory_mb?.source, r.settings?.execution_provider,
          r.precision, r.int8?.fp32_model, ratio(r.int8?.speedup), r.int8?.sqnr_db === undefined || r.int8.sqnr_db === null ? undefined : Number(r.int8.sqnr_db.toFixed(2)),
          ratio(r.int8?.cosine), r.int8?.top1_agreement, r.int8?.calibration,
          s.statistic ?? 'median',
        ].map(quote).join(','),
      );
    }
    return lines.join('\n');
  },
};
