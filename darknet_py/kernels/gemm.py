"""General matrix multiply, C = alpha * op(A) @ op(B) + beta * C, on 2-D C-contiguous views.

The four transpose cases Darknet uses (gemm_nn, gemm_nt, gemm_tn, gemm_tt). A is (M, K), or (K, M)
when trans_a; B is (K, N), or (N, K) when trans_b; C is (M, N). Callers make 2-D views of their flat
buffers with reshape (no copy). Pass trans_a/trans_b as bools and alpha/beta as Python floats: each
new combination of argument types is a new compilation.

Semantics are Darknet's gemm_cpu, not BLAS's: C is multiplied by beta first (so beta == 0 keeps a
NaN already in C: NaN * 0 = NaN; our callers zero or prefill C), then alpha * op(A) @ op(B) is
accumulated, and alpha is folded into A the way Darknet's ``A_PART = ALPHA * A[i*lda + k]`` does.
Every C element is computed in Darknet's order: c = beta * c, then c += (alpha * a_ik) * b_kj for
k = 0, 1, ... (contracted to an FMA where the CPU has one). The order depends neither on the thread
count, nor on where the tiles fall, nor on the register tile, so results are bitwise reproducible
across thread counts and equal between the AVX-512 and AVX2 kernels (the generic kernel differs only
where its target has no FMA: a separate multiply and add round twice).

Kernels chosen by the CPU
-------------------------
``ISA`` is picked once, at import, from the CPU that Numba compiles for (_jit.target_isa: the
NUMBA_CPU_NAME / NUMBA_CPU_FEATURES numba reads, else the host): a register tile fits when its
accumulators plus the B loads and the A broadcast fit the vector registers.

=========  =====================  =========================  ======================================
ISA        registers              float32 tile (tail)        float64 tile
=========  =====================  =========================  ======================================
avx512     32 zmm (16 floats)     8 x 32 = 16 acc (8 x 16)   8 x 16 = 16 acc
avx2       16 ymm (8 floats), FMA 3 x 32 = 12 acc (3 x 16)   3 x 16 = 12 acc
generic    16 xmm (SSE) / 32 q    4 x 8 = 8 acc              4 x 4 = 8 acc
           (NEON), via LLVM
=========  =====================  =========================  ======================================

Why 3 x 32 and not the textbook 6 x 16 on AVX2 (both 12 accumulators + 4 operand registers): LLVM
schedules all 6 broadcasts of A ahead of their FMAs, which needs 20 ymm registers, and spills: the
haswell build of a 6 x 16 k-step was 50 instructions with 9 stack accesses for 12 FMAs; 3 x 32 is
23 instructions, no stack access (4 B loads, 3 broadcasts, 12 FMAs), and so is 3 x 16 for float64.
The generic tiles are the largest with no spill on baseline x86-64 (SSE2, no FMA: a multiply and an
add, and a register copy, per pair of elements).

``gemm`` is a thin Python function that calls the driver of (ISA, dtype); ``gemm_for(isa, dtype)``
gives any ISA's driver (the tests run every one the host can execute); ``tile()`` describes the
choice ("avx512 8x32 float32 (+8x16 tail)"). ``tools/bench_gemm.py`` and ``darknet-py bench`` show it.

Why the on-disk cache never hands one ISA's machine code to another CPU: numba keys each cached
function on (its file's stamp, its qualified name and first line, its signature, the target CPU
name + features). Every (ISA, dtype) variant is its OWN jitted function (``_gemm_avx2_f32``,
``_block_avx2_f32``, ...; clones of one template with the tile constants bound in their globals,
all in this file) that calls its ISA's micro-kernels by name. So (1) code compiled for one CPU is
only ever loaded for the same CPU name + features; (2) a variant's tile is fixed by its name and this
file, and editing this file invalidates all of them; (3) the ISA choice itself is made in Python at
import, never read as a constant by compiled code, so no compiled function depends on a value from
another module (numba's key would not see such a value). A variant compiled for a CPU that cannot
run it well (the AVX-512 tile on AVX2) is still correct, only slow; a CPU that cannot execute the
instructions gets its own compilation, because its name/features differ.

How it is fast (GotoBLAS/BLIS structure; PERFORMANCE.md has the measurements and the traps):

* Register tile: the micro-kernel ``_micro_MRxNR`` keeps an MR x NR block of C in scalar locals,
  which LLVM's SLP vectorizer turns into vector accumulators (AVX-512 float32: 8 x 32 = 16 zmm, 2 per
  row). Each step of k loads NR/width vectors of B, broadcasts MR values of A and issues
  MR * NR/width FMAs: enough independent accumulators to cover the FMA latency on both FMA ports,
  and few enough loads per FMA. Numba has no SIMD types and no noalias on array arguments, so an
  array accumulator would be reloaded and stored every k step; scalars are the only way to hold the
  tile in registers. The kernels' text is therefore generated (``_micro_kernel_source``; tests check
  that it is in sync). The 32-column float32 tiles have a second, 16-column kernel for column tails
  of 16 or fewer (N = 169 = 5*32 + 9 wastes 12% of the work with a 32-wide tail, 4% with a 16-wide
  one); the narrower tiles waste little and have one kernel. Each kernel has a single call site,
  because every extra one costs LLVM seconds at the first compile.
* Packing: the kernel reads A as rows along k (``aa[ia + r, ka + p]``) and B as rows along n
  (``bb[kb + p, jb + s]``), either in place or from a packed copy of the same shape:
  - op(A) is packed (times alpha) into a row-major MC x KC block for TN/TT and when alpha != 1.
    NN with alpha == 1 (every forward convolution) reads A in place: its rows already run along k,
    and with N = 169 a packed copy would be read only 6 times, so packing cost ~10%.
  - op(B) is packed into NR-column micro-panels stacked as rows (panel q = rows q*kc .. q*kc+kc-1 of
    a (panels*kc, NR) array), zero-padded past N: each kernel call then streams one contiguous
    panel instead of touching kc different pages of B. NN with k <= DIRECT_B_MAX_K reads B in
    place (16x27x173056: B is streamed once from memory and a copy would only add traffic).
  One kernel therefore serves NN, NT, TN and TT; only the packing loops differ, and a transposed
  pack is a strided gather done once per block (the outer loop walks rows of the source).
* Blocking (loops jc -> pc -> pack B -> ic -> pack A -> ir -> jr -> kernel): a KC x NC block of B
  stays in L2 while each MR x KC sliver of A is reused from L1 across it (AVX-512: 256 x 1024
  float32 = 1 MiB of a 2 MiB L2; AVX2/generic: 384 KiB, for the 512 KiB L2 of AMD Zen 2/3). C tiles
  are read and written once per KC block, and beta is applied on the first KC block's read.
* Edges: tiles that stick out of C are copied into a zero-padded MR x NR scratch tile, run through
  the same kernel and copied back, so the kernel never needs bounds.
* Threads: C is split into ``numba.get_num_threads()`` slabs (columns when N >= M, else rows) on
  tile boundaries; each prange task packs its own panels, so tasks share nothing they write.
* Indexes are masked to 32 bits (``& _IDX``) before use: Numba then knows they are >= 0 and drops
  its negative-index wraparound selects, which otherwise defeat vectorisation (as flat
  ``a[i*lda + k]`` indexing does). No array is sliced inside the loops: every view would
  incref/decref the parent's refcount, an atomic shared by both threads.

Scratch memory: each task allocates its packing buffers once per call with np.empty, bounded by the
block sizes (at most (MC + NC) * KC + MR * NR elements, about 1.2 MiB for float32) whatever the
size of the product; there is no allocation inside the loops. This keeps the public API unchanged
(no buffers to pass in) at the cost of three small allocations per task per call (~1 us; glibc
reuses the same blocks call after call).

All kernels live in this one module because Numba's on-disk cache is keyed per file.
"""
import types
from collections import namedtuple

import numpy as np

from ._jit import gemm_kernel, num_threads, parallel_gemm_kernel, prange, target_isa

# A variant's blocking: register tile MR x NR (NR2: narrow tail kernel, == NR when there is none),
# KC depth of a block, MC rows of op(A) packed at once (multiple of MR), NC columns of op(B) packed
# at once (multiple of NR; KC x NC elements sit in L2), DIRECT_B_MAX_M: NN reads B in place when a
# thread's slab has at most this many rows (see _block).
Tile = namedtuple("Tile", "mr nr nr2 kc mc nc direct_b_max_m")
TILES = {
    ("avx512", "f4"): Tile(8, 32, 16, 256, 128, 1024, 0),
    ("avx512", "f8"): Tile(8, 16, 16, 256, 128, 512, 0),
    ("avx2", "f4"): Tile(3, 32, 16, 256, 96, 384, 32),
    ("avx2", "f8"): Tile(3, 16, 16, 256, 96, 192, 32),
    ("generic", "f4"): Tile(4, 8, 8, 256, 128, 384, 0),
    ("generic", "f8"): Tile(4, 4, 4, 256, 128, 192, 0),
}
ISAS = ("avx512", "avx2", "generic")
ISA = target_isa()      # chosen once, from the CPU numba compiles for (module docstring)
DIRECT_B_MAX_K = 64     # NN with k up to this reads B in place (no packing): see _block
_IDX = 0xFFFFFFFF       # index mask: proves to LLVM that an index is >= 0 (see module docstring)
MICRO_TILES = sorted({(t.mr, n) for t in TILES.values() for n in {t.nr, t.nr2}}, reverse=True)


def _micro_kernel_source(mr, nr, name):
    """Text of the generated register-tile kernel ``name``:

        C[i:i+mr, j:j+nr] = cs * C[i:i+mr, j:j+nr] + aa[ia:ia+mr, ka:ka+kc] @ bb[kb:kb+kc, jb:jb+nr]

    aa is alpha * op(A) with rows along k (A itself for NN with alpha == 1, else a packed block);
    bb is op(B) with rows along k (B itself for NN with small k, else a packed micro-panel). The
    k-loop is sequential and each step is one FMA per element (Darknet's order). One statement per
    element, no loop over the tile: the SLP vectorizer packs each row's nr scalars into zmm registers.
    """
    lines = ["@gemm_kernel",
             f"def {name}(kc, aa, ia, ka, bb, kb, jb, c, i, j, cs):  # generated: _micro_kernel_source({mr}, {nr}, {name!r})",
             "    kc &= _IDX; ia &= _IDX; ka &= _IDX; kb &= _IDX; jb &= _IDX; i &= _IDX; j &= _IDX  # noqa: E702"]
    for r in range(mr):
        lines.append("    " + "; ".join(f"c{r}_{s} = c[i + {r}, j + {s}] * cs" for s in range(nr))
                     + "  # noqa: E501, E702")
    lines.append("    for p in range(kc):")
    lines.append("        kp = ka + p")
    lines.append("        bq = kb + p")
    lines.append("        " + "; ".join(f"b{s} = bb[bq, jb + {s}]" for s in range(nr)) + "  # noqa: E501, E702")
    for r in range(mr):
        lines.append(f"        a = aa[ia + {r}, kp]")
        lines.append("        " + "; ".join(f"c{r}_{s} += a * b{s}" for s in range(nr)) + "  # noqa: E501, E702")
    for r in range(mr):
        lines.append("    " + "; ".join(f"c[i + {r}, j + {s}] = c{r}_{s}" for s in range(nr))
                     + "  # noqa: E501, E702")
    return "\n".join(lines) + "\n"


GENERATED_BEGIN = "# ---- generated by _micro_kernel_source; do not edit (tests check it) ----\n"
GENERATED_END = "# ---- end of generated code ----\n"


# ---- generated by _micro_kernel_source; do not edit (tests check it) ----


