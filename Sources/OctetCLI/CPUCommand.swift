import ArgumentParser
import Foundation
import Octet

struct CPUCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cpu",
        abstract: "Show what this CPU (or an assumed one) offers for INT8, FP16 and FP32."
    )

    @OptionGroup var target: TargetCPUOptions
    @Flag(help: "Print JSON: vendor, model, cores, and features (a map of booleans).") var json = false
    @Flag(help: "Print this machine's raw CPUID registers and XCR0 as JSON (the form tests decode; attach it to a bug report).")
    var cpuid = false

    func run() throws {
        if cpuid {
            guard target.spec == nil else { throw ValidationError("--cpuid reads this machine; it cannot be combined with --cpu") }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            emit(String(decoding: try encoder.encode(CPUIDDump.read()), as: UTF8.self))
            return
        }
        let cpu = try target.resolve()
        emit(json ? try CPUReport.json(cpu) : CPUReport.text(cpu))
    }
}

enum CPUReport {
    static func text(_ cpu: CPUFeatures) -> String {
        var lines: [String] = []
        func row(_ k: String, _ v: String) { lines.append(k.padding(toLength: 10, withPad: " ", startingAt: 0) + v) }
        row("model", cpu.model)
        row("vendor", cpu.vendor)
        row("origin", cpu.origin.description)
        row("arch", "\(cpu.architecture), \(cpu.operatingSystem)")
        row("cores", "\(cpu.cores) physical, \(cpu.logicalCPUs) logical")
        row("caches", [("L1d", cpu.caches.l1d), ("L2", cpu.caches.l2), ("L3", cpu.caches.l3)]
            .map { "\($0.0) \($0.1.map(bytes) ?? "?")" }.joined(separator: ", "))
        lines.append("")
        let allowed = cpu.cap?.level?.allowedFeatures
        lines.append("feature       cpu  usable")
        for f in ISAFeature.allCases {
            let hw = cpu.hardware.contains(f)
            let usable = cpu.features.contains(f)
            let why = hw && !usable ? (allowed.map { !$0.contains(f) } == true ? "  (above the cap)" : "  (see notes)") : ""
            lines.append(f.rawValue.padding(toLength: 14, withPad: " ", startingAt: 0) + (hw ? "yes  " : "no   ") + (usable ? "yes" : "no") + why)
        }
        if cpu.origin == .detected {
            lines.append("")
            row("cap", cpu.cap?.description ?? "none (OCTET_MAX_ISA unset)")
            row("onednn", "dispatches to \(OneDNNBackend.effectiveISA)")
        }
        if !cpu.notes.isEmpty {
            lines.append("")
            for n in cpu.notes { row("note", n) }
        }
        return lines.joined(separator: "\n")
    }

    static func json(_ cpu: CPUFeatures) throws -> String {
        struct Caches: Encodable { var l1d: Int?, l2: Int?, l3: Int? }
        struct Report: Encodable {
            var vendor: String, model: String, cores: Int, logical_cpus: Int
            var architecture: String, os: String, origin: String
            var caches: Caches
            /// Usable: reported by the CPU and enabled by the OS.
            var features: [String: Bool]
            /// Reported by the CPU, whatever the OS enables.
            var cpu_reports: [String: Bool]
            var notes: [String]
            /// `OCTET_MAX_ISA` (or oneDNN's variable) and the level applied.
            var cap: String?
            var cap_level: String?
            /// The ISA oneDNN dispatches to (this machine only).
            var onednn_isa: String?

            enum CodingKeys: String, CodingKey {
                case vendor, model, cores, logical_cpus, architecture, os, origin, caches, features, cpu_reports, notes, cap, cap_level, onednn_isa
            }

            /// Optional fields are written as `null`, never left out: the keys are the interface.
            func encode(to encoder: any Encoder) throws {
                var c = encoder.container(keyedBy: CodingKeys.self)
                try c.encode(vendor, forKey: .vendor)
                try c.encode(model, forKey: .model)
                try c.encode(cores, forKey: .cores)
                try c.encode(logical_cpus, forKey: .logical_cpus)
                try c.encode(architecture, forKey: .architecture)
                try c.encode(os, forKey: .os)
                try c.encode(origin, forKey: .origin)
                try c.encode(caches, forKey: .caches)
                try c.encode(features, forKey: .features)
                try c.encode(cpu_reports, forKey: .cpu_reports)
                try c.encode(notes, forKey: .notes)
                try c.encode(cap, forKey: .cap)
                try c.encode(cap_level, forKey: .cap_level)
                try c.encode(onednn_isa, forKey: .onednn_isa)
            }
        }
        let report = Report(
            vendor: cpu.vendor, model: cpu.model, cores: cpu.cores, logical_cpus: cpu.logicalCPUs,
            architecture: cpu.architecture, os: cpu.operatingSystem, origin: cpu.origin.description,
            caches: Caches(l1d: cpu.caches.l1d, l2: cpu.caches.l2, l3: cpu.caches.l3),
            features: Dictionary(uniqueKeysWithValues: ISAFeature.allCases.map { ($0.rawValue, cpu.features.contains($0)) }),
            cpu_reports: Dictionary(uniqueKeysWithValues: ISAFeature.allCases.map { ($0.rawValue, cpu.hardware.contains($0)) }),
            notes: cpu.notes, cap: cpu.cap?.description, cap_level: cpu.cap?.level?.rawValue,
            onednn_isa: cpu.origin == .detected ? OneDNNBackend.effectiveISA : nil
        )
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return String(decoding: try encoder.encode(report), as: UTF8.self)
    }

    static func bytes(_ n: Int) -> String {
        n >= 1 << 20 && n % (1 << 20) == 0 ? "\(n >> 20) MiB" : n >= 1 << 20 ? "\(Double(n) / Double(1 << 20)) MiB" : "\(n >> 10) KiB"
    }
}
