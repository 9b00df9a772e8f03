#!/usr/bin/env python3
"""Helpers for scripts/cli-tests.sh.

  compare-npy.py DIR EXPECTED.npz TOL   every array of EXPECTED.npz equals DIR/<name>.npy within TOL
                                        (relative to the largest magnitude)
  compare-npy.py --extract ARCHIVE.npz NAME OUT.npy
"""
import sys
import numpy as np

if sys.argv[1] == "--extract":
    np.save(sys.argv[4], np.load(sys.argv[2])[sys.argv[3]])
    sys.exit(0)
folder, expected, tol = sys.argv[1], np.load(sys.argv[2]), float(sys.argv[3])
for name in expected.files:
    want = expected[name]
    got = np.load(f"{folder}/{name.replace('/', '_')}.npy")
    assert got.shape == want.shape and got.dtype == want.dtype, (name, got.shape, got.dtype, want.shape, want.dtype)
    err = np.abs(got.astype(np.float64) - want).max() / max(np.abs(want).max(), 1e-6)
    assert err <= tol, (name, err)
    print(f"{name}: max relative error {err:.2e}")
