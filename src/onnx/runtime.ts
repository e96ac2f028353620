/**
 * onnxruntime-node, loaded on first use. Sessions run in threads of their own (session-thread.ts):
 * never on the main thread, whose signal handlers a long run would hold off.
 */
import { lazyRequire } from '../core/lazy.js';

export type Ort = typeof import('onnxruntime-node');

const load = lazyRequire<Ort>('onnxruntime-node');
let quieted = false;

/**
 * The onnxruntime-node module (its native binding loads here, once). The runtime's own log lines
 * (graph clean-up notes, provider banners, and its coloured error lines, whose content also comes
 * back as the exception eformer reports) would land on stderr before eformer's one line: they are
 * shown only with --verbose (EFORMER_VERBOSE), from warnings up.
 */
export function onnxruntime(): Ort {
  // onnxruntime 1.29+ on Linux and macOS starts Microsoft's telemetry when its environment is
  // created unless ORT_DISABLE_TELEMETRY is set: it leaves a log file $TMPDIR/mat-debug-<pid>.log
  // behind every process, a .ses file in $TMPDIR and an event database under ~/.cache/Microsoft.
  // eformer turns it off before the binding loads (a user's own setting stands).
  process.env.ORT_DISABLE_TELEMETRY ??= '1';
  const ort = load();
  if (!quieted) {
    ort.env.logLevel = process.env.EFORMER_VERBOSE ? 'warning' : 'fatal';
    quieted = true;
  }
  return ort;
}

/** The session option that goes with it. */
export const logSeverityLevel = (): 0 | 1 | 2 | 3 | 4 => (process.env.EFORMER_VERBOSE ? 2 : 4);

export interface Feed {
  data: Float32Array | BigInt64Array;
  shape: number[];
}
