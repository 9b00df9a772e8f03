import Foundation
import Testing
@testable import OctetCPU

/// Decoding committed CPUID register dumps (real captures and dumps built from the
/// vendor manuals' bit positions; each file says which) into the feature sets these
/// CPUs are documented to have.
@Suite struct CPUIDDecodingTests {
    struct DumpFile: Decodable {
        var cpu: String
        var source: String
        var leaves: [String: CPUIDDump.Registers]
        var xcr0: String
    }

    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("CPUIDDumps")

    static func load(_ name: String) throws -> CPUIDDump {
        let data = try Data(contentsOf: folder.appendingPathComponent(name + ".json"))
        let file = try JSONDecoder().decode(DumpFile.self, from: data)
        #expect(!file.source.isEmpty && !file.cpu.isEmpty, "\(name): every dump says what it is and where it came from")
        return try JSONDecoder().decode(CPUIDDump.self, from: data)
    }

    static let avx2: Set<ISAFeature> = [.sse4_2, .avx, .avx2, .fma, .f16c]
    static let avx512: Set<ISAFeature> = avx2.union([.avx512f, .avx512bw, .avx512vl, .avx512dq])

    /// What each CPU is documented to offer (Intel ARK / AMD product pages), written here
    /// independently of the dumps.
    static let expected: [(file: String, vendor: String, features: Set<ISAFeature>)] = [
        ("zen3-epyc-milan", "AuthenticAMD", avx2),
        ("zen4-epyc-genoa", "AuthenticAMD", avx512.union([.avx512_vnni, .avx512_bf16])),
        ("skylake-sp", "GenuineIntel", avx512),
        ("cascade-lake", "GenuineIntel", avx512.union([.avx512_vnni])),
        ("icelake-sp", "GenuineIntel", avx512.union([.avx512_vnni])),
        ("sapphire-rapids", "GenuineIntel", avx512.union([.avx512_vnni, .avx_vnni, .avx512_bf16, .amx_tile, .amx_int8, .amx_bf16])),
        ("alder-lake", "GenuineIntel", avx2.union([.avx_vnni])),
    ]

    @Test(arguments: expected.map(\.file))
    func everyDumpDecodesToItsDocumentedFeatures(_ file: String) throws {
        let dump = try Self.load(file)
        guard let entry = Self.expected.first(where: { $0.file == file }) else { return }
        #expect(dump.vendor == entry.vendor)
        let decoded = dump.decode(amxPermitted: true)
        #expect(decoded.hardware == entry.features, "\(file): hardware")
        #expect(decoded.usable == entry.features, "\(file): usable")
        #expect(decoded.droppedForPrerequisites.isEmpty)
    }

    @Test func avx512OnAMDIsDecodedLikeOnIntel() throws {
        // libcpuid 0.6.2 misses AVX-512 on AMD; raw CPUID must not.
        let zen4 = try Self.load("zen4-epyc-genoa").decode()
        #expect(zen4.usable.isSuperset(of: [.avx512f, .avx512bw, .avx512vl, .avx512dq, .avx512_vnni, .avx512_bf16]))
    }

    @Test func osStateGatesAVX512AndAMX() throws {
        // The OS enables only SSE/AVX state: AVX-512 is reported but not usable.
        var cascade = try Self.load("cascade-lake")
        cascade.xcr0 = 0x7
        let c = cascade.decode()
        #expect(c.hardware.contains(.avx512_vnni))
        #expect(c.usable == Self.avx2)

        // No AVX state at all: only SSE4.2 remains.
        cascade.xcr0 = 0x3
        #expect(cascade.decode().usable == [.sse4_2])

        // Sapphire Rapids without the AMX tile state, and with it but no Linux permission.
        var spr = try Self.load("sapphire-rapids")
        let full = spr.decode().usable
        spr.xcr0 = 0x2e7
        #expect(spr.decode().usable == full.subtracting([.amx_tile, .amx_int8, .amx_bf16]))
        spr.xcr0 = 0x602e7
        #expect(spr.decode(amxPermitted: false).usable == full.subtracting([.amx_tile, .amx_int8, .amx_bf16]))

        // Zen 4 with XCR0 = 0x7 (a kernel booted without AVX-512 state).
        var zen4 = try Self.load("zen4-epyc-genoa")
        zen4.xcr0 = 0x7
        #expect(zen4.decode().usable == Self.avx2)
    }

