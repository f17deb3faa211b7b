"""The ONLY place numba is configured: environment, JIT flags and the kernel decorators.

Numba reads its environment once, at import, so this module sets it before importing numba
(PERFORMANCE.md: with the wrong import order a 2-thread gemm silently halved). Every kernel module
imports its decorators from here; tests/test_kernel_rules.py checks that no other module imports numba.

* ``NUMBA_SLP_VECTORIZE=1``: numba turns LLVM's SLP vectorizer off by default; register-blocked
  loops lose a factor of ~15 without it.
* ``-prefer-256-bit``: on AVX-512 CPUs LLVM otherwise uses only ymm registers (half the width).
* ``cache=True``: a second process loads machine code from disk instead of compiling (~0.1 s vs ~30 s).
  The cache key includes the CPU name and features, so the flags above cannot give stale code.
* ``fastmath=False`` by default: reassociation changes results beyond Darknet parity.
  ``contract`` (FMA fusion only) is allowed where noted (gemm).
* ``error_model="numpy"``: division by zero gives inf/nan like C, no Python exception check per divide.
"""
import os
import sys


def _host_features_without_256_bit_preference():
    try:
        from llvmlite import binding as llvm
        features = llvm.get_host_cpu_features()
    except Exception:   # pragma: no cover - exotic platforms: let numba decide
        return None
    if not features.get("avx512f", False):
        return None
    return features.flatten() + ",-prefer-256-bit"


def _configure_environment():
    os.environ.setdefault("NUMBA_SLP_VECTORIZE", "1")
    if "NUMBA_CPU_FEATURES" not in os.environ and "NUMBA_CPU_NAME" not in os.environ:
        features = _host_features_without_256_bit_preference()
        if features:
            os.environ["NUMBA_CPU_FEATURES"] = features
    if "numba" in sys.modules:     # imported earlier by the user: make it re-read the environment
        from numba.core import config
        config.reload_config()


_configure_environment()

from numba import njit, prange  # noqa: E402  (must come after the environment is set)

try:
    # numba.get_num_threads() reaches the threading layer through a ctypes pointer, which makes
    # any kernel calling it uncachable ("dynamic globals"); this intrinsic calls the same C function
    # by symbol, so gemm can split its work by the thread count and still be cached.
    from numba.np.ufunc.parallel import _iget_num_threads as num_threads  # noqa: E402
except ImportError:     # pragma: no cover - a numba without the private intrinsic: correct, uncached
    from numba import get_num_threads as num_threads  # noqa: E402

CACHE = os.environ.get("DARKNET_PY_JIT_CACHE", "1") != "0"
_FLAGS = dict(cache=CACHE, fastmath=False, error_model="numpy", nogil=True)

# A serial kernel: small or inherently sequential loops.
kernel = njit(**_FLAGS)
# A kernel whose outer loop is a prange; each iteration must write a disjoint slice (owner computes).
parallel_kernel = njit(parallel=True, **_FLAGS)
# Dense inner products (gemm): FMA contraction allowed, no reassociation (results stay Darknet's).
gemm_kernel = njit(**dict(_FLAGS, fastmath={"contract"}))
parallel_gemm_kernel = njit(parallel=True, **dict(_FLAGS, fastmath={"contract"}))

__all__ = ["kernel", "parallel_kernel", "gemm_kernel", "parallel_gemm_kernel", "prange", "num_threads", "CACHE"]


def cache_is_cold():
    """True when no compiled kernel of this package is in numba's on-disk cache yet (first run)."""
    from pathlib import Path
    from numba.core import config
    here = Path(__file__).resolve().parent
    root = Path(config.CACHE_DIR) if config.CACHE_DIR else here / "__pycache__"
    try:
        return not any(p.name.startswith(("blas.", "norm.", "gemm.")) for p in root.rglob("*.nbi"))
    except OSError:
        return True
