/** The model zoo: every named model, looked up by name. A new family adds one import here. */
import { UsageError } from '../errors.js';
import { efficientFormerZoo } from './efficientformer.js';
import { efficientFormerV2Zoo } from './efficientformer-v2.js';
import { mobileNetV2Zoo } from './mobilenetv2.js';
import type { ModelEntry } from './spec.js';

export const zoo: readonly ModelEntry[] = [...efficientFormerZoo, ...efficientFormerV2Zoo, ...mobileNetV2Zoo];

export const DEFAULT_RESOLUTION = 224;

export function modelNames(): string[] {
  return zoo.map((m) => m.name);
}

export function findModel(name: string): ModelEntry {
  const found = zoo.find((m) => m.name === name);
  if (!found) throw new UsageError(`unknown model '${name}'; known models: ${modelNames().join(', ')}`);
  return found;
}

export * from './spec.js';
export { efficientFormer, efficientFormerConfig, type EfficientFormerConfig } from './efficientformer.js';
export { efficientFormerV2, efficientFormerV2Config, type EfficientFormerV2Config } from './efficientformer-v2.js';
export { mobileNetV2, mobileNetV2Config, type MobileNetV2Config } from './mobilenetv2.js';
