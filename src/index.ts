/** eformer's library API. The CLI is a thin shell over these. */
export * from './api.js';
export * from './errors.js';
export * from './models/index.js';
export { countGraph, type LayerCount, type ModelCounts } from './graph/count.js';
export { GraphBuilder } from './graph/builder.js';
export * from './graph/ir.js';
export { deployGraph, DEPLOY_PASSES, type Pass, foldBatchNorm, foldLayerScale, precomputeAttentionBias, mergeDistillationHeads, rewritePoolingMixer } from './graph/passes/index.js';
export { randomizeWeights } from './graph/init.js';
export { lowerToOnnx, encodeOnnx, DEFAULT_OPSET, initializerElements } from './export/onnx.js';
export { VERSION } from './version.js';
