#!/usr/bin/env bash
# Writes BUILD_DIR/pkgconfig/octet.pc for the C API (libOctetC.so, octet.h) built in BUILD_DIR.
# Usage: scripts/make-pkgconfig.sh [BUILD_DIR]   (default: .build/debug)
#   then: PKG_CONFIG_PATH=BUILD_DIR/pkgconfig cc app.c $(pkg-config --cflags --libs octet)
set -euo pipefail
cd "$(dirname "$0")/.."
build=$(cd "${1:-.build/debug}" && pwd)
root=$(pwd)
mkdir -p "$build/pkgconfig"
version=$(sed -n 's/^public let octetVersion = "\(.*\)".*/\1/p' Sources/Octet/Exports.swift)
[ -n "$version" ] || { echo "make-pkgconfig: no octetVersion in Sources/Octet/Exports.swift" >&2; exit 1; }
cat > "$build/pkgconfig/octet.pc" <<PC
libdir=$build
includedir=$root/Sources/COctetAPI/include

Name: octet
Description: Octet's C API: INT8 inference on CPUs with a dispatch trace
Version: $version
Cflags: -I\${includedir}
Libs: -L\${libdir} -Wl,-rpath,\${libdir} -lOctetC
PC
echo "$build/pkgconfig/octet.pc"