@gemm_kernel
def _micro_8x32(kc, aa, ia, ka, bb, kb, jb, c, i, j, cs):  # generated: _micro_kernel_source(8, 32, '_micro_8x32')
    kc &= _IDX; ia &= _IDX; ka &= _IDX; kb &= _IDX; jb &= _IDX; i &= _IDX; j &= _IDX  # noqa: E702
    c0_0 = c[i + 0, j + 0] * cs; c0_1 = c[i + 0, j + 1] * cs; c0_2 = c[i + 0, j + 2] * cs; c0_3 = c[i + 0, j + 3] * cs; c0_4 = c[i + 0, j + 4] * cs; c0_5 = c[i + 0, j + 5] * cs; c0_6 = c[i + 0, j + 6] * cs; c0_7 = c[i + 0, j + 7] * cs; c0_8 = c[i + 0, j + 8] * cs; c0_9 = c[i + 0, j + 9] * cs; c0_10 = c[i + 0, j + 10] * cs; c0_11 = c[i + 0, j + 11] * cs; c0_12 = c[i + 0, j + 12] * cs; c0_13 = c[i + 0, j + 13] * cs; c0_14 = c[i + 0, j + 14] * cs; c0_15 = c[i + 0, j + 15] * cs; c0_16 = c[i + 0, j + 16] * cs; c0_17 = c[i + 0, j + 17] * cs; c0_18 = c[i + 0, j + 18] * cs; c0_19 = c[i + 0, j + 19] * cs; c0_20 = c[i + 0, j + 20] * cs; c0_21 = c[i + 0, j + 21] * cs; c0_22 = c[i + 0, j + 22] * cs; c0_23 = c[i + 0, j + 23] * cs; c0_24 = c[i + 0, j + 24] * cs; c0_25 = c[i + 0, j + 25] * cs; c0_26 = c[i + 0, j + 26] * cs; c0_27 = c[i + 0, j + 27] * cs; c0_28 = c[i + 0, j + 28] * cs; c0_29 = c[i + 0, j + 29] * cs; c0_30 = c[i + 0, j + 30] * cs; c0_31 = c[i + 0, j + 31] * cs  # noqa: E501, E702
    c1_0 = c[i + 1, j + 0] * cs; c1_1 = c[i + 1, j + 1] * cs; c1_2 = c[i + 1, j + 2] * cs; c1_3 = c[i + 1, j + 3] * cs; c1_4 = c[i + 1, j + 4] * cs; c1_5 = c[i + 1, j + 5] * cs; c1_6 = c[i + 1, j + 6] * cs; c1_7 = c[i + 1, j + 7] * cs; c1_8 = c[i + 1, j + 8] * cs; c1_9 = c[i + 1, j + 9] * cs; c1_10 = c[i + 1, j + 10] * cs; c1_11 = c[i + 1, j + 11] * cs; c1_12 = c[i + 1, j + 12] * cs; c1_13 = c[i + 1, j + 13] * cs; c1_14 = c[i + 1, j + 14] * cs; c1_15 = c[i + 1, j + 15] * cs; c1_16 = c[i + 1, j + 16] * cs; c1_17 = c[i + 1, j + 17] * cs; c1_18 = c[i + 1, j + 18] * cs; c1_19 = c[i + 1, j + 19] * cs; c1_20 = c[i + 1, j + 20] * cs; c1_21 = c[i + 1, j + 21] * cs; c1_22 = c[i + 1, j + 22] * cs; c1_23 = c[i + 1, j + 23] * cs; c1_24 = c[i + 1, j + 24] * cs; c1_25 = c[i + 1, j + 25] * cs; c1_26 = c[i + 1, j + 26] * cs; c1_27 = c[i + 1, j + 27] * cs; c1_28 = c[i + 1, j + 28] * cs; c1_29 = c[i + 1, j + 29] * cs; c1_30 = c[i + 1, j + 30] * cs; c1_31 = c[i + 1, j + 31] * cs  # noqa: E501, E702
    c2_0 = c[i + 2, j + 0] * cs; c2_1 = c[i + 2, j + 1] * cs; c2_2 = c[i + 2, j + 2] * cs; c2_3 = c[i + 2, j + 3] * cs; c2_4 = c[i + 2, j + 4] * cs; c2_5 = c[i + 2, j + 5] * cs; c2_6 = c[i + 2, j + 6] * cs; c2_7 = c[i + 2, j + 7] * cs; c2_8 = c[i + 2, j + 8] * cs; c2_9 = c[i + 2, j + 9] * cs; c2_10 = c[i + 2, j + 10] * cs; c2_11 = c[i + 2, j + 11] * cs; c2_12 = c[i + 2, j + 12] * cs; c2_13 = c[i + 2, j + 13] * cs; c2_14 = c[i + 2, j + 14] * cs; c2_15 = c[i + 2, j + 15] * cs; c2_16 = c[i + 2, j + 16] * cs; c2_17 = c[i + 2, j + 17] * cs; c2_18 = c[i + 2, j + 18] * cs; c2_19 = c[i + 2, j + 19] * cs; c2_20 = c[i + 2, j + 20] * cs; c2_21 = c[i + 2, j + 21] * cs; c2_22 = c[i + 2, j + 22] * cs; c2_23 = c[i + 2, j + 23] * cs; c2_24 = c[i + 2, j + 24] * cs; c2_25 = c[i + 2, j + 25] * cs; c2_26 = c[i + 2, j + 26] * cs; c2_27 = c[i + 2, j + 27] * cs; c2_28 = c[i + 2, j + 28] * cs; c2_29 = c[i + 2, j + 29] * cs; c2_30 = c[i + 2, j + 30] * cs; c2_31 = c[i + 2, j + 31] * cs  # noqa: E501, E702
    c3_0 = c[i + 3, j + 0] * cs; c3_1 = c[i + 3, j + 1] * cs; c3_2 = c[i + 3, j + 2] * cs; c3_3 = c[i + 3, j + 3] * cs; c3_4 = c[i + 3, j + 4] * cs; c3_5 = c[i + 3, j + 5] * cs; c3_6 = c[i + 3, j + 6] * cs; c3_7 = c[i + 3, j + 7] * cs; c3_8 = c[i + 3, j + 8] * cs; c3_9 = c[i + 3, j + 9] * cs; c3_10 = c[i + 3, j + 10] * cs; c3_11 = c[i + 3, j + 11] * cs; c3_12 = c[i + 3, j + 12] * cs; c3_13 = c[i + 3, j + 13] * cs; c3_14 = c[i + 3, j + 14] * cs; c3_15 = c[i + 3, j + 15] * cs; c3_16 = c[i + 3, j + 16] * cs; c3_17 = c[i + 3, j + 17] * cs; c3_18 = c[i + 3, j + 18] * cs; c3_19 = c[i + 3, j + 19] * cs; c3_20 = c[i + 3, j + 20] * cs; c3_21 = c[i + 3, j + 21] * cs; c3_22 = c[i + 3, j + 22] * cs; c3_23 = c[i + 3, j + 23] * cs; c3_24 = c[i + 3, j + 24] * cs; c3_25 = c[i + 3, j + 25] * cs; c3_26 = c[i + 3, j + 26] * cs; c3_27 = c[i + 3, j + 27] * cs; c3_28 = c[i + 3, j + 28] * cs; c3_29 = c[i + 3, j + 29] * cs; c3_30 = c[i + 3, j + 30] * cs; c3_31 = c[i + 3, j + 31] * cs  # noqa: E501, E702
    c4_0 = c[i + 4, j + 0] * cs; c4_1 = c[i + 4, j + 1] * cs; c4_2 = c[i + 4, j + 2] * cs; c4_3 = c[i + 4, j + 3] * cs; c4_4 = c[i + 4, j + 4] * cs; c4_5 = c[i + 4, j + 5] * cs; c4_6 = c[i + 4, j + 6] * cs; c4_7 = c[i + 4, j + 7] * cs; c4_8 = c[i + 4, j + 8] * cs; c4_9 = c[i + 4, j + 9] * cs; c4_10 = c[i + 4, j + 10] * cs; c4_11 = c[i + 4, j + 11] * cs; c4_12 = c[i + 4, j + 12] * cs; c4_13 = c[i + 4, j + 13] * cs; c4_14 = c[i + 4, j + 14] * cs; c4_15 = c[i + 4, j + 15] * cs; c4_16 = c[i + 4, j + 16] * cs; c4_17 = c[i + 4, j + 17] * cs; c4_18 = c[i + 4, j + 18] * cs; c4_19 = c[i + 4, j + 19] * cs; c4_20 = c[i + 4, j + 20] * cs; c4_21 = c[i + 4, j + 21] * cs; c4_22 = c[i + 4, j + 22] * cs; c4_23 = c[i + 4, j + 23] * cs; c4_24 = c[i + 4, j + 24] * cs; c4_25 = c[i + 4, j + 25] * cs; c4_26 = c[i + 4, j + 26] * cs; c4_27 = c[i + 4, j + 27] * cs; c4_28 = c[i + 4, j + 28] * cs; c4_29 = c[i + 4, j + 29] * cs; c4_30 = c[i + 4, j + 30] * cs; c4_31 = c[i + 4, j + 31] * cs  # noqa: E501, E702
    c5_0 = c[i + 5, j + 0] * cs; c5_1 = c[i + 5, j + 1] * cs; c5_2 = c[i + 5, j + 2] * cs; c5_3 = c[i + 5, j + 3] * cs; c5_4 = c[i + 5, j + 4] * cs; c5_5 = c[i + 5, j + 5] * cs; c5_6 = c[i + 5, j + 6] * cs; c5_7 = c[i + 5, j + 7] * cs; c5_8 = c[i + 5, j + 8] * cs; c5_9 = c[i + 5, j + 9] * cs; c5_10 = c[i + 5, j + 10] * cs; c5_11 = c[i + 5, j + 11] * cs; c5_12 = c[i + 5, j + 12] * cs; c5_13 = c[i + 5, j + 13] * cs; c5_14 = c[i + 5, j + 14] * cs; c5_15 = c[i + 5, j + 15] * cs; c5_16 = c[i + 5, j + 16] * cs; c5_17 = c[i + 5, j + 17] * cs; c5_18 = c[i + 5, j + 18] * cs; c5_19 = c[i + 5, j + 19] * cs; c5_20 = c[i + 5, j + 20] * cs; c5_21 = c[i + 5, j + 21] * cs; c5_22 = c[i + 5, j + 22] * cs; c5_23 = c[i + 5, j + 23] * cs; c5_24 = c[i + 5, j + 24] * cs; c5_25 = c[i + 5, j + 25] * cs; c5_26 = c[i + 5, j + 26] * cs; c5_27 = c[i + 5, j + 27] * cs; c5_28 = c[i + 5, j + 28] * cs; c5_29 = c[i + 5, j + 29] * cs; c5_30 = c[i + 5, j + 30] * cs; c5_31 = c[i + 5, j + 31] * cs  # noqa: E501, E702
    c6_0 = c[i + 6, j + 0] * cs; c6_1 = c[i + 6, j + 1] * cs; c6_2 = c[i + 6, j + 2] * cs; c6_3 = c[i + 6, j + 3] * cs; c6_4 = c[i + 6, j + 4] * cs; c6_5 = c[i + 6, j + 5] * cs; c6_6 = c[i + 6, j + 6] * cs; c6_7 = c[i + 6, j + 7] * cs; c6_8 = c[i + 6, j + 8] * cs; c6_9 = c[i + 6, j + 9] * cs; c6_10 = c[i + 6, j + 10] * cs; c6_11 = c[i + 6, j + 11] * cs; c6_12 = c[i + 6, j + 12] * cs; c6_13 = c[i + 6, j + 13] * cs; c6_14 = c[i + 6, j + 14] * cs; c6_15 = c[i + 6, j + 15] * cs; c6_16 = c[i + 6, j + 16] * cs; c6_17 = c[i + 6, j + 17] * cs; c6_18 = c[i + 6, j + 18] * cs; c6_19 = c[i + 6, j + 19] * cs; c6_20 = c[i + 6, j + 20] * cs; c6_21 = c[i + 6, j + 21] * cs; c6_22 = c[i + 6, j + 22] * cs; c6_23 = c[i + 6, j + 23] * cs; c6_24 = c[i + 6, j + 24] * cs; c6_25 = c[i + 6, j + 25] * cs; c6_26 = c[i + 6, j + 26] * cs; c6_27 = c[i + 6, j + 27] * cs; c6_28 = c[i + 6, j + 28] * cs; c6_29 = c[i + 6, j + 29] * cs; c6_30 = c[i + 6, j + 30] * cs; c6_31 = c[i + 6, j + 31] * cs  # noqa: E501, E702
    c7_0 = c[i + 7, j + 0] * cs; c7_1 = c[i + 7, j + 1] * cs; c7_2 = c[i + 7, j + 2] * cs; c7_3 = c[i + 7, j + 3] * cs; c7_4 = c[i + 7, j + 4] * cs; c7_5 = c[i + 7, j + 5] * cs; c7_6 = c[i + 7, j + 6] * cs; c7_7 = c[i + 7, j + 7] * cs; c7_8 = c[i + 7, j + 8] * cs; c7_9 = c[i + 7, j + 9] * cs; c7_10 = c[i + 7, j + 10] * cs; c7_11 = c[i + 7, j + 11] * cs; c7_12 = c[i + 7, j + 12] * cs; c7_13 = c[i + 7, j + 13] * cs; c7_14 = c[i + 7, j + 14] * cs; c7_15 = c[i + 7, j + 15] * cs; c7_16 = c[i + 7, j + 16] * cs; c7_17 = c[i + 7, j + 17] * cs; c7_18 = c[i + 7, j + 18] * cs; c7_19 = c[i + 7, j + 19] * cs; c7_20 = c[i + 7, j + 20] * cs; c7_21 = c[i + 7, j + 21] * cs; c7_22 = c[i + 7, j + 22] * cs; c7_23 = c[i + 7, j + 23] * cs; c7_24 = c[i + 7, j + 24] * cs; c7_25 = c[i + 7, j + 25] * cs; c7_26 = c[i + 7, j + 26] * cs; c7_27 = c[i + 7, j + 27] * cs; c7_28 = c[i + 7, j + 28] * cs; c7_29 = c[i + 7, j + 29] * cs; c7_30 = c[i + 7, j + 30] * cs; c7_31 = c[i + 7, j + 31] * cs  # noqa: E501, E702
    for p in range(kc):
        kp = ka + p
        bq = kb + p
        b0 = bb[bq, jb + 0]; b1 = bb[bq, jb + 1]; b2 = bb[bq, jb + 2]; b3 = bb[bq, jb + 3]; b4 = bb[bq, jb + 4]; b5 = bb[bq, jb + 5]; b6 = bb[bq, jb + 6]; b7 = bb[bq, jb + 7]; b8 = bb[bq, jb + 8]; b9 = bb[bq, jb + 9]; b10 = bb[bq, jb + 10]; b11 = bb[bq, jb + 11]; b12 = bb[bq, jb + 12]; b13 = bb[bq, jb + 13]; b14 = bb[bq, jb + 14]; b15 = bb[bq, jb + 15]; b16 = bb[bq, jb + 16]; b17 = bb[bq, jb + 17]; b18 = bb[bq, jb + 18]; b19 = bb[bq, jb + 19]; b20 = bb[bq, jb + 20]; b21 = bb[bq, jb + 21]; b22 = bb[bq, jb + 22]; b23 = bb[bq, jb + 23]; b24 = bb[bq, jb + 24]; b25 = bb[bq, jb + 25]; b26 = bb[bq, jb + 26]; b27 = bb[bq, jb + 27]; b28 = bb[bq, jb + 28]; b29 = bb[bq, jb + 29]; b30 = bb[bq, jb + 30]; b31 = bb[bq, jb + 31]  # noqa: E501, E702
        a = aa[ia + 0, kp]
        c0_0 += a * b0; c0_1 += a * b1; c0_2 += a * b2; c0_3 += a * b3; c0_4 += a * b4; c0_5 += a * b5; c0_6 += a * b6; c0_7 += a * b7; c0_8 += a * b8; c0_9 += a * b9; c0_10 += a * b10; c0_11 += a * b11; c0_12 += a * b12; c0_13 += a * b13; c0_14 += a * b14; c0_15 += a * b15; c0_16 += a * b16; c0_17 += a * b17; c0_18 += a * b18; c0_19 += a * b19; c0_20 += a * b20; c0_21 += a * b21; c0_22 += a * b22; c0_23 += a * b23; c0_24 += a * b24; c0_25 += a * b25; c0_26 += a * b26; c0_27 += a * b27; c0_28 += a * b28; c0_29 += a * b29; c0_30 += a * b30; c0_31 += a * b31  # noqa: E501, E702
        a = aa[ia + 1, kp]
        c1_0 += a * b0; c1_1 += a * b1; c1_2 += a * b2; c1_3 += a * b3; c1_4 += a * b4; c1_5 += a * b5; c1_6 += a * b6; c1_7 += a * b7; c1_8 += a * b8; c1_9 += a * b9; c1_10 += a * b10; c1_11 += a * b11; c1_12 += a * b12; c1_13 += a * b13; c1_14 += a * b14; c1_15 += a * b15; c1_16 += a * b16; c1_17 += a * b17; c1_18 += a * b18; c1_19 += a * b19; c1_20 += a * b20; c1_21 += a * b21; c1_22 += a * b22; c1_23 += a * b23; c1_24 += a * b24; c1_25 += a * b25; c1_26 += a * b26; c1_27 += a * b27; c1_28 += a * b28; c1_29 += a * b29; c1_30 += a * b30; c1_31 += a * b31  # noqa: E501, E702
        a = aa[ia + 2, kp]
        c2_0 += a * b0; c2_1 += a * b1; c2_2 += a * b2; c2_3 += a * b3; c2_4 += a * b4; c2_5 += a * b5; c2_6 += a * b6; c2_7 += a * b7; c2_8 += a * b8; c2_9 += a * b9; c2_10 += a * b10; c2_11 += a * b11; c2_12 += a * b12; c2_13 += a * b13; c2_14 += a * b14; c2_15 += a * b15; c2_16 += a * b16; c2_17 += a * b17; c2_18 += a * b18; c2_19 += a * b19; c2_20 += a * b20; c2_21 += a * b21; c2_22 += a * b22; c2_23 += a * b23; c2_24 += a * b24; c2_25 += a * b25; c2_26 += a * b26; c2_27 += a * b27; c2_28 += a * b28; c2_29 += a * b29; c2_30 += a * b30; c2_31 += a * b31  # noqa: E501, E702
        a = aa[ia + 3, kp]
        c3_0 += a * b0; c3_1 += a * b1; c3_2 += a * b2; c3_3 += a * b3; c3_4 += a * b4; c3_5 += a * b5; c3_6 += a * b6; c3_7 += a * b7; c3_8 += a * b8; c3_9 += a * b9; c3_10 += a * b10; c3_11 += a * b11; c3_12 += a * b12; c3_13 += a * b13; c3_14 += a * b14; c3_15 += a * b15; c3_16 += a * b16; c3_17 += a * b17; c3_18 += a * b18; c3_19 += a * b19; c3_20 += a * b20; c3_21 += a * b21; c3_22 += a * b22; c3_23 += a * b23; c3_24 += a * b24; c3_25 += a * b25; c3_26 += a * b26; c3_27 += a * b27; c3_28 += a * b28; c3_29 += a * b29; c3_30 += a * b30; c3_31 += a * b31  # noqa: E501, E702
        a = aa[ia + 4, kp]
        c4_0 += a * b0; c4_1 += a * b1; c4_2 += a * b2; c4_3 += a * b3; c4_4 += a * b4; c4_5 += a * b5; c4_6 += a * b6; c4_7 += a * b7; c4_8 += a * b8; c4_9 += a * b9; c4_10 += a * b10; c4_11 += a * b11; c4_12 += a * b12; c4_13 += a * b13; c4_14 += a * b14; c4_15 += a * b15; c4_16 += a * b16; c4_17 += a * b17; c4_18 += a * b18; c4_19 += a * b19; c4_20 += a * b20; c4_21 += a * b21; c4_22 += a * b22; c4_23 += a * b23; c4_24 += a * b24; c4_25 += a * b25; c4_26 += a * b26; c4_27 += a * b27; c4_28 += a * b28; c4_29 += a * b29; c4_30 += a * b30; c4_31 += a * b31  # noqa: E501, E702
        a = aa[ia + 5, kp]
        c5_0 += a * b0; c5_1 += a * b1; c5_2 += a * b2; c5_3 += a * b3; c5_4 += a * b4; c5_5 += a * b5; c5_6 += a * b6; c5_7 += a * b7; c5_8 += a * b8; c5_9 += a * b9; c5_10 += a * b10; c5_11 += a * b11; c5_12 += a * b12; c5_13 += a * b13; c5_14 += a * b14; c5_15 += a * b15; c5_16 += a * b16; c5_17 += a * b17; c5_18 += a * b18; c5_19 += a * b19; c5_20 += a * b20; c5_21 += a * b21; c5_22 += a * b22; c5_23 += a * b23; c5_24 += a * b24; c5_25 += a * b25; c5_26 += a * b26; c5_27 += a * b27; c5_28 += a * b28; c5_29 += a * b29; c5_30 += a * b30; c5_31 += a * b31  # noqa: E501, E702
        a = aa[ia + 6, kp]
        c6_0 += a * b0; c6_1 += a * b1; c6_2 += a * b2; c6_3 += a * b3; c6_4 += a * b4; c6_5 += a * b5; c6_6 += a * b6; c6_7 += a * b7; c6_8 += a * b8; c6_9 += a * b9; c6_10 += a * b10; c6_11 += a * b11; c6_12 += a * b12; c6_13 += a * b13; c6_14 += a * b14; c6_15 += a * b15; c6_16 += a * b16; c6_17 += a * b17; c6_18 += a * b18; c6_19 += a * b19; c6_20 += a * b20; c6_21 += a * b21; c6_22 += a * b22; c6_23 += a * b23; c6_24 += a * b24; c6_25 += a * b25; c6_26 += a * b26; c6_27 += a * b27; c6_28 += a * b28; c6_29 += a * b29; c6_30 += a * b30; c6_31 += a * b31  # noqa: E501, E702
        a = aa[ia + 7, kp]
        c7_0 += a * b0; c7_1 += a * b1; c7_2 += a * b2; c7_3 += a * b3; c7_4 += a * b4; c7_5 += a * b5; c7_6 += a * b6; c7_7 += a * b7; c7_8 += a * b8; c7_9 += a * b9; c7_10 += a * b10; c7_11 += a * b11; c7_12 += a * b12; c7_13 += a * b13; c7_14 += a * b14; c7_15 += a * b15; c7_16 += a * b16; c7_17 += a * b17; c7_18 += a * b18; c7_19 += a * b19; c7_20 += a * b20; c7_21 += a * b21; c7_22 += a * b22; c7_23 += a * b23; c7_24 += a * b24; c7_25 += a * b25; c7_26 += a * b26; c7_27 += a * b27; c7_28 += a * b28; c7_29 += a * b29; c7_30 += a * b30; c7_31 += a * b31  # noqa: E501, E702
    c[i + 0, j + 0] = c0_0; c[i + 0, j + 1] = c0_1; c[i + 0, j + 2] = c0_2; c[i + 0, j + 3] = c0_3; c[i + 0, j + 4] = c0_4; c[i + 0, j + 5] = c0_5; c[i + 0, j + 6] = c0_6; c[i + 0, j + 7] = c0_7; c[i + 0, j + 8] = c0_8; c[i + 0, j + 9] = c0_9; c[i + 0, j + 10] = c0_10; c[i + 0, j + 11] = c0_11; c[i + 0, j + 12] = c0_12; c[i + 0, j + 13] = c0_13; c[i + 0, j + 14] = c0_14; c[i + 0, j + 15] = c0_15; c[i + 0, j + 16] = c0_16; c[i + 0, j + 17] = c0_17; c[i + 0, j + 18] = c0_18; c[i + 0, j + 19] = c0_19; c[i + 0, j + 20] = c0_20; c[i + 0, j + 21] = c0_21; c[i + 0, j + 22] = c0_22; c[i + 0, j + 23] = c0_23; c[i + 0, j + 24] = c0_24; c[i + 0, j + 25] = c0_25; c[i + 0, j + 26] = c0_26; c[i + 0, j + 27] = c0_27; c[i + 0, j + 28] = c0_28; c[i + 0, j + 29] = c0_29; c[i + 0, j + 30] = c0_30; c[i + 0, j + 31] = c0_31  # noqa: E501, E702
    c[i + 1, j + 0] = c1_0; c[i + 1, j + 1] = c1_1; c[i + 1, j + 2] = c1_2; c[i + 1, j + 3] = c1_3; c[i + 1, j + 4] = c1_4; c[i + 1, j + 5] = c1_5; c[i + 1, j + 6] = c1_6; c[i + 1, j + 7] = c1_7; c[i + 1, j + 8] = c1_8; c[i + 1, j + 9] = c1_9; c[i + 1, j + 10] = c1_10; c[i + 1, j + 11] = c1_11; c[i + 1, j + 12] = c1_12; c[i + 1, j + 13] = c1_13; c[i + 1, j + 14] = c1_14; c[i + 1, j + 15] = c1_15; c[i + 1, j + 16] = c1_16; c[i + 1, j + 17] = c1_17; c[i + 1, j + 18] = c1_18; c[i + 1, j + 19] = c1_19; c[i + 1, j + 20] = c1_20; c[i + 1, j + 21] = c1_21; c[i + 1, j + 22] = c1_22; c[i + 1, j + 23] = c1_23; c[i + 1, j + 24] = c1_24; c[i + 1, j + 25] = c1_25; c[i + 1, j + 26] = c1_26; c[i + 1, j + 27] = c1_27; c[i + 1, j + 28] = c1_28; c[i + 1, j + 29] = c1_29; c[i + 1, j + 30] = c1_30; c[i + 1, j + 31] = c1_31  # noqa: E501, E702
    c[i + 2, j + 0] = c2_0; c[i + 2, j + 1] = c2_1; c[i + 2, j + 2] = c2_2; c[i + 2, j + 3] = c2_3; c[i + 2, j + 4] = c2_4; c[i + 2, j + 5] = c2_5; c[i + 2, j + 6] = c2_6; c[i + 2, j + 7] = c2_7; c[i + 2, j + 8] = c2_8; c[i + 2, j + 9] = c2_9; c[i + 2, j + 10] = c2_10; c[i + 2, j + 11] = c2_11; c[i + 2, j + 12] = c2_12; c[i + 2, j + 13] = c2_13; c[i + 2, j + 14] = c2_14; c[i + 2, j + 15] = c2_15; c[i + 2, j + 16] = c2_16; c[i + 2, j + 17] = c2_17; c[i + 2, j + 18] = c2_18; c[i + 2, j + 19] = c2_19; c[i + 2, j + 20] = c2_20; c[i + 2, j + 21] = c2_21; c[i + 2, j + 22] = c2_22; c[i + 2, j + 23] = c2_23; c[i + 2, j + 24] = c2_24; c[i + 2, j + 25] = c2_25; c[i + 2, j + 26] = c2_26; c[i + 2, j + 27] = c2_27; c[i + 2, j + 28] = c2_28; c[i + 2, j + 29] = c2_29; c[i + 2, j + 30] = c2_30; c[i + 2, j + 31] = c2_31  # noqa: E501, E702
    c[i + 3, j + 0] = c3_0; c[i + 3, j + 1] = c3_1; c[i + 3, j + 2] = c3_2; c[i + 3, j + 3] = c3_3; c[i + 3, j + 4] = c3_4; c[i + 3, j + 5] = c3_5; c[i + 3, j + 6] = c3_6; c[i + 3, j + 7] = c3_7; c[i + 3, j + 8] = c3_8; c[i + 3, j + 9] = c3_9; c[i + 3, j + 10] = c3_10; c[i + 3, j + 11] = c3_11; c[i + 3, j + 12] = c3_12; c[i + 3, j + 13] = c3_13; c[i + 3, j + 14] = c3_14; c[i + 3, j + 15] = c3_15; c[i + 3, j + 16] = c3_16; c[i + 3, j + 17] = c3_17; c[i + 3, j + 18] = c3_18; c[i + 3, j + 19] = c3_19; c[i + 3, j + 20] = c3_20; c[i + 3, j + 21] = c3_21; c[i + 3, j + 22] = c3_22; c[i + 3, j + 23] = c3_23; c[i + 3, j + 24] = c3_24; c[i + 3, j + 25] = c3_25; c[i + 3, j + 26] = c3_26; c[i + 3, j + 27] = c3_27; c[i + 3, j + 28] = c3_28; c[i + 3, j + 29] = c3_29; c[i + 3, j + 30] = c3_30; c[i + 3, j + 31] = c3_31  # noqa: E501, E702
    c[i + 4, j + 0] = c4_0; c[i + 4, j + 1] = c4_1; c[i + 4, j + 2] = c4_2; c[i + 4, j + 3] = c4_3; c[i + 4, j + 4] = c4_4; c[i + 4, j + 5] = c4_5; c[i + 4, j + 6] = c4_6; c[i + 4, j + 7] = c4_7; c[i + 4, j + 8] = c4_8; c[i + 4, j + 9] = c4_9; c[i + 4, j + 10] = c4_10; c[i + 4, j + 11] = c4_11; c[i + 4, j + 12] = c4_12; c[i + 4, j + 13] = c4_13; c[i + 4, j + 14] = c4_14; c[i + 4, j + 15] = c4_15; c[i + 4, j + 16] = c4_16; c[i + 4, j + 17] = c4_17; c[i + 4, j + 18] = c4_18; c[i + 4, j + 19] = c4_19; c[i + 4, j + 20] = c4_20; c[i + 4, j + 21] = c4_21; c[i + 4, j + 22] = c4_22; c[i + 4, j + 23] = c4_23; c[i + 4, j + 24] = c4_24; c[i + 4, j + 25] = c4_25; c[i + 4, j + 26] = c4_26; c[i + 4, j + 27] = c4_27; c[i + 4, j + 28] = c4_28; c[i + 4, j + 29] = c4_29; c[i + 4, j + 30] = c4_30; c[i + 4, j + 31] = c4_31  # noqa: E501, E702
    c[i + 5, j + 0] = c5_0; c[i + 5, j + 1] = c5_1; c[i + 5, j + 2] = c5_2; c[i + 5, j + 3] = c5_3; c[i + 5, j + 4] = c5_4; c[i + 5, j + 5] = c5_5; c[i + 5, j + 6] = c5_6; c[i + 5, j + 7] = c5_7; c[i + 5, j + 8] = c5_8; c[i + 5, j + 9] = c5_9; c[i + 5, j + 10] = c5_10; c[i + 5, j + 11] = c5_11; c[i + 5, j + 12] = c5_12; c[i + 5, j + 13] = c5_13; c[i + 5, j + 14] = c5_14; c[i + 5, j + 15] = c5_15; c[i + 5, j + 16] = c5_16; c[i + 5, j + 17] = c5_17; c[i + 5, j + 18] = c5_18; c[i + 5, j + 19] = c5_19; c[i + 5, j + 20] = c5_20; c[i + 5, j + 21] = c5_21; c[i + 5, j + 22] = c5_22; c[i + 5, j + 23] = c5_23; c[i + 5, j + 24] = c5_24; c[i + 5, j + 25] = c5_25; c[i + 5, j + 26] = c5_26; c[i + 5, j + 27] = c5_27; c[i + 5, j + 28] = c5_28; c[i + 5, j + 29] = c5_29; c[i + 5, j + 30] = c5_30; c[i + 5, j + 31] = c5_31  # noqa: E501, E702
    c[i + 6, j + 0] = c6_0; c[i + 6, j + 1] = c6_1; c[i + 6, j + 2] = c6_2; c[i + 6, j + 3] = c6_3; c[i + 6, j + 4] = c6_4; c[i + 6, j + 5] = c6_5; c[i + 6, j + 6] = c6_6; c[i + 6, j + 7] = c6_7; c[i + 6, j + 8] = c6_8; c[i + 6, j + 9] = c6_9; c[i + 6, j + 10] = c6_10; c[i + 6, j + 11] = c6_11; c[i + 6, j + 12] = c6_12; c[i + 6, j + 13] = c6_13; c[i + 6, j + 14] = c6_14; c[i + 6, j + 15] = c6_15; c[i + 6, j + 16] = c6_16; c[i + 6, j + 17] = c6_17; c[i + 6, j + 18] = c6_18; c[i + 6, j + 19] = c6_19; c[i + 6, j + 20] = c6_20; c[i + 6, j + 21] = c6_21; c[i + 6, j + 22] = c6_22; c[i + 6, j + 23] = c6_23; c[i + 6, j + 24] = c6_24; c[i + 6, j + 25] = c6_25; c[i + 6, j + 26] = c6_26; c[i + 6, j + 27] = c6_27; c[i + 6, j + 28] = c6_28; c[i + 6, j + 29] = c6_29; c[i + 6, j + 30] = c6_30; c[i + 6, j + 31] = c6_31  # noqa: E501, E702
    c[i + 7, j + 0] = c7_0; c[i + 7, j + 1] = c7_1; c[i + 7, j + 2] = c7_2; c[i + 7, j + 3] = c7_3; c[i + 7, j + 4] = c7_4; c[i + 7, j + 5] = c7_5; c[i + 7, j + 6] = c7_6; c[i + 7, j + 7] = c7_7; c[i + 7, j + 8] = c7_8; c[i + 7, j + 9] = c7_9; c[i + 7, j + 10] = c7_10; c[i + 7, j + 11] = c7_11; c[i + 7, j + 12] = c7_12; c[i + 7, j + 13] = c7_13; c[i + 7, j + 14] = c7_14; c[i + 7, j + 15] = c7_15; c[i + 7, j + 16] = c7_16; c[i + 7, j + 17] = c7_17; c[i + 7, j + 18] = c7_18; c[i + 7, j + 19] = c7_19; c[i + 7, j + 20] = c7_20; c[i + 7, j + 21] = c7_21; c[i + 7, j + 22] = c7_22; c[i + 7, j + 23] = c7_23; c[i + 7, j + 24] = c7_24; c[i + 7, j + 25] = c7_25; c[i + 7, j + 26] = c7_26; c[i + 7, j + 27] = c7_27; c[i + 7, j + 28] = c7_28; c[i + 7, j + 29] = c7_29; c[i + 7, j + 30] = c7_30; c[i + 7, j + 31] = c7_31  # noqa: E501, E702


