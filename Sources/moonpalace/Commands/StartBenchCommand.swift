import ArgumentParser
import PalaceProxy

/// `moonpalace _bench-features` (hidden): the per-chunk cost of the traffic features, for Benchmarks/features.sh.
struct StartBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "_bench-features", abstract: "Benchmark: merge and repeat-detector cost per chunk/token.",
        shouldDisplay: false)

    @Option(help: "Chunks (one token each) per run.") var chunks: Int = 20_000

    func run() throws {
        guard chunks > 0 else { throw ValidationError("--chunks must be positive") }
        let f = FeatureBenchmark.run(chunks: chunks)
        print("merge_ns_per_chunk \(Int(f.mergeNanosPerChunk.rounded()))")
        print("merge_parsed_ns_per_chunk \(Int(f.mergeParsedNanosPerChunk.rounded()))")
        print("result_ns_per_chunk \(Int(f.resultNanosPerChunk.rounded()))")
        print("tap_ns_per_chunk \(Int(f.tapNanosPerChunk.rounded()))")
        print("repeat_ns_per_token \(Int(f.repeatNanosPerToken.rounded()))")
        print("forced_ns_per_stream \(Int(f.forcedNanosPerStream.rounded())) (\(FeatureBenchmark.forcedChunks) content chunks)")
    }
}
