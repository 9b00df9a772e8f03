// What a third-party backend imports, as swift-nio's NIOCore: the op signature and the
// tensors it names (OctetCore), the CPU description (OctetCPU), and the `Backend` /
// `Kernel` protocols, `Capability` and `BackendRegistry` (OctetDispatch) — no concrete
// backend, no runtime. Check a backend with the `OctetConformance` product; run models
// with the `Octet` product.
@_exported import OctetCore
@_exported import OctetCPU
@_exported import OctetDispatch