@gemm_kernel
def _micro_8x16(kc, aa, ia, ka, bb, kb, jb, c, i, j, cs):  # generated: _micro_kernel_source(8, 16, '_micro_8x16')
    kc &= _IDX; ia &= _IDX; ka &= _IDX; kb &= _IDX; jb &= _IDX; i &= _IDX; j &= _IDX  # noqa: E702
    c0_0 = c[i + 0, j + 0] * cs; c0_1 = c[i + 0, j + 1] * cs; c0_2 = c[i + 0, j + 2] * cs; c0_3 = c[i + 0, j + 3] * cs; c0_4 = c[i + 0, j + 4] * cs; c0_5 = c[i + 0, j + 5] * cs; c0_6 = c[i + 0, j + 6] * cs; c0_7 = c[i + 0, j + 7] * cs; c0_8 = c[i + 0, j + 8] * cs; c0_9 = c[i + 0, j + 9] * cs; c0_10 = c[i + 0, j + 10] * cs; c0_11 = c[i + 0, j + 11] * cs; c0_12 = c[i + 0, j + 12] * cs; c0_13 = c[i + 0, j + 13] * cs; c0_14 = c[i + 0, j + 14] * cs; c0_15 = c[i + 0, j + 15] * cs  # noqa: E501, E702
    c1_0 = c[i + 1, j + 0] * cs; c1_1 = c[i + 1, j + 1] * cs; c1_2 = c[i + 1, j + 2] * cs; c1_3 = c[i + 1, j + 3] * cs; c1_4 = c[i + 1, j + 4] * cs; c1_5 = c[i + 1, j + 5] * cs; c1_6 = c[i + 1, j + 6] * cs; c1_7 = c[i + 1, j + 7] * cs; c1_8 = c[i + 1, j + 8] * cs; c1_9 = c[i + 1, j + 9] * cs; c1_10 = c[i + 1, j + 10] * cs; c1_11 = c[i + 1, j + 11] * cs; c1_12 = c[i + 1, j + 12] * cs; c1_13 = c[i + 1, j + 13] * cs; c1_14 = c[i + 1, j + 14] * cs; c1_15 = c[i + 1, j + 15] * cs  # noqa: E501, E702
    c2_0 = c[i + 2, j + 0] * cs; c2_1 = c[i + 2, j + 1] * cs; c2_2 = c[i + 2, j + 2] * cs; c2_3 = c[i + 2, j + 3] * cs; c2_4 = c[i + 2, j + 4] * cs; c2_5 = c[i + 2, j + 5] * cs; c2_6 = c[i + 2, j + 6] * cs; c2_7 = c[i + 2, j + 7] * cs; c2_8 = c[i + 2, j + 8] * cs; c2_9 = c[i + 2, j + 9] * cs; c2_10 = c[i + 2, j + 10] * cs; c2_11 = c[i + 2, j + 11] * cs; c2_12 = c[i + 2, j + 12] * cs; c2_13 = c[i + 2, j + 13] * cs; c2_14 = c[i + 2, j + 14] * cs; c2_15 = c[i + 2, j + 15] * cs  # noqa: E501, E702
    c3_0 = c[i + 3, j + 0] * cs; c3_1 = c[i + 3, j + 1] * cs; c3_2 = c[i + 3, j + 2] * cs; c3_3 = c[i + 3, j + 3] * cs; c3_4 = c[i + 3, j + 4] * cs; c3_5 = c[i + 3, j + 5] * cs; c3_6 = c[i + 3, j + 6] * cs; c3_7 = c[i + 3, j + 7] * cs; c3_8 = c[i + 3, j + 8] * cs; c3_9 = c[i + 3, j + 9] * cs; c3_10 = c[i + 3, j + 10] * cs; c3_11 = c[i + 3, j + 11] * cs; c3_12 = c[i + 3, j + 12] * cs; c3_13 = c[i + 3, j + 13] * cs; c3_14 = c[i + 3, j + 14] * cs; c3_15 = c[i + 3, j + 15] * cs  # noqa: E501, E702
    c4_0 = c[i + 4, j + 0] * cs; c4_1 = c[i + 4, j + 1] * cs; c4_2 = c[i + 4, j + 2] * cs; c4_3 = c[i + 4, j + 3] * cs; c4_4 = c[i + 4, j + 4] * cs; c4_5 = c[i + 4, j + 5] * cs; c4_6 = c[i + 4, j + 6] * cs; c4_7 = c[i + 4, j + 7] * cs; c4_8 = c[i + 4, j + 8] * cs; c4_9 = c[i + 4, j + 9] * cs; c4_10 = c[i + 4, j + 10] * cs; c4_11 = c[i + 4, j + 11] * cs; c4_12 = c[i + 4, j + 12] * cs; c4_13 = c[i + 4, j + 13] * cs; c4_14 = c[i + 4, j + 14] * cs; c4_15 = c[i + 4, j + 15] * cs  # noqa: E501, E702
    c5_0 = c[i + 5, j + 0] * cs; c5_1 = c[i + 5, j + 1] * cs; c5_2 = c[i + 5, j + 2] * cs; c5_3 = c[i + 5, j + 3] * cs; c5_4 = c[i + 5, j + 4] * cs; c5_5 = c[i + 5, j + 5] * cs; c5_6 = c[i + 5, j + 6] * cs; c5_7 = c[i + 5, j + 7] * cs; c5_8 = c[i + 5, j + 8] * cs; c5_9 = c[i + 5, j + 9] * cs; c5_10 = c[i + 5, j + 10] * cs; c5_11 = c[i + 5, j + 11] * cs; c5_12 = c[i + 5, j + 12] * cs; c5_13 = c[i + 5, j + 13] * cs; c5_14 = c[i + 5, j + 14] * cs; c5_15 = c[i + 5, j + 15] * cs  # noqa: E501, E702
    c6_0 = c[i + 6, j + 0] * cs; c6_1 = c[i + 6, j + 1] * cs; c6_2 = c[i + 6, j + 2] * cs; c6_3 = c[i + 6, j + 3] * cs; c6_4 = c[i + 6, j + 4] * cs; c6_5 = c[i + 6, j + 5] * cs; c6_6 = c[i + 6, j + 6] * cs; c6_7 = c[i + 6, j + 7] * cs; c6_8 = c[i + 6, j + 8] * cs; c6_9 = c[i + 6, j + 9] * cs; c6_10 = c[i + 6, j + 10] * cs; c6_11 = c[i + 6, j + 11] * cs; c6_12 = c[i + 6, j + 12] * cs; c6_13 = c[i + 6, j + 13] * cs; c6_14 = c[i + 6, j + 14] * cs; c6_15 = c[i + 6, j + 15] * cs  # noqa: E501, E702
    c7_0 = c[i + 7, j + 0] * cs; c7_1 = c[i + 7, j + 1] * cs; c7_2 = c[i + 7, j + 2] * cs; c7_3 = c[i + 7, j + 3] * cs; c7_4 = c[i + 7, j + 4] * cs; c7_5 = c[i + 7, j + 5] * cs; c7_6 = c[i + 7, j + 6] * cs; c7_7 = c[i + 7, j + 7] * cs; c7_8 = c[i + 7, j + 8] * cs; c7_9 = c[i + 7, j + 9] * cs; c7_10 = c[i + 7, j + 10] * cs; c7_11 = c[i + 7, j + 11] * cs; c7_12 = c[i + 7, j + 12] * cs; c7_13 = c[i + 7, j + 13] * cs; c7_14 = c[i + 7, j + 14] * cs; c7_15 = c[i + 7, j + 15] * cs  # noqa: E501, E702
    for p in range(kc):
        kp = ka + p
        bq = kb + p
        b0 = bb[bq, jb + 0]; b1 = bb[bq, jb + 1]; b2 = bb[bq, jb + 2]; b3 = bb[bq, jb + 3]; b4 = bb[bq, jb + 4]; b5 = bb[bq, jb + 5]; b6 = bb[bq, jb + 6]; b7 = bb[bq, jb + 7]; b8 = bb[bq, jb + 8]; b9 = bb[bq, jb + 9]; b10 = bb[bq, jb + 10]; b11 = bb[bq, jb + 11]; b12 = bb[bq, jb + 12]; b13 = bb[bq, jb + 13]; b14 = bb[bq, jb + 14]; b15 = bb[bq, jb + 15]  # noqa: E501, E702
        a = aa[ia + 0, kp]
        c0_0 += a * b0; c0_1 += a * b1; c0_2 += a * b2; c0_3 += a * b3; c0_4 += a * b4; c0_5 += a * b5; c0_6 += a * b6; c0_7 += a * b7; c0_8 += a * b8; c0_9 += a * b9; c0_10 += a * b10; c0_11 += a * b11; c0_12 += a * b12; c0_13 += a * b13; c0_14 += a * b14; c0_15 += a * b15  # noqa: E501, E702
        a = aa[ia + 1, kp]
        c1_0 += a * b0; c1_1 += a * b1; c1_2 += a * b2; c1_3 += a * b3; c1_4 += a * b4; c1_5 += a * b5; c1_6 += a * b6; c1_7 += a * b7; c1_8 += a * b8; c1_9 += a * b9; c1_10 += a * b10; c1_11 += a * b11; c1_12 += a * b12; c1_13 += a * b13; c1_14 += a * b14; c1_15 += a * b15  # noqa: E501, E702
        a = aa[ia + 2, kp]
        c2_0 += a * b0; c2_1 += a * b1; c2_2 += a * b2; c2_3 += a * b3; c2_4 += a * b4; c2_5 += a * b5; c2_6 += a * b6; c2_7 += a * b7; c2_8 += a * b8; c2_9 += a * b9; c2_10 += a * b10; c2_11 += a * b11; c2_12 += a * b12; c2_13 += a * b13; c2_14 += a * b14; c2_15 += a * b15  # noqa: E501, E702
        a = aa[ia + 3, kp]
        c3_0 += a * b0; c3_1 += a * b1; c3_2 += a * b2; c3_3 += a * b3; c3_4 += a * b4; c3_5 += a * b5; c3_6 += a * b6; c3_7 += a * b7; c3_8 += a * b8; c3_9 += a * b9; c3_10 += a * b10; c3_11 += a * b11; c3_12 += a * b12; c3_13 += a * b13; c3_14 += a * b14; c3_15 += a * b15  # noqa: E501, E702
        a = aa[ia + 4, kp]
        c4_0 += a * b0; c4_1 += a * b1; c4_2 += a * b2; c4_3 += a * b3; c4_4 += a * b4; c4_5 += a * b5; c4_6 += a * b6; c4_7 += a * b7; c4_8 += a * b8; c4_9 += a * b9; c4_10 += a * b10; c4_11 += a * b11; c4_12 += a * b12; c4_13 += a * b13; c4_14 += a * b14; c4_15 += a * b15  # noqa: E501, E702
        a = aa[ia + 5, kp]
        c5_0 += a * b0; c5_1 += a * b1; c5_2 += a * b2; c5_3 += a * b3; c5_4 += a * b4; c5_5 += a * b5; c5_6 += a * b6; c5_7 += a * b7; c5_8 += a * b8; c5_9 += a * b9; c5_10 += a * b10; c5_11 += a * b11; c5_12 += a * b12; c5_13 += a * b13; c5_14 += a * b14; c5_15 += a * b15  # noqa: E501, E702
        a = aa[ia + 6, kp]
        c6_0 += a * b0; c6_1 += a * b1; c6_2 += a * b2; c6_3 += a * b3; c6_4 += a * b4; c6_5 += a * b5; c6_6 += a * b6; c6_7 += a * b7; c6_8 += a * b8; c6_9 += a * b9; c6_10 += a * b10; c6_11 += a * b11; c6_12 += a * b12; c6_13 += a * b13; c6_14 += a * b14; c6_15 += a * b15  # noqa: E501, E702
        a = aa[ia + 7, kp]
        c7_0 += a * b0; c7_1 += a * b1; c7_2 += a * b2; c7_3 += a * b3; c7_4 += a * b4; c7_5 += a * b5; c7_6 += a * b6; c7_7 += a * b7; c7_8 += a * b8; c7_9 += a * b9; c7_10 += a * b10; c7_11 += a * b11; c7_12 += a * b12; c7_13 += a * b13; c7_14 += a * b14; c7_15 += a * b15  # noqa: E501, E702
    c[i + 0, j + 0] = c0_0; c[i + 0, j + 1] = c0_1; c[i + 0, j + 2] = c0_2; c[i + 0, j + 3] = c0_3; c[i + 0, j + 4] = c0_4; c[i + 0, j + 5] = c0_5; c[i + 0, j + 6] = c0_6; c[i + 0, j + 7] = c0_7; c[i + 0, j + 8] = c0_8; c[i + 0, j + 9] = c0_9; c[i + 0, j + 10] = c0_10; c[i + 0, j + 11] = c0_11; c[i + 0, j + 12] = c0_12; c[i + 0, j + 13] = c0_13; c[i + 0, j + 14] = c0_14; c[i + 0, j + 15] = c0_15  # noqa: E501, E702
    c[i + 1, j + 0] = c1_0; c[i + 1, j + 1] = c1_1; c[i + 1, j + 2] = c1_2; c[i + 1, j + 3] = c1_3; c[i + 1, j + 4] = c1_4; c[i + 1, j + 5] = c1_5; c[i + 1, j + 6] = c1_6; c[i + 1, j + 7] = c1_7; c[i + 1, j + 8] = c1_8; c[i + 1, j + 9] = c1_9; c[i + 1, j + 10] = c1_10; c[i + 1, j + 11] = c1_11; c[i + 1, j + 12] = c1_12; c[i + 1, j + 13] = c1_13; c[i + 1, j + 14] = c1_14; c[i + 1, j + 15] = c1_15  # noqa: E501, E702
    c[i + 2, j + 0] = c2_0; c[i + 2, j + 1] = c2_1; c[i + 2, j + 2] = c2_2; c[i + 2, j + 3] = c2_3; c[i + 2, j + 4] = c2_4; c[i + 2, j + 5] = c2_5; c[i + 2, j + 6] = c2_6; c[i + 2, j + 7] = c2_7; c[i + 2, j + 8] = c2_8; c[i + 2, j + 9] = c2_9; c[i + 2, j + 10] = c2_10; c[i + 2, j + 11] = c2_11; c[i + 2, j + 12] = c2_12; c[i + 2, j + 13] = c2_13; c[i + 2, j + 14] = c2_14; c[i + 2, j + 15] = c2_15  # noqa: E501, E702
    c[i + 3, j + 0] = c3_0; c[i + 3, j + 1] = c3_1; c[i + 3, j + 2] = c3_2; c[i + 3, j + 3] = c3_3; c[i + 3, j + 4] = c3_4; c[i + 3, j + 5] = c3_5; c[i + 3, j + 6] = c3_6; c[i + 3, j + 7] = c3_7; c[i + 3, j + 8] = c3_8; c[i + 3, j + 9] = c3_9; c[i + 3, j + 10] = c3_10; c[i + 3, j + 11] = c3_11; c[i + 3, j + 12] = c3_12; c[i + 3, j + 13] = c3_13; c[i + 3, j + 14] = c3_14; c[i + 3, j + 15] = c3_15  # noqa: E501, E702
    c[i + 4, j + 0] = c4_0; c[i + 4, j + 1] = c4_1; c[i + 4, j + 2] = c4_2; c[i + 4, j + 3] = c4_3; c[i + 4, j + 4] = c4_4; c[i + 4, j + 5] = c4_5; c[i + 4, j + 6] = c4_6; c[i + 4, j + 7] = c4_7; c[i + 4, j + 8] = c4_8; c[i + 4, j + 9] = c4_9; c[i + 4, j + 10] = c4_10; c[i + 4, j + 11] = c4_11; c[i + 4, j + 12] = c4_12; c[i + 4, j + 13] = c4_13; c[i + 4, j + 14] = c4_14; c[i + 4, j + 15] = c4_15  # noqa: E501, E702
    c[i + 5, j + 0] = c5_0; c[i + 5, j + 1] = c5_1; c[i + 5, j + 2] = c5_2; c[i + 5, j + 3] = c5_3; c[i + 5, j + 4] = c5_4; c[i + 5, j + 5] = c5_5; c[i + 5, j + 6] = c5_6; c[i + 5, j + 7] = c5_7; c[i + 5, j + 8] = c5_8; c[i + 5, j + 9] = c5_9; c[i + 5, j + 10] = c5_10; c[i + 5, j + 11] = c5_11; c[i + 5, j + 12] = c5_12; c[i + 5, j + 13] = c5_13; c[i + 5, j + 14] = c5_14; c[i + 5, j + 15] = c5_15  # noqa: E501, E702
    c[i + 6, j + 0] = c6_0; c[i + 6, j + 1] = c6_1; c[i + 6, j + 2] = c6_2; c[i + 6, j + 3] = c6_3; c[i + 6, j + 4] = c6_4; c[i + 6, j + 5] = c6_5; c[i + 6, j + 6] = c6_6; c[i + 6, j + 7] = c6_7; c[i + 6, j + 8] = c6_8; c[i + 6, j + 9] = c6_9; c[i + 6, j + 10] = c6_10; c[i + 6, j + 11] = c6_11; c[i + 6, j + 12] = c6_12; c[i + 6, j + 13] = c6_13; c[i + 6, j + 14] = c6_14; c[i + 6, j + 15] = c6_15  # noqa: E501, E702
    c[i + 7, j + 0] = c7_0; c[i + 7, j + 1] = c7_1; c[i + 7, j + 2] = c7_2; c[i + 7, j + 3] = c7_3; c[i + 7, j + 4] = c7_4; c[i + 7, j + 5] = c7_5; c[i + 7, j + 6] = c7_6; c[i + 7, j + 7] = c7_7; c[i + 7, j + 8] = c7_8; c[i + 7, j + 9] = c7_9; c[i + 7, j + 10] = c7_10; c[i + 7, j + 11] = c7_11; c[i + 7, j + 12] = c7_12; c[i + 7, j + 13] = c7_13; c[i + 7, j + 14] = c7_14; c[i + 7, j + 15] = c7_15  # noqa: E501, E702


