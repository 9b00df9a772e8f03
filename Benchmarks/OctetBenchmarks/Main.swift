import ArgumentParser

@main
struct OctetBenchmarks: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "octet-benchmarks",
        abstract: "Octet's benchmarks. Build with -c release; the machine is shared, so each figure is a median of interleaved rounds.",
        subcommands: [FP16Benchmark.self, OneDNNBenchmark.self, PackedBenchmark.self, PackedConvBenchmark.self]
    )
}
