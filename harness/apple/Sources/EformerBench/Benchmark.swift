// Times Core ML predictions the way an app makes them: load the compiled model with the
// chosen compute units, make one first prediction, warm up, then time each run on the
// monotonic clock; around them, read the process's memory footprint. Shared by the XCTest harness
// (iPhone, iPad) and the command-line harness (Mac).
import CoreML
import Darwin
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

/// The harness process's physical footprint (what Xcode's memory gauge and Instruments call its
/// memory footprint, and what the system's memory limit counts), in bytes.
public struct MemoryReport: Codable {
    /// Before the model is loaded.
    public var before_load_bytes: UInt64
    /// Right after loading, before the first prediction.
    public var after_load_bytes: UInt64
    /// The highest over loading and every prediction.
    public var peak_bytes: UInt64
    /// How the peak was read: "ledger_phys_footprint_peak" (the kernel's high-water mark) or
    /// "sampled" (the largest footprint read after loading and after each prediction).
    public var method: String
}

/// What eformer reads back; times in milliseconds.
public struct BenchmarkResult: Codable {
    public var load_ms: Double
    public var first_run_ms: Double
    public var samples_ms: [Double]
    public var compute_units: String
    public var os: String
    public var hardware: String
    /// Absent when the kernel would not report the footprint (the key is then left out of the JSON).
    public var memory: MemoryReport?
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

/// One reading of TASK_VM_INFO: the footprint now and, where the kernel fills it in, its
/// high-water mark over the process's life.
struct Footprint {
    var current: UInt64
    var peak: UInt64?
}

/// The number of integer_t words of task_vm_info_data_t up to the end of `field`: the kernel fills
/// in `count` with how many words it wrote, so a field lies within them when count reaches this.
func wordsThrough<T>(_ field: KeyPath<task_vm_info_data_t, T>) -> Int? {
    guard let offset = MemoryLayout<task_vm_info_data_t>.offset(of: field) else { return nil }
    return (offset + MemoryLayout<T>.size) / MemoryLayout<integer_t>.size
}

/// The process's phys_footprint (task_vm_info rev 1) and ledger_phys_footprint_peak (rev 3), or
/// nil when task_info fails or the kernel's reply stops short of phys_footprint.
func readFootprint() -> Footprint? {
    var info = task_vm_info_data_t()
    var count = mach_msg_type_number_t(MemoryLayout<task_vm_info_data_t>.size / MemoryLayout<integer_t>.size)
    let kr = withUnsafeMutablePointer(to: &info) {
        $0.withMemoryRebound(to: integer_t.self, capacity: Int(count)) {
            task_info(mach_task_self_, task_flavor_t(TASK_VM_INFO), $0, &count)
        }
    }
    guard kr == KERN_SUCCESS, let footprintWords = wordsThrough(\task_vm_info_data_t.phys_footprint), Int(count) >= footprintWords else {
        return nil
    }
    var peak: UInt64?
    if let peakWords = wordsThrough(\task_vm_info_data_t.ledger_phys_footprint_peak), Int(count) >= peakWords, info.ledger_phys_footprint_peak > 0 {
        peak = UInt64(info.ledger_phys_footprint_peak)
    }
    return Footprint(current: info.phys_footprint, peak: peak)
}

/// Follows the footprint through a benchmark: a reading before loading, one after, and one after
/// each prediction (outside the timed interval), whose largest is the peak when the kernel's
/// ledger cannot give it.
struct FootprintTracker {
    private var beforeLoad: Footprint?
    private var afterLoad: UInt64?
    private var sampledPeak: UInt64 = 0

    mutating func startLoading() {
        beforeLoad = readFootprint()
        if let now = beforeLoad?.current { sampledPeak = max(sampledPeak, now) }
    }

    mutating func loaded() {
        afterLoad = readFootprint()?.current
        if let now = afterLoad { sampledPeak = max(sampledPeak, now) }
    }

    mutating func predicted() {
        if let now = readFootprint()?.current { sampledPeak = max(sampledPeak, now) }
    }

    /// nil when a reading before or after loading failed.
    func report() -> MemoryReport? {
        guard let before = beforeLoad, let after = afterLoad else { return nil }
        let end = readFootprint()
        let sampled = max(sampledPeak, end?.current ?? 0)
        // The ledger's peak covers the process's whole life: it is the model's only when it rose
        // above the peak reached before loading. Otherwise the model stayed under an earlier high
        // (the test runner's, say) and only the sampled footprints speak for it.
        if let ledgerPeak = end?.peak, let ledgerBefore = before.peak, ledgerPeak > ledgerBefore, ledgerPeak >= sampled {
            return MemoryReport(before_load_bytes: before.current, after_load_bytes: after, peak_bytes: ledgerPeak, method: "ledger_phys_footprint_peak")
        }
        return MemoryReport(before_load_bytes: before.current, after_load_bytes: after, peak_bytes: sampled, method: "sampled")
    }
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
    var memory = FootprintTracker()
    memory.startLoading()
    let loadStart = DispatchTime.now().uptimeNanoseconds
    let model = try loadModel(config, modelURL: modelURL)
    let loadMs = millisecondsSince(loadStart)
    memory.loaded()

    let input = try makeInput(config)
    let firstStart = DispatchTime.now().uptimeNanoseconds
    _ = try model.prediction(from: input)
    let firstMs = millisecondsSince(firstStart)
    memory.predicted()

    for _ in 0..<config.warmup {
        _ = try model.prediction(from: input)
        memory.predicted()
    }
    var samples: [Double] = []
    samples.reserveCapacity(config.runs)
    for _ in 0..<config.runs {
        let start = DispatchTime.now().uptimeNanoseconds
        _ = try model.prediction(from: input)
        samples.append(millisecondsSince(start))
        // Read after the clock stops: the timed interval holds the prediction alone.
        memory.predicted()
    }
    return BenchmarkResult(
        load_ms: loadMs, first_run_ms: firstMs, samples_ms: samples, compute_units: config.compute_units,
        os: ProcessInfo.processInfo.operatingSystemVersionString, hardware: hardwareIdentifier(),
        memory: memory.report())
}

/// Reads a config file; the model path inside it is relative to the config's folder.
public func loadConfig(at url: URL) throws -> (BenchmarkConfig, URL) {
    let config = try JSONDecoder().decode(BenchmarkConfig.self, from: Data(contentsOf: url))
    return (config, url.deletingLastPathComponent().appendingPathComponent(config.model))
}