@gemm_kernel
def _micro_4x8(kc, aa, ia, ka, bb, kb, jb, c, i, j, cs):  # generated: _micro_kernel_source(4, 8, '_micro_4x8')
    kc &= _IDX; ia &= _IDX; ka &= _IDX; kb &= _IDX; jb &= _IDX; i &= _IDX; j &= _IDX  # noqa: E702
    c0_0 = c[i + 0, j + 0] * cs; c0_1 = c[i + 0, j + 1] * cs; c0_2 = c[i + 0, j + 2] * cs; c0_3 = c[i + 0, j + 3] * cs; c0_4 = c[i + 0, j + 4] * cs; c0_5 = c[i + 0, j + 5] * cs; c0_6 = c[i + 0, j + 6] * cs; c0_7 = c[i + 0, j + 7] * cs  # noqa: E501, E702
    c1_0 = c[i + 1, j + 0] * cs; c1_1 = c[i + 1, j + 1] * cs; c1_2 = c[i + 1, j + 2] * cs; c1_3 = c[i + 1, j + 3] * cs; c1_4 = c[i + 1, j + 4] * cs; c1_5 = c[i + 1, j + 5] * cs; c1_6 = c[i + 1, j + 6] * cs; c1_7 = c[i + 1, j + 7] * cs  # noqa: E501, E702
    c2_0 = c[i + 2, j + 0] * cs; c2_1 = c[i + 2, j + 1] * cs; c2_2 = c[i + 2, j + 2] * cs; c2_3 = c[i + 2, j + 3] * cs; c2_4 = c[i + 2, j + 4] * cs; c2_5 = c[i + 2, j + 5] * cs; c2_6 = c[i + 2, j + 6] * cs; c2_7 = c[i + 2, j + 7] * cs  # noqa: E501, E702
    c3_0 = c[i + 3, j + 0] * cs; c3_1 = c[i + 3, j + 1] * cs; c3_2 = c[i + 3, j + 2] * cs; c3_3 = c[i + 3, j + 3] * cs; c3_4 = c[i + 3, j + 4] * cs; c3_5 = c[i + 3, j + 5] * cs; c3_6 = c[i + 3, j + 6] * cs; c3_7 = c[i + 3, j + 7] * cs  # noqa: E501, E702
    for p in range(kc):
        kp = ka + p
        bq = kb + p
        b0 = bb[bq, jb + 0]; b1 = bb[bq, jb + 1]; b2 = bb[bq, jb + 2]; b3 = bb[bq, jb + 3]; b4 = bb[bq, jb + 4]; b5 = bb[bq, jb + 5]; b6 = bb[bq, jb + 6]; b7 = bb[bq, jb + 7]  # noqa: E501, E702
        a = aa[ia + 0, kp]
        c0_0 += a * b0; c0_1 += a * b1; c0_2 += a * b2; c0_3 += a * b3; c0_4 += a * b4; c0_5 += a * b5; c0_6 += a * b6; c0_7 += a * b7  # noqa: E501, E702
        a = aa[ia + 1, kp]
        c1_0 += a * b0; c1_1 += a * b1; c1_2 += a * b2; c1_3 += a * b3; c1_4 += a * b4; c1_5 += a * b5; c1_6 += a * b6; c1_7 += a * b7  # noqa: E501, E702
        a = aa[ia + 2, kp]
        c2_0 += a * b0; c2_1 += a * b1; c2_2 += a * b2; c2_3 += a * b3; c2_4 += a * b4; c2_5 += a * b5; c2_6 += a * b6; c2_7 += a * b7  # noqa: E501, E702
        a = aa[ia + 3, kp]
        c3_0 += a * b0; c3_1 += a * b1; c3_2 += a * b2; c3_3 += a * b3; c3_4 += a * b4; c3_5 += a * b5; c3_6 += a * b6; c3_7 += a * b7  # noqa: E501, E702
    c[i + 0, j + 0] = c0_0; c[i + 0, j + 1] = c0_1; c[i + 0, j + 2] = c0_2; c[i + 0, j + 3] = c0_3; c[i + 0, j + 4] = c0_4; c[i + 0, j + 5] = c0_5; c[i + 0, j + 6] = c0_6; c[i + 0, j + 7] = c0_7  # noqa: E501, E702
    c[i + 1, j + 0] = c1_0; c[i + 1, j + 1] = c1_1; c[i + 1, j + 2] = c1_2; c[i + 1, j + 3] = c1_3; c[i + 1, j + 4] = c1_4; c[i + 1, j + 5] = c1_5; c[i + 1, j + 6] = c1_6; c[i + 1, j + 7] = c1_7  # noqa: E501, E702
    c[i + 2, j + 0] = c2_0; c[i + 2, j + 1] = c2_1; c[i + 2, j + 2] = c2_2; c[i + 2, j + 3] = c2_3; c[i + 2, j + 4] = c2_4; c[i + 2, j + 5] = c2_5; c[i + 2, j + 6] = c2_6; c[i + 2, j + 7] = c2_7  # noqa: E501, E702
    c[i + 3, j + 0] = c3_0; c[i + 3, j + 1] = c3_1; c[i + 3, j + 2] = c3_2; c[i + 3, j + 3] = c3_3; c[i + 3, j + 4] = c3_4; c[i + 3, j + 5] = c3_5; c[i + 3, j + 6] = c3_6; c[i + 3, j + 7] = c3_7  # noqa: E501, E702


