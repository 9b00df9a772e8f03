import COctetCPUProbe

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension CPUFeatures {
    /// Reads this machine: libcpuid for vendor, model, cores, caches and the features it
    /// knows; raw CPUID (leaf 7, subleaves 0 and 1) for AVX-VNNI, AVX-512 BF16 and AMX,
    /// which libcpuid 0.6 does not report; XGETBV for what the OS enables; and on Linux
    /// the AMX tile-data permission (requested when `requestAMX` is true, as a process
    /// that is about to run AMX code must).
    public static func detect(requestAMX: Bool = false) -> CPUFeatures {
        #if arch(x86_64) || arch(i386)
        return detectX86(requestAMX: requestAMX)
        #else
        return detectOther()
        #endif
    }

    private static var onlineLogicalCPUs: Int {
        #if canImport(Glibc) || canImport(Darwin)
        let n = sysconf(Int32(_SC_NPROCESSORS_ONLN))
        return n > 0 ? n : 1
        #else
        return 1
        #endif
    }

    private static func detectOther() -> CPUFeatures {
        let neon = octet_arm_has_neon() != 0
        let logical = onlineLogicalCPUs
        return CPUFeatures(
            vendor: "unknown", model: "\(hostArchitecture) CPU", architecture: hostArchitecture,
            cores: logical, logicalCPUs: logical, caches: Caches(),
            hardware: neon ? [.neon] : [], origin: .detected,
            notes: ["libcpuid and CPUID are x86-only; features read from the OS"]
        )
    }

    private static func detectX86(requestAMX: Bool) -> CPUFeatures {
        var notes: [String] = []
        var info = octet_libcpuid_info()
        var errorBuffer = [CChar](repeating: 0, count: 256)
        let rc = octet_libcpuid_identify(&info, &errorBuffer, errorBuffer.count)
        let libcpuidOK = rc == 0
        if libcpuidOK {
            notes.append("libcpuid \(String(cString: octet_libcpuid_version()))")
        } else {
            let message = String(decoding: errorBuffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            notes.append("libcpuid failed (\(rc)): \(message); using raw CPUID only")
        }

        let raw = RawCPUID.read()
        var hardware = raw.features
        if libcpuidOK {
            // libcpuid is authoritative for what it knows; raw CPUID fills in the rest.
            let fromLibcpuid: [(ISAFeature, UInt8)] = [
                (.sse4_2, info.sse4_2), (.avx, info.avx), (.avx2, info.avx2), (.fma, info.fma3), (.f16c, info.f16c),
                (.avx512f, info.avx512f), (.avx512bw, info.avx512bw), (.avx512vl, info.avx512vl),
                (.avx512dq, info.avx512dq), (.avx512_vnni, info.avx512vnni),
            ]
            for (feature, flag) in fromLibcpuid {
                if flag != 0 { hardware.insert(feature) } else { hardware.remove(feature) }
            }
        }

        let xcr0 = octet_xgetbv0()
        notes.append("XCR0 = 0x\(String(xcr0, radix: 16))")
        let avxState = xcr0 & 0b110 == 0b110
        let avx512State = avxState && xcr0 & 0b1110_0000 == 0b1110_0000
        let amxState = xcr0 & (0b11 << 17) == (0b11 << 17)
        var amxUsable = false
        if hardware.contains(.amx_tile) && amxState {
            switch octet_amx_permission(requestAMX ? 1 : 0) {
            case 1:
                amxUsable = true
                notes.append("AMX tile data: permitted (arch_prctl)")
            case 0:
                notes.append(requestAMX ? "AMX tile data: refused by the kernel" : "AMX tile data: not yet requested (ARCH_REQ_XCOMP_PERM)")
            default:
                amxUsable = true
                notes.append("AMX tile data: no permission interface (kernel before 5.16, or not Linux)")
            }
        }
        let usable = hardware.filter { feature in
            switch feature.osState {
            case .none: true
            case .avx: avxState
            case .avx512: avx512State
            case .amx: amxUsable
            }
        }

        let logical = onlineLogicalCPUs
        let vendor = libcpuidOK ? cString(info.vendor) : raw.vendor
        let brand = libcpuidOK ? cString(info.brand).trimmingSpaces() : "x86-64 CPU"
        return CPUFeatures(
            vendor: vendor, model: brand, architecture: hostArchitecture,
            cores: libcpuidOK && info.cores > 0 ? Int(info.cores) : logical,
            logicalCPUs: logical,
            caches: libcpuidOK
                ? Caches(l1d: kib(info.l1d_kb), l2: kib(info.l2_kb), l3: kib(info.l3_kb))
                : Caches(),
            hardware: hardware, features: usable, origin: .detected, notes: notes
        )
    }

    private static func kib(_ v: Int32) -> Int? { v > 0 ? Int(v) * 1024 : nil }
}

/// Decodes a fixed-size C `char` array (imported as a tuple) up to its first NUL.
func cString<T>(_ tuple: T) -> String {
    withUnsafeBytes(of: tuple) { raw in
        let bytes = raw.prefix { $0 != 0 }
        return String(decoding: bytes, as: UTF8.self)
    }
}

extension String {
    func trimmingSpaces() -> String {
        var s = Substring(self)
        while s.first == " " { s = s.dropFirst() }
        while s.last == " " { s = s.dropLast() }
        return String(s)
    }
}
