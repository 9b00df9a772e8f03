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
        #expect(list.features == [.avx2, .fma])
        #expect(list.origin == .assumed("avx2, fma"))
        let plus = try CPUFeatures.assumed("zen3,+avx512_vnni")
        #expect(plus.has(.avx512_vnni) && plus.has(.avx2))
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

    @Test func rawCPUIDDecodingFollowsTheManuals() {
        // A Sapphire Rapids-like register image, bit by bit from the SDM.
        let leaf1ECX: UInt32 = (1 << 12) | (1 << 20) | (1 << 28) | (1 << 29)
        let leaf7 = octet_cpuid_regs(eax: 1, ebx: (1 << 5) | (1 << 16) | (1 << 17) | (1 << 30) | (1 << 31),
                                     ecx: 1 << 11, edx: (1 << 22) | (1 << 24) | (1 << 25))
        let decoded = RawCPUID.decode(leaf1ECX: leaf1ECX, leaf7: leaf7, leaf7Sub1EAX: (1 << 4) | (1 << 5))
        #expect(decoded == [.fma, .sse4_2, .avx, .f16c, .avx2, .avx512f, .avx512dq, .avx512bw, .avx512vl,
                            .avx512_vnni, .amx_bf16, .amx_tile, .amx_int8, .avx_vnni, .avx512_bf16])
        // AVX2 machine without AVX-512: only the low bits.
        let zen3 = RawCPUID.decode(leaf1ECX: leaf1ECX, leaf7: octet_cpuid_regs(eax: 0, ebx: 1 << 5, ecx: 0, edx: 0), leaf7Sub1EAX: 0)
        #expect(zen3 == [.fma, .sse4_2, .avx, .f16c, .avx2])
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
        let cpu = CPUFeatures.detect()
        #expect(cpu.origin == .detected)
        #expect(cpu.features.isSubset(of: cpu.hardware))
        for (feature, name) in kernelName {
            #expect(cpu.has(feature) == flags.contains(name), "\(feature): detected \(cpu.has(feature)), kernel \(flags.contains(name))")
        }
        #expect(cpu.logicalCPUs == ProcessInfo.processInfo.activeProcessorCount)
        #expect(!cpu.has(.neon))
    }
    #endif
}