@gemm_kernel
def _micro_4x4(kc, aa, ia, ka, bb, kb, jb, c, i, j, cs):  # generated: _micro_kernel_source(4, 4, '_micro_4x4')
    kc &= _IDX; ia &= _IDX; ka &= _IDX; kb &= _IDX; jb &= _IDX; i &= _IDX; j &= _IDX  # noqa: E702
    c0_0 = c[i + 0, j + 0] * cs; c0_1 = c[i + 0, j + 1] * cs; c0_2 = c[i + 0, j + 2] * cs; c0_3 = c[i + 0, j + 3] * cs  # noqa: E501, E702
    c1_0 = c[i + 1, j + 0] * cs; c1_1 = c[i + 1, j + 1] * cs; c1_2 = c[i + 1, j + 2] * cs; c1_3 = c[i + 1, j + 3] * cs  # noqa: E501, E702
    c2_0 = c[i + 2, j + 0] * cs; c2_1 = c[i + 2, j + 1] * cs; c2_2 = c[i + 2, j + 2] * cs; c2_3 = c[i + 2, j + 3] * cs  # noqa: E501, E702
    c3_0 = c[i + 3, j + 0] * cs; c3_1 = c[i + 3, j + 1] * cs; c3_2 = c[i + 3, j + 2] * cs; c3_3 = c[i + 3, j + 3] * cs  # noqa: E501, E702
    for p in range(kc):
        kp = ka + p
        bq = kb + p
        b0 = bb[bq, jb + 0]; b1 = bb[bq, jb + 1]; b2 = bb[bq, jb + 2]; b3 = bb[bq, jb + 3]  # noqa: E501, E702
        a = aa[ia + 0, kp]
        c0_0 += a * b0; c0_1 += a * b1; c0_2 += a * b2; c0_3 += a * b3  # noqa: E501, E702
        a = aa[ia + 1, kp]
        c1_0 += a * b0; c1_1 += a * b1; c1_2 += a * b2; c1_3 += a * b3  # noqa: E501, E702
        a = aa[ia + 2, kp]
        c2_0 += a * b0; c2_1 += a * b1; c2_2 += a * b2; c2_3 += a * b3  # noqa: E501, E702
        a = aa[ia + 3, kp]
        c3_0 += a * b0; c3_1 += a * b1; c3_2 += a * b2; c3_3 += a * b3  # noqa: E501, E702
    c[i + 0, j + 0] = c0_0; c[i + 0, j + 1] = c0_1; c[i + 0, j + 2] = c0_2; c[i + 0, j + 3] = c0_3  # noqa: E501, E702
    c[i + 1, j + 0] = c1_0; c[i + 1, j + 1] = c1_1; c[i + 1, j + 2] = c1_2; c[i + 1, j + 3] = c1_3  # noqa: E501, E702
    c[i + 2, j + 0] = c2_0; c[i + 2, j + 1] = c2_1; c[i + 2, j + 2] = c2_2; c[i + 2, j + 3] = c2_3  # noqa: E501, E702
    c[i + 3, j + 0] = c3_0; c[i + 3, j + 1] = c3_1; c[i + 3, j + 2] = c3_2; c[i + 3, j + 3] = c3_3  # noqa: E501, E702


