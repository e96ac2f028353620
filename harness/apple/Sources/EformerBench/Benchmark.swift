// Times Core ML predictions the way an app makes them: load the compiled model with the
// chosen compute units, make one first prediction, warm up, then time each run on the
// monotonic clock. Shared by the XCTest harness (iPhone, iPad) and the command-line harness (Mac).
import CoreML
import Foundation

/// What to measure; eformer writes it as JSON next to the compiled model.
public struct BenchmarkConfig: Codable {
    /// The compiled model (.mlmodelc), relative to the config's folder.
    public var model: String
    public var input_name: String
    public var input_shape: [Int]
    public var compute_units: String
    public var warmup: Int
    public var runs: Int
}

/// What eformer reads back; times in milliseconds.
public struct BenchmarkResult: Codable {
    public var load_ms: Double
    public var first_run_ms: Double
    public var samples_ms: [Double]
    public var compute_units: String
    public var os: String
    public var hardware: String
}

public enum BenchmarkError: Error, CustomStringConvertible {
    case unknownComputeUnits(String)

    public var description: String {
        switch self {
        case .unknownComputeUnits(let name):
            return "unknown compute units '\(name)' (all, cpuOnly, cpuAndGPU, cpuAndNeuralEngine)"
        }
    }
}

func computeUnits(named name: String) throws -> MLComputeUnits {
    switch name {
    case "all": return .all
    case "cpuOnly": return .cpuOnly
    case "cpuAndGPU": return .cpuAndGPU
    case "cpuAndNeuralEngine": return .cpuAndNeuralEngine
    default: throw BenchmarkError.unknownComputeUnits(name)
    }
}

func millisecondsSince(_ start: UInt64) -> Double {
    Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6
}

func sysctlString(_ name: String) -> String {
    var size = 0
    guard sysctlbyname(name, nil, &size, nil, 0) == 0, size > 0 else { return "unknown" }
    var buffer = [CChar](repeating: 0, count: size)
    guard sysctlbyname(name, &buffer, &size, nil, 0) == 0 else { return "unknown" }
    return String(cString: buffer)
}

/// The hardware identifier: iPhone13,2 is an iPhone 12; Macs report their model, e.g. Mac14,2.
func hardwareIdentifier() -> String {
    #if os(macOS)
    return sysctlString("hw.model")
    #else
    return sysctlString("hw.machine")
    #endif
}

/// A deterministic input: what fills it does not change latency, but NaNs could.
public func makeInput(_ config: BenchmarkConfig) throws -> MLFeatureProvider {
    let array = try MLMultiArray(shape: config.input_shape.map { NSNumber(value: $0) }, dataType: .float32)
    let values = array.dataPointer.bindMemory(to: Float.self, capacity: array.count)
    for i in 0..<array.count { values[i] = sin(Float(i) * 0.37) }
    return try MLDictionaryFeatureProvider(dictionary: [config.input_name: MLFeatureValue(multiArray: array)])
}

/// Loads the compiled model with the config's compute units.
public func loadModel(_ config: BenchmarkConfig, modelURL: URL) throws -> MLModel {
    let configuration = MLModelConfiguration()
    configuration.computeUnits = try computeUnits(named: config.compute_units)
    return try MLModel(contentsOf: modelURL, configuration: configuration)
}

public func runBenchmark(_ config: BenchmarkConfig, modelURL: URL) throws -> BenchmarkResult {
    let loadStart = DispatchTime.now().uptimeNanoseconds
    let model = try loadModel(config, modelURL: modelURL)
    let loadMs = millisecondsSince(loadStart)

    let input = try makeInput(config)
    let firstStart = DispatchTime.now().uptimeNanoseconds
    _ = try model.prediction(from: input)
    let firstMs = millisecondsSince(firstStart)

    for _ in 0..<config.warmup { _ = try model.prediction(from: input) }
    var samples: [Double] = []
    samples.reserveCapacity(config.runs)
    for _ in 0..<config.runs {
        let start = DispatchTime.now().uptimeNanoseconds
        _ = try model.prediction(from: input)
        samples.append(millisecondsSince(start))
    }
    return BenchmarkResult(
        load_ms: loadMs, first_run_ms: firstMs, samples_ms: samples, compute_units: config.compute_units,
        os: ProcessInfo.processInfo.operatingSystemVersionString, hardware: hardwareIdentifier())
}

/// Reads a config file; the model path inside it is relative to the config's folder.
public func loadConfig(at url: URL) throws -> (BenchmarkConfig, URL) {
    let config = try JSONDecoder().decode(BenchmarkConfig.self, from: Data(contentsOf: url))
    return (config, url.deletingLastPathComponent().appendingPathComponent(config.model))
}
