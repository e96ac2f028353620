// The device harness: an XCTest performance test. It runs the benchmark the bundled config
// describes and attaches the result as JSON ("eformer-result"), which eformer exports from the
// .xcresult bundle, then measures the prediction with XCTClockMetric for Xcode's own report.
import CoreML
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

        // Xcode's own performance report of the same prediction, so the run also shows in Xcode's
        // test report; eformer reads the attachment above, which keeps every run.
        let model = try loadModel(config, modelURL: modelURL)
        let input = try makeInput(config)
        let options = XCTMeasureOptions()
        options.iterationCount = 10
        measure(metrics: [XCTClockMetric()], options: options) {
            _ = try? model.prediction(from: input)
        }
    }
}
