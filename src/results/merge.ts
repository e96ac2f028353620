/**
 * Merge results from several CI jobs or machines into one file. Different schema versions
 * are refused; different environments are merged but flagged, since their latencies are
 * not comparable to each other.
 */
import { UsageError } from '../core/errors.js';
import { type Environment, RESULTS_SCHEMA, type ResultsFile } from './results.js';

/** The environment fields that make latencies comparable. */
const COMPARABLE: (keyof Environment)[] = ['cpu', 'cores', 'os', 'onnxruntime', 'threads'];

export interface Merged {
  file: ResultsFile;
  /** One line per field that differs between the inputs. */
  warnings: string[];
}

export function mergeResults(files: { path: string; results: ResultsFile }[]): Merged {
  if (files.length === 0) throw new UsageError('nothing to merge');
  for (const f of files) {
    if (f.results.schema !== RESULTS_SCHEMA) throw new UsageError(`${f.path} has schema '${f.results.schema}'; merge needs '${RESULTS_SCHEMA}' everywhere`);
  }
  const first = files[0].results.env;
  const warnings = COMPARABLE.flatMap((key) => {
    const values = [...new Set(files.map((f) => String(f.results.env[key])))];
    return values.length > 1 ? [`results come from different environments: ${key} is ${values.join(' / ')}`] : [];
  });
  // The gate's reference model is measured in every shard; the first copy is enough.
  const references = new Set(files.flatMap((f) => f.results.results.map((r) => r.vs_reference?.model)));
  const seen = new Map<string, string>();
  const results = [];
  for (const f of files) {
    for (const r of f.results.results) {
      const before = seen.get(r.model);
      if (before !== undefined) {
        if (references.has(r.model)) continue;
        throw new UsageError(`${r.model} is in both ${before} and ${f.path}`);
      }
      seen.set(r.model, f.path);
      results.push(r);
    }
  }
  const env: Environment = { ...first, merged_from: files.map((f) => ({ path: f.path, env: f.results.env })), environments_differ: warnings.length > 0 };
  return { file: { schema: RESULTS_SCHEMA, env, results }, warnings };
}
