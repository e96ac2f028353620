// The device harness: run the benchmark the bundled config describes and attach the result
// as JSON ("eformer-result"), which eformer exports from the .xcresult bundle.
import EformerBench
import XCTest

final class BenchmarkTests: XCTestCase {
    func testBenchmark() throws {
        let resources = try XCTUnwrap(Bundle.module.resourceURL).appendingPathComponent("Resources")
        let (config, modelURL) = try loadConfig(at: resources.appendingPathComponent("config.json"))
        let result = try runBenchmark(config, modelURL: modelURL)
        let attachment = XCTAttachment(data: try JSONEncoder().encode(result), uniformTypeIdentifier: "public.json")
        attachment.name = "eformer-result"
        attachment.lifetime = .keepAlways
        add(attachment)
    }
}
