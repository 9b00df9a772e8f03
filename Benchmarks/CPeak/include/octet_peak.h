#pragma once
#include <stdint.h>
/// Single-core throughput probes: each runs `iterations` of 12 independent accumulator
/// chains and returns the multiply-accumulates performed (0 when the CPU lacks the ISA).
uint64_t octet_peak_maddwd(uint64_t iterations);     ///< vpmaddwd + vpaddd on s16 pairs (exact u8·s8)
uint64_t octet_peak_maddwd_zmm(uint64_t iterations); ///< the same on zmm (AVX-512BW)
uint64_t octet_peak_maddubsw(uint64_t iterations);   ///< vpmaddubsw + vpmaddwd + vpaddd (saturating u8·s8)
uint64_t octet_peak_fma(uint64_t iterations);        ///< vfmadd231ps (fp32)
uint64_t octet_peak_dpbusd_zmm(uint64_t iterations); ///< vpdpbusd zmm (AVX-512 VNNI; exact u8·s8, four per lane)
uint64_t octet_peak_dpbusd_ymm(uint64_t iterations); ///< VEX vpdpbusd ymm (AVX-VNNI)