@gemm_kernel
def _micro_3x32(kc, aa, ia, ka, bb, kb, jb, c, i, j, cs):  # generated: _micro_kernel_source(3, 32, '_micro_3x32')
    kc &= _IDX; ia &= _IDX; ka &= _IDX; kb &= _IDX; jb &= _IDX; i &= _IDX; j &= _IDX  # noqa: E702
    c0_0 = c[i + 0, j + 0] * cs; c0_1 = c[i + 0, j + 1] * cs; c0_2 = c[i + 0, j + 2] * cs; c0_3 = c[i + 0, j + 3] * cs; c0_4 = c[i + 0, j + 4] * cs; c0_5 = c[i + 0, j + 5] * cs; c0_6 = c[i + 0, j + 6] * cs; c0_7 = c[i + 0, j + 7] * cs; c0_8 = c[i + 0, j + 8] * cs; c0_9 = c[i + 0, j + 9] * cs; c0_10 = c[i + 0, j + 10] * cs; c0_11 = c[i + 0, j + 11] * cs; c0_12 = c[i + 0, j + 12] * cs; c0_13 = c[i + 0, j + 13] * cs; c0_14 = c[i + 0, j + 14] * cs; c0_15 = c[i + 0, j + 15] * cs; c0_16 = c[i + 0, j + 16] * cs; c0_17 = c[i + 0, j + 17] * cs; c0_18 = c[i + 0, j + 18] * cs; c0_19 = c[i + 0, j + 19] * cs; c0_20 = c[i + 0, j + 20] * cs; c0_21 = c[i + 0, j + 21] * cs; c0_22 = c[i + 0, j + 22] * cs; c0_23 = c[i + 0, j + 23] * cs; c0_24 = c[i + 0, j + 24] * cs; c0_25 = c[i + 0, j + 25] * cs; c0_26 = c[i + 0, j + 26] * cs; c0_27 = c[i + 0, j + 27] * cs; c0_28 = c[i + 0, j + 28] * cs; c0_29 = c[i + 0, j + 29] * cs; c0_30 = c[i + 0, j + 30] * cs; c0_31 = c[i + 0, j + 31] * cs  # noqa: E501, E702
    c1_0 = c[i + 1, j + 0] * cs; c1_1 = c[i + 1, j + 1] * cs; c1_2 = c[i + 1, j + 2] * cs; c1_3 = c[i + 1, j + 3] * cs; c1_4 = c[i + 1, j + 4] * cs; c1_5 = c[i + 1, j + 5] * cs; c1_6 = c[i + 1, j + 6] * cs; c1_7 = c[i + 1, j + 7] * cs; c1_8 = c[i + 1, j + 8] * cs; c1_9 = c[i + 1, j + 9] * cs; c1_10 = c[i + 1, j + 10] * cs; c1_11 = c[i + 1, j + 11] * cs; c1_12 = c[i + 1, j + 12] * cs; c1_13 = c[i + 1, j + 13] * cs; c1_14 = c[i + 1, j + 14] * cs; c1_15 = c[i + 1, j + 15] * cs; c1_16 = c[i + 1, j + 16] * cs; c1_17 = c[i + 1, j + 17] * cs; c1_18 = c[i + 1, j + 18] * cs; c1_19 = c[i + 1, j + 19] * cs; c1_20 = c[i + 1, j + 20] * cs; c1_21 = c[i + 1, j + 21] * cs; c1_22 = c[i + 1, j + 22] * cs; c1_23 = c[i + 1, j + 23] * cs; c1_24 = c[i + 1, j + 24] * cs; c1_25 = c[i + 1, j + 25] * cs; c1_26 = c[i + 1, j + 26] * cs; c1_27 = c[i + 1, j + 27] * cs; c1_28 = c[i + 1, j + 28] * cs; c1_29 = c[i + 1, j + 29] * cs; c1_30 = c[i + 1, j + 30] * cs; c1_31 = c[i + 1, j + 31] * cs  # noqa: E501, E702
    c2_0 = c[i + 2, j + 0] * cs; c2_1 = c[i + 2, j + 1] * cs; c2_2 = c[i + 2, j + 2] * cs; c2_3 = c[i + 2, j + 3] * cs; c2_4 = c[i + 2, j + 4] * cs; c2_5 = c[i + 2, j + 5] * cs; c2_6 = c[i + 2, j + 6] * cs; c2_7 = c[i + 2, j + 7] * cs; c2_8 = c[i + 2, j + 8] * cs; c2_9 = c[i + 2, j + 9] * cs; c2_10 = c[i + 2, j + 10] * cs; c2_11 = c[i + 2, j + 11] * cs; c2_12 = c[i + 2, j + 12] * cs; c2_13 = c[i + 2, j + 13] * cs; c2_14 = c[i + 2, j + 14] * cs; c2_15 = c[i + 2, j + 15] * cs; c2_16 = c[i + 2, j + 16] * cs; c2_17 = c[i + 2, j + 17] * cs; c2_18 = c[i + 2, j + 18] * cs; c2_19 = c[i + 2, j + 19] * cs; c2_20 = c[i + 2, j + 20] * cs; c2_21 = c[i + 2, j + 21] * cs; c2_22 = c[i + 2, j + 22] * cs; c2_23 = c[i + 2, j + 23] * cs; c2_24 = c[i + 2, j + 24] * cs; c2_25 = c[i + 2, j + 25] * cs; c2_26 = c[i + 2, j + 26] * cs; c2_27 = c[i + 2, j + 27] * cs; c2_28 = c[i + 2, j + 28] * cs; c2_29 = c[i + 2, j + 29] * cs; c2_30 = c[i + 2, j + 30] * cs; c2_31 = c[i + 2, j + 31] * cs  # noqa: E501, E702
    for p in range(kc):
        kp = ka + p
        bq = kb + p
        b0 = bb[bq, jb + 0]; b1 = bb[bq, jb + 1]; b2 = bb[bq, jb + 2]; b3 = bb[bq, jb + 3]; b4 = bb[bq, jb + 4]; b5 = bb[bq, jb + 5]; b6 = bb[bq, jb + 6]; b7 = bb[bq, jb + 7]; b8 = bb[bq, jb + 8]; b9 = bb[bq, jb + 9]; b10 = bb[bq, jb + 10]; b11 = bb[bq, jb + 11]; b12 = bb[bq, jb + 12]; b13 = bb[bq, jb + 13]; b14 = bb[bq, jb + 14]; b15 = bb[bq, jb + 15]; b16 = bb[bq, jb + 16]; b17 = bb[bq, jb + 17]; b18 = bb[bq, jb + 18]; b19 = bb[bq, jb + 19]; b20 = bb[bq, jb + 20]; b21 = bb[bq, jb + 21]; b22 = bb[bq, jb + 22]; b23 = bb[bq, jb + 23]; b24 = bb[bq, jb + 24]; b25 = bb[bq, jb + 25]; b26 = bb[bq, jb + 26]; b27 = bb[bq, jb + 27]; b28 = bb[bq, jb + 28]; b29 = bb[bq, jb + 29]; b30 = bb[bq, jb + 30]; b31 = bb[bq, jb + 31]  # noqa: E501, E702
        a = aa[ia + 0, kp]
        c0_0 += a * b0; c0_1 += a * b1; c0_2 += a * b2; c0_3 += a * b3; c0_4 += a * b4; c0_5 += a * b5; c0_6 += a * b6; c0_7 += a * b7; c0_8 += a * b8; c0_9 += a * b9; c0_10 += a * b10; c0_11 += a * b11; c0_12 += a * b12; c0_13 += a * b13; c0_14 += a * b14; c0_15 += a * b15; c0_16 += a * b16; c0_17 += a * b17; c0_18 += a * b18; c0_19 += a * b19; c0_20 += a * b20; c0_21 += a * b21; c0_22 += a * b22; c0_23 += a * b23; c0_24 += a * b24; c0_25 += a * b25; c0_26 += a * b26; c0_27 += a * b27; c0_28 += a * b28; c0_29 += a * b29; c0_30 += a * b30; c0_31 += a * b31  # noqa: E501, E702
        a = aa[ia + 1, kp]
        c1_0 += a * b0; c1_1 += a * b1; c1_2 += a * b2; c1_3 += a * b3; c1_4 += a * b4; c1_5 += a * b5; c1_6 += a * b6; c1_7 += a * b7; c1_8 += a * b8; c1_9 += a * b9; c1_10 += a * b10; c1_11 += a * b11; c1_12 += a * b12; c1_13 += a * b13; c1_14 += a * b14; c1_15 += a * b15; c1_16 += a * b16; c1_17 += a * b17; c1_18 += a * b18; c1_19 += a * b19; c1_20 += a * b20; c1_21 += a * b21; c1_22 += a * b22; c1_23 += a * b23; c1_24 += a * b24; c1_25 += a * b25; c1_26 += a * b26; c1_27 += a * b27; c1_28 += a * b28; c1_29 += a * b29; c1_30 += a * b30; c1_31 += a * b31  # noqa: E501, E702
        a = aa[ia + 2, kp]
        c2_0 += a * b0; c2_1 += a * b1; c2_2 += a * b2; c2_3 += a * b3; c2_4 += a * b4; c2_5 += a * b5; c2_6 += a * b6; c2_7 += a * b7; c2_8 += a * b8; c2_9 += a * b9; c2_10 += a * b10; c2_11 += a * b11; c2_12 += a * b12; c2_13 += a * b13; c2_14 += a * b14; c2_15 += a * b15; c2_16 += a * b16; c2_17 += a * b17; c2_18 += a * b18; c2_19 += a * b19; c2_20 += a * b20; c2_21 += a * b21; c2_22 += a * b22; c2_23 += a * b23; c2_24 += a * b24; c2_25 += a * b25; c2_26 += a * b26; c2_27 += a * b27; c2_28 += a * b28; c2_29 += a * b29; c2_30 += a * b30; c2_31 += a * b31  # noqa: E501, E702
    c[i + 0, j + 0] = c0_0; c[i + 0, j + 1] = c0_1; c[i + 0, j + 2] = c0_2; c[i + 0, j + 3] = c0_3; c[i + 0, j + 4] = c0_4; c[i + 0, j + 5] = c0_5; c[i + 0, j + 6] = c0_6; c[i + 0, j + 7] = c0_7; c[i + 0, j + 8] = c0_8; c[i + 0, j + 9] = c0_9; c[i + 0, j + 10] = c0_10; c[i + 0, j + 11] = c0_11; c[i + 0, j + 12] = c0_12; c[i + 0, j + 13] = c0_13; c[i + 0, j + 14] = c0_14; c[i + 0, j + 15] = c0_15; c[i + 0, j + 16] = c0_16; c[i + 0, j + 17] = c0_17; c[i + 0, j + 18] = c0_18; c[i + 0, j + 19] = c0_19; c[i + 0, j + 20] = c0_20; c[i + 0, j + 21] = c0_21; c[i + 0, j + 22] = c0_22; c[i + 0, j + 23] = c0_23; c[i + 0, j + 24] = c0_24; c[i + 0, j + 25] = c0_25; c[i + 0, j + 26] = c0_26; c[i + 0, j + 27] = c0_27; c[i + 0, j + 28] = c0_28; c[i + 0, j + 29] = c0_29; c[i + 0, j + 30] = c0_30; c[i + 0, j + 31] = c0_31  # noqa: E501, E702
    c[i + 1, j + 0] = c1_0; c[i + 1, j + 1] = c1_1; c[i + 1, j + 2] = c1_2; c[i + 1, j + 3] = c1_3; c[i + 1, j + 4] = c1_4; c[i + 1, j + 5] = c1_5; c[i + 1, j + 6] = c1_6; c[i + 1, j + 7] = c1_7; c[i + 1, j + 8] = c1_8; c[i + 1, j + 9] = c1_9; c[i + 1, j + 10] = c1_10; c[i + 1, j + 11] = c1_11; c[i + 1, j + 12] = c1_12; c[i + 1, j + 13] = c1_13; c[i + 1, j + 14] = c1_14; c[i + 1, j + 15] = c1_15; c[i + 1, j + 16] = c1_16; c[i + 1, j + 17] = c1_17; c[i + 1, j + 18] = c1_18; c[i + 1, j + 19] = c1_19; c[i + 1, j + 20] = c1_20; c[i + 1, j + 21] = c1_21; c[i + 1, j + 22] = c1_22; c[i + 1, j + 23] = c1_23; c[i + 1, j + 24] = c1_24; c[i + 1, j + 25] = c1_25; c[i + 1, j + 26] = c1_26; c[i + 1, j + 27] = c1_27; c[i + 1, j + 28] = c1_28; c[i + 1, j + 29] = c1_29; c[i + 1, j + 30] = c1_30; c[i + 1, j + 31] = c1_31  # noqa: E501, E702
    c[i + 2, j + 0] = c2_0; c[i + 2, j + 1] = c2_1; c[i + 2, j + 2] = c2_2; c[i + 2, j + 3] = c2_3; c[i + 2, j + 4] = c2_4; c[i + 2, j + 5] = c2_5; c[i + 2, j + 6] = c2_6; c[i + 2, j + 7] = c2_7; c[i + 2, j + 8] = c2_8; c[i + 2, j + 9] = c2_9; c[i + 2, j + 10] = c2_10; c[i + 2, j + 11] = c2_11; c[i + 2, j + 12] = c2_12; c[i + 2, j + 13] = c2_13; c[i + 2, j + 14] = c2_14; c[i + 2, j + 15] = c2_15; c[i + 2, j + 16] = c2_16; c[i + 2, j + 17] = c2_17; c[i + 2, j + 18] = c2_18; c[i + 2, j + 19] = c2_19; c[i + 2, j + 20] = c2_20; c[i + 2, j + 21] = c2_21; c[i + 2, j + 22] = c2_22; c[i + 2, j + 23] = c2_23; c[i + 2, j + 24] = c2_24; c[i + 2, j + 25] = c2_25; c[i + 2, j + 26] = c2_26; c[i + 2, j + 27] = c2_27; c[i + 2, j + 28] = c2_28; c[i + 2, j + 29] = c2_29; c[i + 2, j + 30] = c2_30; c[i + 2, j + 31] = c2_31  # noqa: E501, E702