    @Test func anExtensionWithoutAVX512FIsNeverUsable() throws {
        // A hypervisor that masks AVX-512F but passes VNNI and BF16 through.
        var zen4 = try Self.load("zen4-epyc-genoa")
        var leaf7 = zen4.leaves["7.0"] ?? .init()
        leaf7.ebx &= ~(UInt32(1) << 16)
        zen4.leaves["7.0"] = leaf7
        let d = zen4.decode()
        #expect(d.hardware.contains(.avx512_bf16) && !d.hardware.contains(.avx512f))
        #expect(d.usable == Self.avx2)
        #expect(d.droppedForPrerequisites == [.avx512bw, .avx512vl, .avx512dq, .avx512_vnni, .avx512_bf16])
    }

    @Test func leavesAboveTheMaximumAreIgnored() throws {
        // Leaf 7 reported but max basic leaf 1: its bits are stale, not features.
        var skx = try Self.load("skylake-sp")
        skx.leaves["0"]?.eax = 1
        #expect(skx.decode().hardware == [.sse4_2, .avx, .fma, .f16c])
    }

    @Test func dumpsRoundTripThroughJSON() throws {
        let dump = try Self.load("sapphire-rapids")
        let again = try JSONDecoder().decode(CPUIDDump.self, from: try JSONEncoder().encode(dump))
        #expect(again == dump)
        let bad = Data(#"{"leaves": {"7.0": {"eax": "0x0", "ebx": "zz", "ecx": "0x0", "edx": "0x0"}}, "xcr0": "0x7"}"#.utf8)
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(CPUIDDump.self, from: bad) }
        let unknownLeaf = Data(#"{"leaves": {"99": {"eax": "0x0", "ebx": "0x0", "ecx": "0x0", "edx": "0x0"}}, "xcr0": "0x7"}"#.utf8)
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(CPUIDDump.self, from: unknownLeaf) }
    }

    #if arch(x86_64)
    @Test func thisMachineDecodesTheSameThroughTheDumpAndTheHostDescription() {
        let live = CPUIDDump.read().decode(amxPermitted: CPUFeatures.host.hardware.contains(.amx_tile))
        #expect(live.hardware == CPUFeatures.host.hardware)
        let allowed = CPUFeatures.host.cap?.level?.allowedFeatures ?? Set(ISAFeature.allCases)
        #expect(live.usable.intersection(allowed) == CPUFeatures.host.features)
    }
    #endif
}

@Suite struct ISACapTests {
    @Test func levelsParseOctetAndOneDNNNames() {
        #expect(ISALevel(parsing: "avx2") == .avx2)
        #expect(ISALevel(parsing: "AVX512_CORE_VNNI") == .avx512_vnni)
        #expect(ISALevel(parsing: "avx512_core") == .avx512)
        #expect(ISALevel(parsing: "sse41") == .scalar)
        #expect(ISALevel(parsing: "avx9") == nil)
        #expect(ISALevel.allCases == ISALevel.allCases.sorted())
    }

    @Test func levelsAllowCumulativeFeatures() {
        #expect(ISALevel.scalar.allowedFeatures == [.sse4_2])
        #expect(ISALevel.avx2.allowedFeatures == [.sse4_2, .avx, .avx2, .fma, .f16c])
        #expect(!ISALevel.avx512.allowedFeatures.contains(.avx512_vnni))
        #expect(ISALevel.avx512_vnni.allowedFeatures.contains(.avx512_vnni))
        for (lower, higher) in zip(ISALevel.allCases, ISALevel.allCases.dropFirst()) {
            #expect(lower.allowedFeatures.isStrictSubset(of: higher.allowedFeatures), "\(lower) < \(higher)")
        }
    }

    @Test func cappingAPresetRemovesWhatIsAbove() throws {
        let spr = try CPUFeatures.assumed("sapphire-rapids")
        let capped = spr.capped(at: .avx2)
        #expect(capped.features == [.sse4_2, .avx, .avx2, .fma, .f16c])
        #expect(capped.hardware == spr.hardware)
        #expect(spr.capped(at: .avx512_vnni).features == spr.features.subtracting([.avx512_bf16, .amx_tile, .amx_int8, .amx_bf16]))
    }

    @Test func aHostIsNeverRaisedAboveThisMachine() throws {
        let spr = try CPUFeatures.assumed("sapphire-rapids")
        let limited = spr.limited(to: CPUFeatures.host)
        #expect(limited.features.isSubset(of: CPUFeatures.host.features))
    }

    @Test func removingAPrerequisiteRemovesWhatNeedsIt() throws {
        let cpu = try CPUFeatures.assumed("cascade-lake,-avx512f")
        #expect(!cpu.has(.avx512f) && !cpu.has(.avx512_vnni) && !cpu.has(.avx512bw))
        #expect(cpu.has(.avx2))
        #expect(cpu.notes.contains { $0.contains("removed with a prerequisite") })
        let list = try CPUFeatures.assumed("avx512_bf16")
        #expect(list.hasAll([.avx512f, .avx2, .avx, .avx512_bf16]))
    }
}
