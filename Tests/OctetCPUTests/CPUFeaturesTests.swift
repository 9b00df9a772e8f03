import Foundation
import Testing
import COctetCPUProbe
@testable import OctetCPU

@Suite struct CPUFeaturesTests {
    @Test func everyRequiredPresetExists() throws {
        for name in ["generic-avx2", "zen3", "zen4", "skylake-avx512", "cascade-lake", "icelake-server",
                     "sapphire-rapids", "alder-lake", "neoverse-n1"] {
            let cpu = try CPUFeatures.assumed(name)
            #expect(cpu.origin == .preset(name))
        }
    }

    @Test func presetsCarryTheRightVNNIFlavour() throws {
        let spr = try CPUFeatures.assumed("sapphire-rapids")
        #expect(spr.hasAll([.avx512_vnni, .avx_vnni, .amx_tile, .amx_int8, .amx_bf16, .avx512_bf16]))
        let adl = try CPUFeatures.assumed("alder-lake")
        #expect(adl.has(.avx_vnni) && !adl.has(.avx512_vnni) && !adl.has(.avx512f))
        let zen3 = try CPUFeatures.assumed("zen3")
        #expect(zen3.hasAll([.avx2, .fma, .f16c]) && !zen3.has(.avx512f) && !zen3.has(.avx512_vnni))
        #expect(try !CPUFeatures.assumed("skylake-avx512").has(.avx512_vnni))
        #expect(try CPUFeatures.assumed("cascade-lake").has(.avx512_vnni))
        let n1 = try CPUFeatures.assumed("neoverse-n1")
        #expect(n1.architecture == "aarch64" && n1.features == [.neon])
    }

    @Test func featureListsAndAdjustments() throws {
        let list = try CPUFeatures.assumed("avx2, fma")
        #expect(list.features == [.avx, .avx2, .fma], "AVX2 and FMA imply AVX")
        #expect(list.origin == .assumed("avx2, fma"))
        let plus = try CPUFeatures.assumed("zen3,+avx512_vnni")
        #expect(plus.has(.avx512_vnni) && plus.has(.avx2))
        // A feature brings its prerequisites, and says so.
        #expect(plus.has(.avx512f))
        #expect(plus.notes.contains { $0.contains("implied") && $0.contains("avx512f") })
        let minus = try CPUFeatures.assumed("sapphire-rapids,-amx_int8")
        #expect(!minus.has(.amx_int8) && minus.has(.amx_tile))
        #expect(minus.caches == CPUFeatures.Caches(l1d: 48 * 1024, l2: 2 << 20, l3: 105 << 20))
    }

    @Test func badSpecsAreRefusedWithTheItem() {
        #expect(throws: CPUSpecError.unknownItem("avx9000", spec: "zen3,avx9000")) { try CPUFeatures.assumed("zen3,avx9000") }
        #expect(throws: CPUSpecError.empty) { try CPUFeatures.assumed("") }
        #expect(throws: CPUSpecError.presetNotFirst("zen3")) { try CPUFeatures.assumed("avx2,zen3") }
        #expect(throws: CPUSpecError.self) { try CPUFeatures.assumed("zen3,,avx2") }
    }

    #if os(Linux) && arch(x86_64)
    /// The kernel's view of the CPU (`/proc/cpuinfo`) is an independent oracle: it lists
    /// a feature only when the CPU has it and the kernel enables its state.
    @Test func detectionAgreesWithProcCpuinfo() throws {
        let text = try String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)
        guard let flagsLine = text.split(separator: "\n").first(where: { $0.hasPrefix("flags") }) else {
            Issue.record("/proc/cpuinfo has no flags line")
            return
        }
        let flags = Set(flagsLine.split(separator: " ").map(String.init))
        let kernelName: [ISAFeature: String] = [
            .sse4_2: "sse4_2", .avx: "avx", .avx2: "avx2", .fma: "fma", .f16c: "f16c", .avx512f: "avx512f",
            .avx512bw: "avx512bw", .avx512vl: "avx512vl", .avx512dq: "avx512dq", .avx512_vnni: "avx512_vnni",
            .avx_vnni: "avx_vnni", .avx512_bf16: "avx512_bf16", .amx_tile: "amx_tile", .amx_int8: "amx_int8", .amx_bf16: "amx_bf16",
        ]
        let cpu = CPUFeatures.host
        #expect(cpu.origin == .detected)
        #expect(cpu.features.isSubset(of: cpu.hardware))
        // Under OCTET_MAX_ISA (the capped test run) the kernel's list is capped the same way.
        let allowed = cpu.cap?.level?.allowedFeatures ?? Set(ISAFeature.allCases)
        for (feature, name) in kernelName {
            let kernel = flags.contains(name) && allowed.contains(feature)
            #expect(cpu.has(feature) == kernel, "\(feature): detected \(cpu.has(feature)), kernel \(flags.contains(name)), cap \(cpu.cap?.description ?? "none")")
        }
        #expect(cpu.logicalCPUs == ProcessInfo.processInfo.activeProcessorCount)
        #expect(!cpu.has(.neon))
    }
    #endif
}