@gemm_kernel
def _micro_3x16(kc, aa, ia, ka, bb, kb, jb, c, i, j, cs):  # generated: _micro_kernel_source(3, 16, '_micro_3x16')
    kc &= _IDX; ia &= _IDX; ka &= _IDX; kb &= _IDX; jb &= _IDX; i &= _IDX; j &= _IDX  # noqa: E702
    c0_0 = c[i + 0, j + 0] * cs; c0_1 = c[i + 0, j + 1] * cs; c0_2 = c[i + 0, j + 2] * cs; c0_3 = c[i + 0, j + 3] * cs; c0_4 = c[i + 0, j + 4] * cs; c0_5 = c[i + 0, j + 5] * cs; c0_6 = c[i + 0, j + 6] * cs; c0_7 = c[i + 0, j + 7] * cs; c0_8 = c[i + 0, j + 8] * cs; c0_9 = c[i + 0, j + 9] * cs; c0_10 = c[i + 0, j + 10] * cs; c0_11 = c[i + 0, j + 11] * cs; c0_12 = c[i + 0, j + 12] * cs; c0_13 = c[i + 0, j + 13] * cs; c0_14 = c[i + 0, j + 14] * cs; c0_15 = c[i + 0, j + 15] * cs  # noqa: E501, E702
    c1_0 = c[i + 1, j + 0] * cs; c1_1 = c[i + 1, j + 1] * cs; c1_2 = c[i + 1, j + 2] * cs; c1_3 = c[i + 1, j + 3] * cs; c1_4 = c[i + 1, j + 4] * cs; c1_5 = c[i + 1, j + 5] * cs; c1_6 = c[i + 1, j + 6] * cs; c1_7 = c[i + 1, j + 7] * cs; c1_8 = c[i + 1, j + 8] * cs; c1_9 = c[i + 1, j + 9] * cs; c1_10 = c[i + 1, j + 10] * cs; c1_11 = c[i + 1, j + 11] * cs; c1_12 = c[i + 1, j + 12] * cs; c1_13 = c[i + 1, j + 13] * cs; c1_14 = c[i + 1, j + 14] * cs; c1_15 = c[i + 1, j + 15] * cs  # noqa: E501, E702
    c2_0 = c[i + 2, j + 0] * cs; c2_1 = c[i + 2, j + 1] * cs; c2_2 = c[i + 2, j + 2] * cs; c2_3 = c[i + 2, j + 3] * cs; c2_4 = c[i + 2, j + 4] * cs; c2_5 = c[i + 2, j + 5] * cs; c2_6 = c[i + 2, j + 6] * cs; c2_7 = c[i + 2, j + 7] * cs; c2_8 = c[i + 2, j + 8] * cs; c2_9 = c[i + 2, j + 9] * cs; c2_10 = c[i + 2, j + 10] * cs; c2_11 = c[i + 2, j + 11] * cs; c2_12 = c[i + 2, j + 12] * cs; c2_13 = c[i + 2, j + 13] * cs; c2_14 = c[i + 2, j + 14] * cs; c2_15 = c[i + 2, j + 15] * cs  # noqa: E501, E702
    for p in range(kc):
        kp = ka + p
        bq = kb + p
        b0 = bb[bq, jb + 0]; b1 = bb[bq, jb + 1]; b2 = bb[bq, jb + 2]; b3 = bb[bq, jb + 3]; b4 = bb[bq, jb + 4]; b5 = bb[bq, jb + 5]; b6 = bb[bq, jb + 6]; b7 = bb[bq, jb + 7]; b8 = bb[bq, jb + 8]; b9 = bb[bq, jb + 9]; b10 = bb[bq, jb + 10]; b11 = bb[bq, jb + 11]; b12 = bb[bq, jb + 12]; b13 = bb[bq, jb + 13]; b14 = bb[bq, jb + 14]; b15 = bb[bq, jb + 15]  # noqa: E501, E702
        a = aa[ia + 0, kp]
        c0_0 += a * b0; c0_1 += a * b1; c0_2 += a * b2; c0_3 += a * b3; c0_4 += a * b4; c0_5 += a * b5; c0_6 += a * b6; c0_7 += a * b7; c0_8 += a * b8; c0_9 += a * b9; c0_10 += a * b10; c0_11 += a * b11; c0_12 += a * b12; c0_13 += a * b13; c0_14 += a * b14; c0_15 += a * b15  # noqa: E501, E702
        a = aa[ia + 1, kp]
        c1_0 += a * b0; c1_1 += a * b1; c1_2 += a * b2; c1_3 += a * b3; c1_4 += a * b4; c1_5 += a * b5; c1_6 += a * b6; c1_7 += a * b7; c1_8 += a * b8; c1_9 += a * b9; c1_10 += a * b10; c1_11 += a * b11; c1_12 += a * b12; c1_13 += a * b13; c1_14 += a * b14; c1_15 += a * b15  # noqa: E501, E702
        a = aa[ia + 2, kp]
        c2_0 += a * b0; c2_1 += a * b1; c2_2 += a * b2; c2_3 += a * b3; c2_4 += a * b4; c2_5 += a * b5; c2_6 += a * b6; c2_7 += a * b7; c2_8 += a * b8; c2_9 += a * b9; c2_10 += a * b10; c2_11 += a * b11; c2_12 += a * b12; c2_13 += a * b13; c2_14 += a * b14; c2_15 += a * b15  # noqa: E501, E702
    c[i + 0, j + 0] = c0_0; c[i + 0, j + 1] = c0_1; c[i + 0, j + 2] = c0_2; c[i + 0, j + 3] = c0_3; c[i + 0, j + 4] = c0_4; c[i + 0, j + 5] = c0_5; c[i + 0, j + 6] = c0_6; c[i + 0, j + 7] = c0_7; c[i + 0, j + 8] = c0_8; c[i + 0, j + 9] = c0_9; c[i + 0, j + 10] = c0_10; c[i + 0, j + 11] = c0_11; c[i + 0, j + 12] = c0_12; c[i + 0, j + 13] = c0_13; c[i + 0, j + 14] = c0_14; c[i + 0, j + 15] = c0_15  # noqa: E501, E702
    c[i + 1, j + 0] = c1_0; c[i + 1, j + 1] = c1_1; c[i + 1, j + 2] = c1_2; c[i + 1, j + 3] = c1_3; c[i + 1, j + 4] = c1_4; c[i + 1, j + 5] = c1_5; c[i + 1, j + 6] = c1_6; c[i + 1, j + 7] = c1_7; c[i + 1, j + 8] = c1_8; c[i + 1, j + 9] = c1_9; c[i + 1, j + 10] = c1_10; c[i + 1, j + 11] = c1_11; c[i + 1, j + 12] = c1_12; c[i + 1, j + 13] = c1_13; c[i + 1, j + 14] = c1_14; c[i + 1, j + 15] = c1_15  # noqa: E501, E702
    c[i + 2, j + 0] = c2_0; c[i + 2, j + 1] = c2_1; c[i + 2, j + 2] = c2_2; c[i + 2, j + 3] = c2_3; c[i + 2, j + 4] = c2_4; c[i + 2, j + 5] = c2_5; c[i + 2, j + 6] = c2_6; c[i + 2, j + 7] = c2_7; c[i + 2, j + 8] = c2_8; c[i + 2, j + 9] = c2_9; c[i + 2, j + 10] = c2_10; c[i + 2, j + 11] = c2_11; c[i + 2, j + 12] = c2_12; c[i + 2, j + 13] = c2_13; c[i + 2, j + 14] = c2_14; c[i + 2, j + 15] = c2_15  # noqa: E501, E702


