/**
 * Heavy dependencies load on first use, not at start-up: `eformer --version` or `eformer count`
 * should not pay for onnxruntime, sharp or protobufjs. CommonJS packages can be required
 * synchronously where they are needed; ESM-only ones (execa) are imported dynamically.
 */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/** A getter that requires a CommonJS package the first time it is called. */
export function lazyRequire<T>(name: string): () => T {
  let loaded: T | undefined;
  return () => (loaded ??= require(name) as T);
}
