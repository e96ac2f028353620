// swift-tools-version:5.7
// The on-device benchmark eformer runs with `xcodebuild test`: the library times Core ML
// predictions, the test target carries the compiled model and its config as resources and
// attaches the result (read back with `xcrun xcresulttool export attachments`).
import PackageDescription

let package = Package(
    name: "EformerBench",
    platforms: [.iOS(.v16), .macOS(.v13)],
    products: [.library(name: "EformerBench", targets: ["EformerBench"])],
    targets: [
        .target(name: "EformerBench"),
        .testTarget(name: "EformerBenchTests", dependencies: ["EformerBench"], resources: [.copy("Resources")]),
    ]
)