# ---- end of generated code ----


# ---- templates: cloned once per (ISA, dtype) with MR, NR, NR2, KC, MC, NC, DIRECT_B_MAX_M, NARROW,
# _micro, _micro_narrow bound in the clone's globals (_variant); never called themselves. These
# names are deliberately NOT module globals (a test checks it): a template that ran unbound would
# fail with a NameError instead of silently using another ISA's tile.  # noqa: F821 for linters

def _pack_a(trans_a, alpha, a, i0, mc, p0, kc, ap):
    """ap[r, p] = alpha * op(A)[i0 + r, p0 + p] for r < mc; rows mc.. up to a multiple of MR are zero.

    Rows of ap run along k like rows of A, so the kernel reads a packed block and A itself alike.
    The outer loop walks a's rows so that hardware prefetch streams them.
    """
    zero = ap.dtype.type(0)
    if trans_a:                     # op(A)[i, p] = a[p, i]: a transpose, done in 16-row strips
        for r0 in range(0, mc, 16):     # a strip's kc x 16 source (kc cache lines) stays in L1
            r0 &= _IDX
            col = (i0 + r0) & _IDX
            row0 = p0 & _IDX
            for r in range(min(16, mc - r0)):
                rr = (r0 + r) & _IDX
                for p in range(kc):     # contiguous stores, strided loads that hit L1
                    ap[rr, p] = alpha * a[row0 + p, col + r]
    else:
        col = p0 & _IDX
        for r in range(mc):
            r &= _IDX
            row = (i0 + r) & _IDX
            for p in range(kc):
                ap[r, p] = alpha * a[row, col + p]
    for r in range(mc, (mc + MR - 1) // MR * MR):
        for p in range(kc):
            ap[r, p] = zero


def _pack_b(trans_b, b, p0, kc, j0, nc, bp):
    """bp[q*kc + p, s] = op(B)[p0 + p, j0 + q*NR + s] for nc columns; columns past nc are zero.

    bp is 2-D (panels * kc, NR): panel q is a contiguous (kc, NR) block, read by the kernel with
    the same [row, column] indexing as B itself (see ``direct_b`` in _block).

    Reads b along its rows (the outer loop walks b's rows, so hardware prefetch streams them).
    """
    zero = bp.dtype.type(0)
    panels = (nc + NR - 1) // NR
    if trans_b:                     # op(B)[p, j] = b[j, p]: each row of b fills one column of one panel
        for q in range(panels):
            q &= _IDX
            c0 = (j0 + q * NR) & _IDX
            cols = min(NR, j0 + nc - c0)
            for s in range(NR):
                if s < cols:
                    row = (c0 + s) & _IDX
                    col = p0 & _IDX
                    for p in range(kc):
                        bp[q * kc + p, s] = b[row, col + p]
                else:
                    for p in range(kc):
                        bp[q * kc + p, s] = zero
    else:                           # each row of b feeds every panel
        for p in range(kc):
            p &= _IDX
            row = (p0 + p) & _IDX
            for q in range(panels):
                q &= _IDX
                c0 = (j0 + q * NR) & _IDX
                cols = min(NR, j0 + nc - c0)
                if cols == NR:
                    for s in range(NR):
                        bp[q * kc + p, s] = b[row, c0 + s]
                else:
                    for s in range(cols):
                        bp[q * kc + p, s] = b[row, c0 + s]
                    for s in range(cols, NR):
                        bp[q * kc + p, s] = zero


def _block(trans_a, trans_b, alpha, a, b, beta, c, m0, m1, n0, n1, k, ap, bp, tile):
    """C[m0:m1, n0:n1] on one thread: jc -> pc -> pack B -> ic -> pack A -> ir -> jr -> register tile."""
    one = c.dtype.type(1)
    for jc in range(n0, n1, NC):
        nc = min(NC, n1 - jc)
        for pc in range(0, k, KC):
            kc = min(KC, k - pc)
            cs = beta if pc == 0 else one   # Darknet scales C by beta before accumulating
            # Small k (16x27x173056: K = 27) reads B in place: then B is read once from memory
            # and packing would only add a copy. Larger k packs, because a kernel call reading kc
            # rows of B in place touches kc pages (TLB misses) instead of kc * NR * 4 bytes.
            # The same when few rows share each packed element (DIRECT_B_MAX_M; AVX2: packing B
            # took 40% of 32x144x43264's time; in place it ran at 81% of OpenBLAS instead of 58%).
            direct_b = not trans_b and (k <= DIRECT_B_MAX_K or m1 - m0 <= DIRECT_B_MAX_M)
            if not direct_b:
                _pack_b(trans_b, b, pc, kc, jc, nc, bp)
            for ic in range(m0, m1, MC):
                mc = min(MC, m1 - ic)
                # NN with alpha == 1 reads A in place: A's rows already run along k, and a copy of
                # A would be read only ceil(N / NR) times (6 times when N = 169).
                direct = not trans_a and alpha == one and mc % MR == 0
                if not direct:
                    _pack_a(trans_a, alpha, a, ic, mc, pc, kc, ap)
                k0 = pc - pc    # 0 as a plain int: a literal 0 argument would compile the kernels again
                for ir in range(0, mc, MR):
                    mr = min(MR, mc - ir)
                    i = ic + ir
                    for jr in range(0, nc, NR):
                        nr = min(NR, nc - jr)
                        j = jc + jr
                        width = NR if nr > NR2 else NR2
                        inside = mr == MR and nr == width
                        if inside:
                            cc, ii, jj = c, i, j
                        else:               # edge: same kernel on a zero-padded copy of the tile
                            for r in range(mr):
                                for s in range(nr):
                                    tile[r, s] = c[i + r, j + s]
                            cc, ii, jj = tile, 0, 0
                        if direct:
                            aa, ia, ka = a, i, pc
                        else:
                            aa, ia, ka = ap, ir, k0
                        if direct_b and nr == width:
                            bb, kb, jb = b, pc, j
                        elif direct_b:      # the kernel would read past B's last column: pack it
                            _pack_b(trans_b, b, pc, kc, j, nr, bp)
                            bb, kb, jb = bp, k0, k0
                        else:
                            bb, kb, jb = bp, jr // NR * kc, k0
                        # One call site per kernel: each extra call site of a 600-instruction
                        # kernel costs seconds of LLVM time at the first compile. NARROW is a
                        # constant of the clone, so numba prunes the branch it does not take.
                        if NARROW:
                            if width == NR:
                                _micro(kc, aa, ia, ka, bb, kb, jb, cc, ii, jj, cs)
                            else:
                                _micro_narrow(kc, aa, ia, ka, bb, kb, jb, cc, ii, jj, cs)
                        else:
                            _micro(kc, aa, ia, ka, bb, kb, jb, cc, ii, jj, cs)
                        if not inside:
                            for r in range(mr):
                                for s in range(nr):
                                    c[i + r, j + s] = tile[r, s]


def _gemm(trans_a, trans_b, alpha, a, b, beta, c):
    """C = alpha * op(A) @ op(B) + beta * C for one (ISA, dtype) tile: see ``gemm``."""
    m, n = c.shape
    k = a.shape[0] if trans_a else a.shape[1]
    if m == 0 or n == 0:
        return
    beta_ = c.dtype.type(beta)
    if k == 0:                                  # nothing to accumulate: C = beta * C
        if beta_ != 1:
            for i in prange(m):
                for j in range(n):
                    c[i, j] *= beta_
        return
    alpha_ = c.dtype.type(alpha)
    split_n = n >= m                            # slabs of whole tiles along the longer side
    units = (n + NR - 1) // NR if split_n else (m + MR - 1) // MR
    tasks = max(1, min(num_threads(), units))
    for t in prange(tasks):
        u0 = units * t // tasks
        u1 = units * (t + 1) // tasks
        if split_n:
            m0, m1, n0, n1 = 0, m, u0 * NR, min(n, u1 * NR)
        else:
            m0, m1, n0, n1 = u0 * MR, min(m, u1 * MR), 0, n
        kb = min(k, KC)
        ap = np.empty(((min(MC, m1 - m0) + MR - 1) // MR * MR, kb), dtype=c.dtype)
        bp = np.empty(((min(NC, n1 - n0) + NR - 1) // NR * kb, NR), dtype=c.dtype)
        tile = np.zeros((MR, NR), dtype=c.dtype)
        _block(trans_a, trans_b, alpha_, a, b, beta_, c, m0, m1, n0, n1, k, ap, bp, tile)


def _clone(template, name, namespace, decorator):
    """``template`` compiled under its own name with ``namespace`` as its globals (module docstring:
    a distinct name gives it its own cache entry)."""
    f = types.FunctionType(template.__code__, namespace, name, template.__defaults__)
    f.__qualname__ = name
    f.__doc__ = template.__doc__
    return decorator(f)


def _variant(isa, dtype):
    """The jitted driver of one (ISA, dtype): clones of the templates with the tile bound."""
    t = TILES[isa, dtype]
    suffix = "_%s_%s" % (isa, {"f4": "f32", "f8": "f64"}[dtype])
    ns = dict(globals())
    ns.update(MR=t.mr, NR=t.nr, NR2=t.nr2, KC=t.kc, MC=t.mc, NC=t.nc, DIRECT_B_MAX_M=t.direct_b_max_m, NARROW=t.nr2 != t.nr,
              _micro=globals()["_micro_%dx%d" % (t.mr, t.nr)],
              _micro_narrow=globals()["_micro_%dx%d" % (t.mr, t.nr2)])
    for template in (_pack_a, _pack_b, _block):
        ns[template.__name__] = _clone(template, template.__name__ + suffix, ns, gemm_kernel)
    return _clone(_gemm, "_gemm" + suffix, ns, parallel_gemm_kernel)


_DRIVERS = {(isa, dtype): _variant(isa, dtype) for isa, dtype in TILES}


def _dtype_key(dtype):
    return "f8" if np.dtype(dtype) == np.float64 else "f4"    # other dtypes: the float32 tile


def gemm_for(isa, dtype=np.float32):
    """The jitted gemm driver of ``isa`` ("avx512", "avx2", "generic") for ``dtype``; any of them
    runs on any CPU that numba's target can execute (tests call each directly), only the one
    matching the CPU is fast."""
    return _DRIVERS[isa, _dtype_key(dtype)]


def tile(dtype=np.float32, isa=None):
    """The chosen register tile in words, e.g. "avx512 8x32 float32 (+8x16 tail)"."""
    isa = isa or ISA
    t = TILES[isa, _dtype_key(dtype)]
    tail = " (+%dx%d tail)" % (t.mr, t.nr2) if t.nr2 != t.nr else ""
    return "%s %dx%d %s%s" % (isa, t.mr, t.nr, np.dtype(dtype).name, tail)


def gemm(trans_a, trans_b, alpha, a, b, beta, c):
    """C = alpha * op(A) @ op(B) + beta * C with Darknet's semantics (see the module docstring).

    a: (M, K), or (K, M) if trans_a; b: (K, N), or (N, K) if trans_b; c: (M, N), C-contiguous.
    Shapes are not checked (kernels never validate): callers pass consistent views. Calls the
    driver of this CPU's ISA for c's dtype (a dictionary lookup: ~0.1 us).
    """
    _DRIVERS[ISA, "f8" if c.dtype.itemsize == 8 else "f4"](trans_a, trans_b, alpha, a, b, beta, c)
