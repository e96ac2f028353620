// The Mac harness: eformer-bench --config FILE --out FILE. Built by eformer with
// `xcrun swiftc -O` together with Sources/EformerBench/Benchmark.swift.
import Foundation

func argument(_ flag: String) -> String? {
    let args = CommandLine.arguments
    guard let i = args.firstIndex(of: flag), i + 1 < args.count else { return nil }
    return args[i + 1]
}

guard let configPath = argument("--config"), let outPath = argument("--out") else {
    FileHandle.standardError.write("usage: eformer-bench --config FILE --out FILE\n".data(using: .utf8)!)
    exit(2)
}
do {
    let (config, modelURL) = try loadConfig(at: URL(fileURLWithPath: configPath))
    let result = try runBenchmark(config, modelURL: modelURL)
    try JSONEncoder().encode(result).write(to: URL(fileURLWithPath: outPath))
} catch {
    FileHandle.standardError.write("eformer-bench: \(error)\n".data(using: .utf8)!)
    exit(1)
}
