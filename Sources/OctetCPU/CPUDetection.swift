import COctetCPUProbe

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension CPUFeatures {
    /// This machine, described once for the life of the process: the one description
    /// every kernel choice obeys (the C micro-kernels read the same `octet_host_isa()`).
    ///
    /// ISA features come from raw CPUID (leaves 1, 7.0, 7.1, 0xD, 0x24, 0x8000_0001),
    /// decoded for every vendor alike, gated by XCR0 and the Linux AMX permission,
    /// closed under prerequisites, and capped by `OCTET_MAX_ISA` (see `ISALevel`).
    /// libcpuid supplies vendor, brand, cores and caches; where it disagrees with CPUID on
    /// a feature, CPUID wins and a note says so.
    public static let host: CPUFeatures = readHost()

    private static var onlineLogicalCPUs: Int {
        #if canImport(Glibc) || canImport(Darwin)
        let n = sysconf(Int32(_SC_NPROCESSORS_ONLN))
        return n > 0 ? n : 1
        #else
        return 1
        #endif
    }

    private static func readHost() -> CPUFeatures {
        let isa = octet_host_isa().pointee
        var notes: [String] = []
        let hardware = ISAFeature.set(from: isa.hardware)
        let dump = CPUIDDump(isa.dump)
        let logical = onlineLogicalCPUs

        #if arch(x86_64) || arch(i386)
        var info = octet_libcpuid_info()
        var errorBuffer = [CChar](repeating: 0, count: 256)
        let rc = octet_libcpuid_identify(&info, &errorBuffer, errorBuffer.count)
        let libcpuidOK = rc == 0
        if libcpuidOK {
            let version = String(cString: octet_libcpuid_version())
            notes.append("libcpuid \(version): vendor, model, cores, caches; ISA features from CPUID")
            let fromLibcpuid: [(ISAFeature, UInt8)] = [
                (.sse4_2, info.sse4_2), (.avx, info.avx), (.avx2, info.avx2), (.fma, info.fma3), (.f16c, info.f16c),
                (.avx512f, info.avx512f), (.avx512bw, info.avx512bw), (.avx512vl, info.avx512vl),
                (.avx512dq, info.avx512dq), (.avx512_vnni, info.avx512vnni),
            ]
            for (feature, flag) in fromLibcpuid where (flag != 0) != hardware.contains(feature) {
                notes.append("libcpuid \(version) says \(feature) \(flag != 0 ? "yes" : "no"), CPUID says \(hardware.contains(feature) ? "yes" : "no"): CPUID is used")
            }
        } else {
            let message = String(decoding: errorBuffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            notes.append("libcpuid failed (\(rc)): \(message); vendor and caches from CPUID only")
        }
        notes.append("XCR0 = 0x\(String(isa.dump.xcr0, radix: 16))")
        let notEnabled = hardware.subtracting(ISAFeature.set(from: isa.os_enabled))
        if !notEnabled.isEmpty {
            notes.append("the OS does not enable the register state of \(notEnabled.sorted().map(\.rawValue).joined(separator: ", "))")
        }
        if hardware.contains(.amx_tile) {
            switch isa.amx_permission {
            case 1: notes.append("AMX tile data: permitted (arch_prctl ARCH_REQ_XCOMP_PERM)")
            case 0: notes.append("AMX tile data: refused by the kernel")
            default: notes.append("AMX tile data: no permission interface (kernel before 5.16, or not Linux)")
            }
        }
        if let v = dump.avx10Version { notes.append("AVX10.\(v) reported") }
        let vendor = libcpuidOK ? cString(info.vendor) : dump.vendor
        let brand = libcpuidOK ? cString(info.brand).trimmingSpaces() : "x86-64 CPU"
        let cores = libcpuidOK && info.cores > 0 ? Int(info.cores) : logical
        let caches = libcpuidOK ? Caches(l1d: kib(info.l1d_kb), l2: kib(info.l2_kb), l3: kib(info.l3_kb)) : Caches()
        #else
        notes.append("CPUID is x86-only; features read from the OS")
        let vendor = "unknown", brand = "\(hostArchitecture) CPU", cores = logical
        let caches = Caches()
        #endif

        let dropped = ISAFeature.set(from: isa.dropped)
        if !dropped.isEmpty {
            notes.append("not used, a prerequisite is missing: \(dropped.sorted().map(\.rawValue).joined(separator: ", "))")
        }
        var cap: ISACap?
        if isa.cap_source != OCTET_ISA_CAP_NONE {
            let variable = switch isa.cap_source {
            case OCTET_ISA_CAP_OCTET_MAX_ISA: "OCTET_MAX_ISA"
            case OCTET_ISA_CAP_ONEDNN_MAX_CPU_ISA: "ONEDNN_MAX_CPU_ISA"
            default: "DNNL_MAX_CPU_ISA"
            }
            cap = ISACap(variable: variable, value: cString(isa.cap_value), level: isa.cap_invalid != 0 ? nil : ISALevel(isa.cap))
        }
        var cpu = CPUFeatures(
            vendor: vendor, model: brand, architecture: hostArchitecture, cores: cores, logicalCPUs: logical,
            caches: caches, hardware: hardware, features: ISAFeature.set(from: isa.features), origin: .detected, notes: notes
        )
        cpu.cap = cap
        if let cap {
            let above = ISAFeature.set(from: isa.usable).subtracting(cpu.features)
            cpu.notes.append(cap.description + (above.isEmpty ? "" : "; not used: \(above.sorted().map(\.rawValue).joined(separator: ", "))"))
        }
        return cpu
    }

    private static func kib(_ v: Int32) -> Int? { v > 0 ? Int(v) * 1024 : nil }

    /// This description with every feature above `level` removed, as `OCTET_MAX_ISA`
    /// does for a process: a lower host for tests and for `SessionOptions`.
    public func capped(at level: ISALevel) -> CPUFeatures {
        var c = self
        c.features = features.intersection(level.allowedFeatures)
        c.cap = ISACap(variable: "capped(at:)", value: level.rawValue, level: level)
        return c
    }
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
