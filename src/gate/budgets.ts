/**
 * Budgets: how much a model may grow before the gate fails. From flags, or from an
 * `eformer.config.json` kept in the user's repository:
 *
 *   { "reference": "mobilenetv2_100",
 *     "budgets": { "default": { "latency": "5%", "params": 0, "macs": 0, "memory": "5%", "load": "10%" },
 *                  "efficientformer_l1": { "latency": "8%", "params": "1%", "max_latency_ms": 30, "max_memory_mb": 120 } } }
 *
 * `latency` is the largest relative slowdown tolerated (also the minimum effect the gate
 * reports); `params` / `macs` are an absolute count or a percentage; `max_latency_ms` is an
 * absolute ceiling on the current median. `memory` / `load` are the largest relative growth of
 * memory_mb.peak / load_ms over the baseline's, and `max_memory_mb` / `max_load_ms` absolute
 * ceilings on them: none of these is gated unless set.
 */
import { existsSync } from 'node:fs';
import { readInputText } from '../core/fs.js';
import { UsageError } from '../core/errors.js';

/** An allowance: `relative` as a fraction (0.05) or `absolute` in the metric's own unit. */
export type Allowance = { relative: number } | { absolute: number };

export interface Budget {
  latency: number;
  params: Allowance;
  macs: Allowance;
  maxLatencyMs?: number;
  /** Largest tolerated growth of memory_mb.peak over the baseline's, a fraction (unset: not gated). */
  memory?: number;
  /** Largest tolerated growth of load_ms over the baseline's, a fraction (unset: not gated). */
  load?: number;
  /** Ceiling on the current memory_mb.peak, MB. */
  maxMemoryMb?: number;
  /** Ceiling on the current load_ms. */
  maxLoadMs?: number;
}

export interface GateConfig {
  reference?: string;
  defaults: Budget;
  models: Record<string, Partial<Budget>>;
}

export const DEFAULT_BUDGET: Budget = { latency: 0.05, params: { absolute: 0 }, macs: { absolute: 0 } };

/**
 * The reference `profile` times in every round of results that may be gated (`--json`,
 * `--baseline`) when neither the flags, the baseline nor the budgets file names one: the papers'
 * MobileNetV2, a plain CNN every family's results can be measured against.
 */
export const DEFAULT_REFERENCE = 'mobilenetv2_100';

/** "5%" -> {relative: 0.05}; 1000000 or "1000000" -> {absolute: 1e6}. */
export function parseAllowance(value: unknown, what: string): Allowance {
  const text = String(value).trim();
  const pct = /^(\d+(?:\.\d+)?)%$/.exec(text);
  if (pct) return { relative: Number(pct[1]) / 100 };
  if (/^\d+(?:\.\d+)?$/.test(text)) return { absolute: Number(text) };
  throw new UsageError(`${what} must be a number or a percentage like 5%, got '${text}'`);
}

export function parseLatencyLimit(value: unknown, what: string): number {
  const a = parseAllowance(value, what);
  if (!('relative' in a)) throw new UsageError(`${what} must be a percentage like 5%, got '${value}'`);
  return a.relative;
}

/** An absolute ceiling: a positive number of `unit`. */
export function parseCeiling(value: unknown, what: string, unit: string): number {
  const n = typeof value === 'number' || (typeof value === 'string' && /^\s*\d+(?:\.\d+)?\s*$/.test(value)) ? Number(value) : NaN;
  if (!(n > 0) || !Number.isFinite(n)) throw new UsageError(`${what} must be a positive number of ${unit}, got '${value}'`);
  return n;
}

const BUDGET_KEYS = ['latency', 'params', 'macs', 'max_latency_ms', 'memory', 'load', 'max_memory_mb', 'max_load_ms'];
/** What a budgets file may hold at its top ("$schema" for editors that validate JSON). */
const TOP_LEVEL_KEYS = ['reference', 'budgets', '$schema'];

