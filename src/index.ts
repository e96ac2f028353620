/**
 * eformer's library API: the only public face. The CLI is a thin shell over these, and the
 * benchmarks import nothing else.
 */
export * from './core/errors.js';
export { VERSION } from './core/version.js';
export { mulberry32 } from './core/random.js';
export { latencyStats, median, medianCi, quantile, sameRoundRatios, type LatencyStats, type SummaryStats, NOISY_COV } from './core/stats.js';

export * from './models/index.js';
export { GraphBuilder } from './graph/builder.js';
export * from './graph/ir.js';
export { countGraph, type LayerCount, type ModelCounts } from './graph/count.js';
export {
  deployGraph,
  DEPLOY_PASSES,
  type Pass,
  foldAttentionScale,
  foldBatchNorm,
  foldBiasAdd,
  foldLayerScale,
  foldPreBatchNorm,
  linearsAsPointwiseConvs,
  precomputeAttentionBias,
  precomputeParameterOps,
  mergeAttentionKeys,
  mergeDistillationHeads,
  rewritePoolingMixer,
} from './graph/passes/index.js';
export { randomizeWeights } from './graph/init.js';
export { lowerToOnnx, DEFAULT_OPSET, initializerElements, type OnnxGraph } from './onnx/lower.js';
export { encodeOnnx } from './onnx/encode.js';
export { loadOnnxFile, type ModelSource, type ModelInput } from './onnx/read.js';
export { lowerToTflite, type TfliteLowerOptions, type TflitePrecision, type TfliteInt8 } from './tflite/lower.js';
export { runLitert, judgeTflite, judgeTfliteInt8, TFLITE_TOLERANCE, INT8_SQNR_MARGIN_DB, LITERT_REQUIREMENTS, type TfliteCheck, type LitertRun, type LitertReport } from './tflite/litert.js';
export { writeTflite, BUFFER_ALIGNMENT } from './tflite/write.js';
export type { TfliteModel, TfliteTensor, TfliteOperator } from './tflite/model.js';
export { runOnnx, outputSession } from './onnx/session-thread.js';
export { readCheckpoint, readCheckpointBytes } from './weights/checkpoint.js';

export * from './pipeline/index.js';
export { loadStateDict } from './pipeline/load.js';

export { backends, findBackend, listDevices } from './backends/index.js';
export type { Backend, SessionBackend, DeviceBackend, BackendSession, SessionOptions, Turn } from './backends/backend.js';

export { RESULTS_SCHEMA, readResults, checkResults, type ResultsFile, type ModelResult, type Environment, type Breakdown } from './results/results.js';
export { VERDICT_SCHEMA, type Verdict, type Check } from './results/verdict.js';
export { mergeResults } from './results/merge.js';
export { cpuInt8Instructions } from './results/environment.js';

export { profile, type ProfileRequest } from './profile/profile.js';
export { measure, warmUp, RUN_BY_RUN, DEFAULT_PLAN, type TimingPlan, type TimedSession } from './backends/timing.js';
export { parseTrace, aggregateTrace, scaleToMedian } from './profile/breakdown.js';
export { gate, gateAsync, bootstrapChange, type GateOptions } from './gate/compare.js';
export { DEFAULT_BUDGET, readGateConfig, parseAllowance, type Budget, type GateConfig } from './gate/budgets.js';
export { runGate, type GateSettings } from './gate/run.js';
export { findFormat, formats } from './report/formats/index.js';
export { exportOnnx, exportModel, referencePrediction, channelsLast, type ExportRequest, type ExportResult, type ModelExportRequest } from './export/index.js';
export { checkNumerics, judge, judgeW8a8, NUMERIC_TOLERANCE, W8A8_SQNR_MARGIN_DB, type NumericCheck } from './coreml/interpret.js';
export { convertToCoreml, type CoremlOptions } from './coreml/bridge.js';
export { predict, softmax, topK, type Prediction } from './predict/index.js';
export { doctor, setup } from './setup/index.js';
export { LUT_SCHEMA, readLut, checkLutFor, mergeLuts, fitCorrection, correctedRatio, correctionFormula, blockSums, type Lut, type LutEntry, type TrainingRecord, type Correction, type BlockSums } from './latency/lut.js';
export { buildLut, mergeLutFiles, measurePoints, samplePoints, spaceFor, searchableFamily, pointEntry, referenceModel, blocksOfSpace, sumOf, combineSessions, LUT_DEFAULTS, type LutBuildRequest, type MeasureSettings } from './latency/build.js';
export { predictLatency, type LatencyPrediction } from './latency/predict.js';
export { search, readSearch, describePoint, SEARCH_SCHEMA, type SearchResult, type Candidate, type Objective } from './latency/search.js';
export { readSpace, supernet, shrinks, samplePoint, coveringPoints, outsideSpace, type SpaceSpec, type Point, type SearchSpace } from './models/space.js';
export { quantizeInt8, calibrationSet, INT8_OPSET, modulePattern, type Int8Options, type Int8Report, type Int8Result, CALIBRATION_METHODS, type CalibrationMethod, sqnrDb, meanCosine, top1Agreement, activationQuant, quantizeWeights, DEFAULT_POLICY, type QuantizePolicy } from './int8/index.js';
export { COLD_START_ENV, COLD_START_RUNS } from './backends/cold-start.js';
