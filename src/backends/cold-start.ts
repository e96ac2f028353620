/**
 * Load time, first inference and peak memory of one model, measured cold in a process of its own
 * (onnx/cold-start-child.ts for ort-cpu, python/litert_cold_start.py for litert). The interleaved
 * timing cannot give them: its process holds every model at once, and its sessions are warm. The
 * child reports its resident set before loading, once loaded and after its runs; the model's peak
 * is the peak less the resident set before loading, so the runtime's own code is not counted.
 *
 * A child that fails costs the run nothing: its latency figures stand and the missing ones say why.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { absentUnlessGiven, megabytes, type ModelCost } from '../core/memory.js';
import { makeWorkDir, removeWorkDir } from '../core/fs.js';
import { noAnswer, runProgram, saying } from '../core/process.js';
import { terminalSafe } from '../core/text.js';

/**
 * glibc moves its mmap threshold up as large blocks are freed, and then keeps freed blocks in the
 * heap: the same model's peak varied by up to 25% from one process to the next (bench:memory). A
 * fixed threshold (glibc's starting one) returns every large block to the system when it is freed,
 * so the peak is what the model holds, the same each time. Phones do not use glibc's allocator.
 */
export const COLD_START_ENV = { MALLOC_MMAP_THRESHOLD_: '131072' };

/** Runs in all: the peak settles within them (efficientformerv2_s0's still grew between runs 10 and 20), and they are quick. */
export const COLD_START_RUNS = 20;
const MARK = 'eformer-cold-start ';

interface Resident {
  rss: number;
  peak: number;
}

/** The child's one line, as it printed it. */
export interface ColdStartLine {
  load_ms: number;
  first_run_ms: number;
  before?: Resident | null;
  loaded?: Resident | null;
  end?: Resident | null;
  peak_reset: boolean;
}

export interface ColdStartChild {
  /** The model's name, for messages. */
  model: string;
  /** The model file's bytes, written to a temporary folder for the child to load, and its extension. */
  file: Uint8Array;
  extension: string;
  /** The program, and its arguments given the model file's path. */
  command: string;
  args: (path: string) => string[];
  timeoutSeconds: number;
}

/** Run the child and turn what it printed into the results' figures; a failure becomes reasons, never an error. */
export async function coldStartInChild(child: ColdStartChild): Promise<ModelCost> {
  const dir = makeWorkDir('eformer-cold-');
  try {
    const path = join(dir, `model${child.extension}`);
    writeFileSync(path, child.file);
    const r = await runProgram(child.command, child.args(path), { timeoutSeconds: child.timeoutSeconds, env: COLD_START_ENV });
    const problem = noAnswer(r, child.timeoutSeconds) ?? (r.exitCode !== 0 ? `exited with ${r.exitCode}` : undefined);
    const line = r.stdout.split('\n').find((l) => l.startsWith(MARK));
    const parsed = line === undefined ? undefined : readLine(line.slice(MARK.length));
    if (problem || !parsed) {
      const why = terminalSafe(`the process that loads ${child.model} cold ${problem ?? 'printed no figures'}${saying(r)}`).slice(0, 300);
      return absentUnlessGiven({ model_bytes: child.file.byteLength }, why);
    }
    return { ...costOf(parsed), model_bytes: child.file.byteLength };
  } finally {
    removeWorkDir(dir);
  }
}

function readLine(json: string): ColdStartLine | undefined {
  try {
    const v = JSON.parse(json) as ColdStartLine;
    const ms = (x: unknown) => typeof x === 'number' && Number.isFinite(x) && x >= 0;
    const resident = (x: unknown) => x === undefined || x === null || (typeof x === 'object' && Number.isSafeInteger((x as Resident).rss) && Number.isSafeInteger((x as Resident).peak) && (x as Resident).rss >= 0);
    return ms(v.load_ms) && ms(v.first_run_ms) && resident(v.before) && resident(v.loaded) && resident(v.end) ? v : undefined;
  } catch {
    return undefined;
  }
}

/** The figures: the model's peak is the process's peak less what it held before loading. */
export function costOf(line: ColdStartLine): ModelCost {
  const cost: ModelCost = { load_ms: line.load_ms, first_run_ms: line.first_run_ms };
  const { before, loaded, end } = line;
  if (!before || !end) return absentUnlessGiven(cost, 'this system has no /proc to read a resident set from');
  const peak = end.peak - before.rss;
  if (peak <= 0) return { ...cost, absent: { memory_mb: 'the process held no more memory after loading and running the model than before' } };
  const load = loaded ? loaded.rss - before.rss : undefined;
  cost.memory_mb = {
    peak: megabytes(peak),
    ...(load !== undefined && load >= 0 ? { load: megabytes(load) } : {}),
    source: line.peak_reset
      ? `peak resident set (VmHWM) of a fresh process over loading, the first run and ${COLD_START_RUNS - 1} more, less its resident set before loading (glibc's mmap threshold fixed at 128 KiB)`
      : 'peak resident set (VmHWM) of a fresh process, less its resident set before loading (the peak could not be reset after start-up, so it may include start-up)',
  };
  return cost;
}