function parseBudget(raw: unknown, where: string): Partial<Budget> {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw new UsageError(`${where} must be an object`);
  const r = raw as Record<string, unknown>;
  const unknown = Object.keys(r).filter((k) => !BUDGET_KEYS.includes(k));
  if (unknown.length) throw new UsageError(`${where}: unknown budget '${unknown[0]}' (known: ${BUDGET_KEYS.join(', ')})`);
  const out: Partial<Budget> = {};
  if (r.latency !== undefined) out.latency = parseLatencyLimit(r.latency, `${where}.latency`);
  if (r.params !== undefined) out.params = parseAllowance(r.params, `${where}.params`);
  if (r.macs !== undefined) out.macs = parseAllowance(r.macs, `${where}.macs`);
  if (r.max_latency_ms !== undefined) {
    const n = Number(r.max_latency_ms);
    if (!(n > 0)) throw new UsageError(`${where}.max_latency_ms must be a positive number of milliseconds`);
    out.maxLatencyMs = n;
  }
  if (r.memory !== undefined) out.memory = parseLatencyLimit(r.memory, `${where}.memory`);
  if (r.load !== undefined) out.load = parseLatencyLimit(r.load, `${where}.load`);
  if (r.max_memory_mb !== undefined) out.maxMemoryMb = parseCeiling(r.max_memory_mb, `${where}.max_memory_mb`, 'megabytes');
  if (r.max_load_ms !== undefined) out.maxLoadMs = parseCeiling(r.max_load_ms, `${where}.max_load_ms`, 'milliseconds');
  return out;
}

/** The budgets file read when --budgets is not given, if the current folder has one. */
export const DEFAULT_BUDGETS_FILE = 'eformer.config.json';

export function readGateConfig(path: string | undefined): GateConfig {
  const file = path ?? (existsSync(DEFAULT_BUDGETS_FILE) ? DEFAULT_BUDGETS_FILE : undefined);
  if (!file) return { defaults: DEFAULT_BUDGET, models: {} };
  const text = readInputText(file, path ? '--budgets file' : 'gate config');
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new UsageError(`cannot read gate config '${file}': not valid JSON`);
  }
  // A budget the file seems to set but the gate never reads would let a regression pass: anything
  // not where the gate looks is refused, naming where it belongs.
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw new UsageError(`${file}: must be an object like {"budgets": {"default": {...}}}`);
  const top = raw as Record<string, unknown>;
  const stray = Object.keys(top).find((k) => !TOP_LEVEL_KEYS.includes(k));
  if (stray !== undefined) {
    const hint = BUDGET_KEYS.includes(stray) ? `: budgets go under "budgets": {"default": {...}} or "budgets": {"MODEL": {...}}` : ` (known: ${TOP_LEVEL_KEYS.join(', ')})`;
    throw new UsageError(`${file}: unknown key '${stray}'${hint}`);
  }
  const budgets = (top.budgets ?? {}) as Record<string, unknown>;
  if (budgets === null || typeof budgets !== 'object' || Array.isArray(budgets)) throw new UsageError(`${file}: "budgets" must be an object`);
  const defaults = { ...DEFAULT_BUDGET, ...(budgets.default !== undefined ? parseBudget(budgets.default, `${file}: budgets.default`) : {}) };
  const models: Record<string, Partial<Budget>> = {};
  for (const [name, b] of Object.entries(budgets)) if (name !== 'default') models[name] = parseBudget(b, `${file}: budgets.${name}`);
  if (top.reference !== undefined && typeof top.reference !== 'string') throw new UsageError(`${file}: "reference" must be a model name`);
  return { reference: top.reference as string | undefined, defaults, models };
}

/** Flags override the config file's defaults for every model. */
export function budgetFor(config: GateConfig, model: string, flags: Partial<Budget>): Budget {
  return { ...config.defaults, ...config.models[model], ...flags };
}
