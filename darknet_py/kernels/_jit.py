"""The ONLY place numba is configured: environment, JIT flags and the kernel decorators.

Numba reads its environment once, at import, so this module sets it before importing numba
(PERFORMANCE.md: with the wrong import order a 2-thread gemm silently halved). Every kernel module
imports its decorators from here; tests/test_kernel_rules.py checks that no other module imports numba.

* ``NUMBA_SLP_VECTORIZE=1``: numba turns LLVM's SLP vectorizer off by default; register-blocked
  loops lose a factor of ~15 without it.
* ``-prefer-256-bit``: on AVX-512 CPUs LLVM otherwise uses only ymm registers (half the width).
* ``NUMBA_CPU_NAME`` without ``NUMBA_CPU_FEATURES``: numba would combine the named CPU with the HOST's
  features (``NUMBA_CPU_NAME=haswell`` on an AVX-512 host still emitted AVX-512); we give the named
  CPU its own default features instead (plus ``-prefer-256-bit`` on x86), so a haswell build is one.
* ``target_cpu()`` / ``target_isa()`` say which CPU numba compiles for and which vector ISA that
  gives ("avx512", "avx2" or "generic"); kernels/gemm.py picks its register tile from it once.
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


def _is_x86():
    try:
        from llvmlite import binding as llvm
        return llvm.get_process_triple().split("-")[0] in ("x86_64", "i386", "i686")
    except Exception:   # pragma: no cover
        return False


# What the user asked for, before _configure_environment adds its own NUMBA_CPU_FEATURES (for reports).
CPU_REQUEST = ", ".join("%s=%s" % (v, os.environ[v]) for v in ("NUMBA_CPU_NAME", "NUMBA_CPU_FEATURES")
                        if v in os.environ) or "host CPU"


def _configure_environment():
    os.environ.setdefault("NUMBA_SLP_VECTORIZE", "1")
    if "NUMBA_CPU_FEATURES" not in os.environ:
        if "NUMBA_CPU_NAME" not in os.environ:
            features = _host_features_without_256_bit_preference()
            if features:
                os.environ["NUMBA_CPU_FEATURES"] = features
        elif os.environ["NUMBA_CPU_NAME"].lower() != "generic":
            # The named CPU's own features ("" = its defaults), not the host's (see the docstring).
            os.environ["NUMBA_CPU_FEATURES"] = "-prefer-256-bit" if _is_x86() else ""
    if "numba" in sys.modules:     # imported earlier by the user: make it re-read the environment
        from numba.core import config
        config.reload_config()


_configure_environment()

from numba import njit, prange  # noqa: E402  (must come after the environment is set)
# For kernels written as LLVM IR (kernels/gemm.py's register tiles): an intrinsic's code is emitted
# inline into the jitted caller, so it is compiled and cached with the caller's flags.
from numba import types as numba_types  # noqa: E402
from numba.core import cgutils  # noqa: E402
from numba.extending import intrinsic  # noqa: E402

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

__all__ = ["kernel", "parallel_kernel", "gemm_kernel", "parallel_gemm_kernel", "prange", "num_threads", "CACHE",
           "target_cpu", "target_isa", "thread_count", "intrinsic", "numba_types", "cgutils"]

# Default features of CPU names LLVM knows (x86), by the widest ISA a gemm micro-kernel can use.
# Only consulted for a CPU named without a full feature list (NUMBA_CPU_NAME); explicit +/- features
# (the host's list, NUMBA_CPU_FEATURES) override them.
_AVX512_CPUS = frozenset("""skylake-avx512 cascadelake cooperlake cannonlake icelake-client icelake-server
    tigerlake rocketlake sapphirerapids emeraldrapids graniterapids graniterapids-d diamondrapids znver4
    znver5 x86-64-v4 knl knm""".split())
_AVX2_CPUS = frozenset("""haswell broadwell skylake core-avx2 alderlake raptorlake meteorlake arrowlake
    arrowlake-s lunarlake pantherlake gracemont sierraforest grandridge clearwaterforest znver1 znver2
    znver3 bdver4 x86-64-v3""".split())


def target_cpu():
    """(cpu name, feature string) that numba compiles for: NUMBA_CPU_NAME / NUMBA_CPU_FEATURES as
    numba read them, else the host's (the same rule as numba's codegen)."""
    from numba.core import config
    from llvmlite import binding as llvm
    name = config.CPU_NAME or llvm.get_host_cpu_name()
    if config.CPU_FEATURES is not None:
        return name, config.CPU_FEATURES
    from numba.core.codegen import get_host_cpu_features
    return name, get_host_cpu_features()


def _features_of(name, features):
    """Set of enabled features: the named CPU's defaults (as far as the ISA goes), then +f / -f."""
    have = set()
    if name in _AVX512_CPUS:
        have |= {"avx512f", "avx2", "fma"}
    elif name in _AVX2_CPUS:
        have |= {"avx2", "fma"}
    for f in filter(None, (f.strip() for f in features.split(","))):
        if f[0] == "-":
            have.discard(f[1:])
        else:
            have.add(f.lstrip("+"))
    return have


def target_isa(name=None, features=None):
    """"avx512", "avx2" or "generic": the gemm micro-kernel family for the CPU numba targets
    (or for ``name``/``features`` when given). AVX-512 and AVX2 need FMA too; anything else (SSE,
    ARM NEON, ...) is "generic", left to LLVM's vectorizer."""
    if name is None:
        name, features = target_cpu()
    have = _features_of(name.lower(), features or "")
    if {"avx512f", "fma"} <= have:
        return "avx512"
    if {"avx2", "fma"} <= have:
        return "avx2"
    return "generic"


def thread_count():
    """Numba's current thread count (for reports; kernels use ``num_threads``)."""
    import numba
    return numba.get_num_threads()


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
