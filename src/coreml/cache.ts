/**
 * Converted Core ML packages kept by content, so profiling the same model again skips
 * coremltools (5-15 s a model). The key covers the ONNX bytes, the conversion options and
 * the bridge and its pinned requirements; $EFORMER_CACHE moves the folder.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { writeFileAtomic } from '../core/fs.js';
import { convertToCoreml, type CoremlOptions, type CoremlResult } from './bridge.js';
import { BRIDGE, REQUIREMENTS } from './python.js';

export function cacheDir(): string {
  return resolve(process.env.EFORMER_CACHE ?? '.eformer/cache', 'coreml');
}

export async function cachedCoreml(onnx: Uint8Array, options: CoremlOptions): Promise<Pick<CoremlResult, 'path' | 'report'> & { cached: boolean }> {
  // Calibration tensors enter the key by content, not as JSON arrays of millions of numbers.
  const digest = (_key: string, v: unknown) => (ArrayBuffer.isView(v) ? createHash('sha256').update(new Uint8Array(v.buffer, v.byteOffset, v.byteLength)).digest('hex') : v);
  const hash = createHash('sha256').update(onnx).update(JSON.stringify(options, digest)).update(readFileSync(BRIDGE)).update(readFileSync(REQUIREMENTS));
  const key = hash.digest('hex').slice(0, 32);
  const dir = cacheDir();
  const path = join(dir, `${key}.mlpackage`);
  const reportPath = join(dir, `${key}.json`);
  // The report is written last, so its presence means the package is complete.
  if (existsSync(path) && existsSync(reportPath)) {
    const report = cachedReport(reportPath);
    if (report) return { path, report, cached: true };
    // An entry whose report cannot be read is converted again, over it.
  }
  mkdirSync(dir, { recursive: true });
  const converted = await convertToCoreml(onnx, path, options);
  writeFileAtomic(reportPath, JSON.stringify(converted.report));
  return { path, report: converted.report, cached: false };
}

/** The report of a cached conversion, or undefined when it is not readable JSON (a damaged cache). */
function cachedReport(path: string): CoremlResult['report'] | undefined {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as CoremlResult['report'];
  } catch {
    return undefined;
  }
}
