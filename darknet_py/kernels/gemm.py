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
accumulators plus the A broadcasts and one B register fit the vector registers.

=========  =====================  =========================  ======================================
ISA        registers              float32 tile (tail)        float64 tile
=========  =====================  =========================  ======================================
avx512     32 zmm (16 floats)     8 x 32 = 16 acc (8 x 16)   8 x 16 = 16 acc
avx2       16 ymm (8 floats), FMA 3 x 32 = 12 acc (3 x 16)   3 x 16 = 12 acc
generic    16 xmm (SSE) / 32 q    4 x 8 = 8 acc              4 x 4 = 8 acc
           (NEON), via LLVM
=========  =====================  =========================  ======================================

Why 3 x 32 and not the textbook 6 x 16 on AVX2 (both 12 accumulators): 3 x 32 needs 3 broadcasts +
1 B register + 12 accumulators = 16 ymm, no spill, and 7 loads per 12 FMAs (the haswell build of a
k-step is 22 instructions: 3 broadcasts, 4 B loads, 12 FMAs, no stack access), while 6 x 16 on
2 AVX2 threads ran at 80% of OpenBLAS (median) where 3 x 32 ran at 83-86%. The generic tiles are the largest
with no spill on baseline x86-64 (SSE2, no FMA: a multiply and an add, and a register copy, per
pair of elements).

``conv_gemm`` is gemm with B = im2col(image) packed straight from the image (``_pack_b_image``,
bound in a second clone of the templates per (ISA, dtype), ``_gemm_<isa>_<dtype>_conv``, whose
IMAGE_B constant makes ``_block`` pack every B block from the image; in those clones the
``trans_b`` argument carries the image geometry and ``b`` is the (channels * height, width) image).
The conv layer's fast paths use it where the column matrix is too long to read in place and each
thread packs its own columns (layers/convolutional.py ``_packs_from_image``). Same values, bitwise.

``gemm`` is a thin Python function that calls the driver of (ISA, dtype); ``gemm_for(isa, dtype)``
gives any ISA's driver (the tests run every one the host can execute); ``tile()`` describes the
choice ("avx512 8x32 float32 (+8x16 tail)"). ``tools/bench_gemm.py`` and ``darknet-py bench`` show it.

Why the on-disk cache never hands one ISA's machine code to another CPU: numba keys each cached
function on (its file's stamp, its qualified name and first line, its signature, the target CPU
name + features). Every (ISA, dtype) variant is its OWN jitted function (``_gemm_avx2_f32``,
``_block_avx2_f32``, ...; clones of one template with the tile constants bound in their globals,
all in this file) whose register-tile IR is emitted inline (``_register_tile``, with the ISA's
register width bound when the variant is made). So (1) code compiled for one CPU is
only ever loaded for the same CPU name + features; (2) a variant's tile is fixed by its name and this
file, and editing this file invalidates all of them; (3) the ISA choice itself is made in Python at
import, never read as a constant by compiled code, so no compiled function depends on a value from
another module (numba's key would not see such a value). A variant compiled for a CPU that cannot
run it well (the AVX-512 tile on AVX2) is still correct, only slow; a CPU that cannot execute the
instructions gets its own compilation, because its name/features differ.

How it is fast (GotoBLAS/BLIS structure; PERFORMANCE.md has the measurements and the traps):

* Register tile: the micro-kernel keeps an MR x NR block of C in vector registers (AVX-512
  float32: 8 x 32 = 16 zmm, 2 per row). Each step of k broadcasts MR values of A, loads NR/width
  vectors of B one at a time and issues MR * NR/width FMAs: enough independent accumulators to
  cover the FMA latency on both FMA ports, and few enough loads per FMA. It is written as LLVM
  vector IR (``_register_tile``, a Numba intrinsic inlined into the block loop), because Numba has
  no SIMD types and no noalias on array arguments. The 32-column float32 tiles have a second,
  16-column kernel for column tails of 16 or fewer (N = 169 = 5*32 + 9 wastes 12% of the work with
  a 32-wide tail, 4% with a 16-wide one); the narrower tiles waste little and have one kernel.
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
* Blocking (loops jc -> pc -> pack B -> ic -> pack A -> jr -> ir -> kernel, BLIS's order): each
  KC x NR micro-panel of B (32 KiB for float32 8x32 or 3x32 tiles) stays in L1 while the MC x KC
  block of A streams through it from L2, and the KC x NC block of B waits in L2 (AVX-512: 256 x 1024
  float32 = 1 MiB of a 2 MiB L2; AVX2/generic: 384 KiB, for the 512 KiB L2 of AMD Zen 2/3). Per
  k step that streams MR elements of A from L2 instead of NR of B: the ir -> jr order it replaced
  ran at 84% of OpenBLAS on one AVX2 thread, this one at 91%. k is cut in equal blocks of at most
  KC. C tiles are read and written once per k block, and beta is applied on the first one's read.
* Edges: tiles that stick out of C are copied into a zero-padded MR x NR scratch tile, run through
  the same kernel and copied back, so the kernel never needs bounds.
* Threads: C is split into ``numba.get_num_threads()`` slabs (columns when N >= M, else rows, unless
  that side has fewer register tiles than threads and the other more) on tile boundaries; each
  prange task packs its own panels, so tasks share nothing they write.
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

from llvmlite import ir

from ._jit import (cgutils, gemm_kernel, intrinsic, num_threads, numba_types, parallel_gemm_kernel, prange,
                   target_isa)

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
VECTOR_BYTES = {"avx512": 64, "avx2": 32, "generic": 16}     # one vector register (generic: SSE, NEON)


def _register_tile(mr, nr, vector_bytes):
    """The register-tile kernel for an mr x nr tile, written as LLVM vector IR (an intrinsic):

        C[i:i+mr, j:j+nr] = cs * C[i:i+mr, j:j+nr] + aa[ia:ia+mr, ka:ka+kc] @ bb[kb:kb+kc, jb:jb+nr]

    called as ``_micro(kc, aa, ia, ka, bb, kb, jb, c, i, j, cs)`` from jitted code. aa is alpha *
    op(A) with rows along k (A itself for NN with alpha == 1, else a packed block); bb is op(B) with
    rows along k (B itself for NN with small k, else a packed micro-panel); both and c are 2-D arrays
    of one float dtype, and the indexes are in range (the caller's contract).

    The tile is held as mr x (nr / lanes) vectors of one register each (lanes = vector_bytes / the
    element size: 16 float32 in a zmm, 8 in a ymm, 4 in an xmm). Each k step broadcasts the mr
    elements of A's column, then loads ONE register of B's row at a time and issues its mr
    ``llvm.fmuladd``: live registers are the accumulators, mr broadcasts and one B register (AVX2
    3 x 32: 12 + 3 + 1 = 16 ymm, no spill). LLVM fuses each fmuladd into an FMA where the target has
    one, else a multiply and an add: per element c = cs * c, then c += a * b for k = 0, 1, ...
    (Darknet's order; the same rounding as the contracted ``c += a * b`` of the naive twin).

    Why IR and not Python: Numba has no SIMD types and no noalias, so an accumulator array would be
    reloaded and stored every k step, and the scalar alternative (mr * nr statements for LLVM's SLP
    vectorizer) took 10 s of LLVM time for the 8 x 32 tile at the first run; this emits a few
    hundred instructions inline at the call site (the accumulators are allocas that LLVM promotes
    to registers) and compiles in a fraction of a second.
    """
    @intrinsic
    def tile_kernel(typingctx, kc, aa, ia, ka, bb, kb, jb, c, i, j, cs):
        sig = numba_types.void(kc, aa, ia, ka, bb, kb, jb, c, i, j, cs)

        def codegen(context, builder, signature, args):
            _emit_register_tile(context, builder, signature.args, args, mr, nr, vector_bytes)
            return context.get_dummy_value()
        return sig, codegen
    tile_kernel.tile = (mr, nr, vector_bytes)               # for reports and tests
    return tile_kernel


def _short_register_tile(mr, nr, vector_bytes):
    """``_short(rows, kc, aa, ...)``: the register tile of ``rows`` < mr rows (the last row tile of M),
    one loop per possible row count behind a switch, so that a short tile neither computes padding
    rows nor goes through the zero-padded scratch tile (M = 16 on AVX2's 3-row tile: 5 full tiles
    and one of 1 row instead of 6 full ones)."""
    @intrinsic
    def short_kernel(typingctx, rows, kc, aa, ia, ka, bb, kb, jb, c, i, j, cs):
        sig = numba_types.void(rows, kc, aa, ia, ka, bb, kb, jb, c, i, j, cs)

        def codegen(context, builder, signature, args):
            count = context.cast(builder, args[0], signature.args[0], numba_types.intp)
            done = builder.append_basic_block("short_tile_done")
            switch = builder.switch(count, done)
            for r in range(1, mr):
                case = builder.append_basic_block("short_tile_%d" % r)
                switch.add_case(ir.Constant(count.type, r), case)
                builder.position_at_end(case)
                _emit_register_tile(context, builder, signature.args[1:], args[1:], r, nr, vector_bytes)
                builder.branch(done)
            builder.position_at_end(done)
            return context.get_dummy_value()
        return sig, codegen
    short_kernel.tile = (mr, nr, vector_bytes)
    return short_kernel


class _IRArray:
    """IR access to a 2-D array argument of an intrinsic: element (row, col) and ``lanes`` elements of
    a row as one vector. Views that are not C-contiguous (numba layout "A": a strided A, say) are
    read and written element by element."""

    def __init__(self, context, builder, array_type, value, lanes):
        self.builder = builder
        self.intp = context.get_value_type(numba_types.intp)
        element = context.get_value_type(array_type.dtype)
        self.size = context.get_abi_sizeof(element)
        self.lanes = lanes
        self.vector = ir.VectorType(element, lanes)              # one register: <lanes x float>
        array = context.make_array(array_type)(context, builder, value=value)
        row_bytes, col_bytes = cgutils.unpack_tuple(builder, array.strides, 2)
        self.base, self.contiguous = array.data, array_type.layout == "C"
        self.row_stride = builder.sdiv(row_bytes, self.const(self.size))
        self.col_stride = self.const(1) if self.contiguous else builder.sdiv(col_bytes, self.const(self.size))

    def const(self, n):
        return ir.Constant(self.intp, n)

    def address(self, row, col):                                # &array[row, col]
        b = self.builder
        at = b.add(b.mul(row, self.row_stride), b.mul(col, self.col_stride))
        return b.gep(self.base, [at], inbounds=True)

    def load(self, row, col):
        return self.builder.load(self.address(row, col), align=self.size)

    def load_vector(self, row, col):                            # array[row, col:col + lanes]
        b = self.builder
        if self.contiguous:
            return b.load(b.bitcast(self.address(row, col), self.vector.as_pointer()), align=self.size)
        value = ir.Constant(self.vector, ir.Undefined)
        for s in range(self.lanes):
            value = b.insert_element(value, self.load(row, b.add(col, self.const(s))), ir.Constant(_I32, s))
        return value

    def store_vector(self, row, col, value):
        b = self.builder
        if self.contiguous:
            b.store(value, b.bitcast(self.address(row, col), self.vector.as_pointer()), align=self.size)
            return
        for s in range(self.lanes):
            x = b.extract_element(value, ir.Constant(_I32, s))
            b.store(x, self.address(row, b.add(col, self.const(s))), align=self.size)

    def broadcast(self, x):                                     # a register with every lane x
        undefined = ir.Constant(self.vector, ir.Undefined)
        one = self.builder.insert_element(undefined, x, ir.Constant(_I32, 0))
        return self.builder.shuffle_vector(one, undefined, _mask([0] * self.lanes))


_I32 = ir.IntType(32)


def _mask(indexes):
    return ir.Constant(ir.VectorType(_I32, len(indexes)), list(indexes))


def _emit_register_tile(context, builder, arg_types, args, mr, nr, vector_bytes):
    """The IR of one register-tile call (see _register_tile); arguments as in its signature."""
    kc, aa, ia, ka, bb, kb, jb, c, i, j, cs = args
    t_kc, t_aa, t_ia, t_ka, t_bb, t_kb, t_jb, t_c, t_i, t_j, t_cs = arg_types
    kc, ia, ka, kb, jb, i, j = (context.cast(builder, v, t, numba_types.intp) for v, t in
                                ((kc, t_kc), (ia, t_ia), (ka, t_ka), (kb, t_kb), (jb, t_jb), (i, t_i), (j, t_j)))
    dtype = t_c.dtype
    size = context.get_abi_sizeof(context.get_value_type(dtype))
    lanes = min(nr, vector_bytes // size)
    pieces = nr // lanes                                    # registers per row of the tile
    a_op, b_op, c_op = (_IRArray(context, builder, t, v, lanes) for t, v in ((t_aa, aa), (t_bb, bb), (t_c, c)))
    vector, const = c_op.vector, c_op.const
    fmuladd = cgutils.get_or_insert_function(
        builder.module, ir.FunctionType(vector, [vector] * 3),
        "llvm.fmuladd.v%d%s" % (lanes, "f64" if size == 8 else "f32"))
    scale = c_op.broadcast(context.cast(builder, cs, t_cs, dtype))
    c_rows = [builder.add(i, const(r)) for r in range(mr)]
    a_rows = [builder.add(ia, const(r)) for r in range(mr)]
    b_cols = [builder.add(jb, const(v * lanes)) for v in range(pieces)]
    c_cols = [builder.add(j, const(v * lanes)) for v in range(pieces)]
    accumulators = {}                                       # (r, v) -> alloca of one register
    for r in range(mr):
        for v in range(pieces):
            acc = accumulators[r, v] = cgutils.alloca_once(builder, vector)
            builder.store(builder.fmul(c_op.load_vector(c_rows[r], c_cols[v]), scale), acc)
    with cgutils.for_range(builder, kc) as loop:
        b_row, a_col = builder.add(kb, loop.index), builder.add(ka, loop.index)
        a = [a_op.broadcast(a_op.load(a_rows[r], a_col)) for r in range(mr)]
        for v in range(pieces):
            b = b_op.load_vector(b_row, b_cols[v])
            for r in range(mr):
                acc = accumulators[r, v]
                builder.store(builder.call(fmuladd, [a[r], b, builder.load(acc)]), acc)
    for r in range(mr):
        for v in range(pieces):
            c_op.store_vector(c_rows[r], c_cols[v], builder.load(accumulators[r, v]))


TRANSPOSE_BLOCK = 8     # the transposed packs move 8 x 8 blocks through vector registers


@intrinsic
def _transpose_8x8(typingctx, src, r, c, dst, dr, dc, alpha):
    """``_transpose_8x8(src, r, c, dst, dr, dc, alpha)``: dst[dr + i, dc + j] = alpha * src[r + j, c + i]
    for i, j < 8, in registers: 8 row loads, Intel's 24-shuffle transpose (unpack, shuffle, 128-bit
    permute; LLVM picks the target's instructions), 8 multiplies and 8 row stores. The transposed packs
    of A (TN, TT) and B (NT, TT) used one strided load or store per element, which made TN run at
    62-78% of OpenBLAS where NN runs at 90%+. Each element is alpha * x, as the scalar loop wrote it
    (the B pack passes alpha = 1: x * 1 is x)."""
    sig = numba_types.void(src, r, c, dst, dr, dc, alpha)

    def codegen(context, builder, signature, args):
        t_src, t_r, t_c, t_dst, t_dr, t_dc, t_alpha = signature.args
        src_, r_, c_, dst_, dr_, dc_, alpha_ = args
        r_, c_, dr_, dc_ = (context.cast(builder, v, t, numba_types.intp)
                            for v, t in ((r_, t_r), (c_, t_c), (dr_, t_dr), (dc_, t_dc)))
        source = _IRArray(context, builder, t_src, src_, TRANSPOSE_BLOCK)
        target = _IRArray(context, builder, t_dst, dst_, TRANSPOSE_BLOCK)
        rows = [source.load_vector(builder.add(r_, source.const(j)), c_) for j in range(TRANSPOSE_BLOCK)]
        scale = target.broadcast(context.cast(builder, alpha_, t_alpha, t_dst.dtype))
        for i, column in enumerate(_transpose_vectors(builder, rows)):
            target.store_vector(builder.add(dr_, target.const(i)), dc_, builder.fmul(scale, column))
        return context.get_dummy_value()
    return sig, codegen


def _transpose_vectors(builder, rows):
    """The 8 columns of the 8 x 8 block whose rows are the 8-lane vectors ``rows``."""
    def shuffle(x, y, mask):
        return builder.shuffle_vector(x, y, _mask(mask))
    t = []                                  # pairs of rows interleaved: (r0, r1) -> a00 a10 a01 a11 ...
    for k in range(0, 8, 2):
        t.append(shuffle(rows[k], rows[k + 1], [0, 8, 1, 9, 4, 12, 5, 13]))
        t.append(shuffle(rows[k], rows[k + 1], [2, 10, 3, 11, 6, 14, 7, 15]))
    u = []                                  # four rows interleaved: columns k and k + 4 of 4 rows
    for k in (0, 4):
        for x, y in ((t[k], t[k + 2]), (t[k + 1], t[k + 3])):
            u.append(shuffle(x, y, [0, 1, 8, 9, 4, 5, 12, 13]))
            u.append(shuffle(x, y, [2, 3, 10, 11, 6, 7, 14, 15]))
    low = [shuffle(u[k], u[k + 4], [0, 1, 2, 3, 8, 9, 10, 11]) for k in range(4)]     # columns 0..3
    high = [shuffle(u[k], u[k + 4], [4, 5, 6, 7, 12, 13, 14, 15]) for k in range(4)]  # columns 4..7
    return low + high


# ---- templates: cloned once per (ISA, dtype) with MR, NR, NR2, KC, MC, NC, DIRECT_B_MAX_M, NARROW,
# _micro, _micro_narrow, _short, _short_narrow bound in the clone's globals (_variant); never called
# themselves. These names are deliberately NOT module globals (a test checks it): a template that ran unbound would
# fail with a NameError instead of silently using another ISA's tile.  # noqa: F821 for linters

def _pack_a(trans_a, alpha, a, i0, mc, p0, kc, ap):
    """ap[r, p] = alpha * op(A)[i0 + r, p0 + p] for r < mc; rows mc.. up to a multiple of MR are zero.

    Rows of ap run along k like rows of A, so the kernel reads a packed block and A itself alike.
    The outer loop walks a's rows so that hardware prefetch streams them.
    """
    zero = ap.dtype.type(0)
    if trans_a:                     # op(A)[i, p] = a[p, i]: a transpose, 8 x 8 blocks in registers
        whole_k = kc // TRANSPOSE_BLOCK * TRANSPOSE_BLOCK
        for r0 in range(0, mc, TRANSPOSE_BLOCK):   # 8 columns of a: kc half cache lines, kept in L1
            r0 &= _IDX
            if r0 + TRANSPOSE_BLOCK <= mc:
                for q in range(0, whole_k, TRANSPOSE_BLOCK):
                    _transpose_8x8(a, (p0 + q) & _IDX, (i0 + r0) & _IDX, ap, r0, q & _IDX, alpha)
                first_p = whole_k
            else:
                first_p = 0
            for r in range(r0, min(mc, r0 + TRANSPOSE_BLOCK)):     # edges element by element
                rr = r & _IDX
                for p in range(first_p, kc):
                    ap[rr, p] = alpha * a[(p0 + p) & _IDX, (i0 + rr) & _IDX]
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
        one = bp.dtype.type(1)
        whole_k = kc // TRANSPOSE_BLOCK * TRANSPOSE_BLOCK
        for q in range(panels):
            q &= _IDX
            c0 = (j0 + q * NR) & _IDX
            cols = min(NR, j0 + nc - c0)
            first_s = 0
            if NR % TRANSPOSE_BLOCK == 0 and cols == NR:    # a whole panel: 8 x 8 blocks in registers
                for s0 in range(0, NR, TRANSPOSE_BLOCK):
                    for p8 in range(0, whole_k, TRANSPOSE_BLOCK):
                        _transpose_8x8(b, (c0 + s0) & _IDX, (p0 + p8) & _IDX, bp, (q * kc + p8) & _IDX,
                                       s0 & _IDX, one)
                    for s in range(s0, s0 + TRANSPOSE_BLOCK):      # the last kc % 8 rows
                        row = (c0 + s) & _IDX
                        for p in range(whole_k, kc):
                            bp[q * kc + p, s] = b[row, (p0 + p) & _IDX]
                first_s = NR
            for s in range(first_s, NR):    # element by element: partial panels, narrow tiles
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


def _pack_b_image(geometry, im, p0, kc, j0, nc, bp, line):
    """``_pack_b`` of a convolution's column matrix, read from the image (implicit im2col): op(B)[p, j]
    = im2col(im)[p, j], row p = (c*ksize + ky)*ksize + kx, column j = oy*out_w + ox, reading image
    (c, oy*stride + ky - pad, ox*stride + kx - pad), 0 outside it. ``im`` is the (channels * height,
    width) image; geometry = (height, width, ksize, stride, pad, out_w). The same numbers as
    packing im2col's matrix, so the same products in the same order, but the column matrix (9 MB
    for yolov3-tiny's layer 21) is never written to memory and read back.

    Per row p: its nc columns are gathered into ``line`` (_block's (NC,) scratch) one output row at
    a time (the columns whose x lies inside the image found once per p, as im2col_fast does: a
    bounds-free copy, contiguous for stride 1), then scattered into the panels like _pack_b's rows."""
    height, width, ksize, stride, pad, out_w = geometry
    zero = bp.dtype.type(0)
    panels = (nc + NR - 1) // NR
    for jj in range(nc, panels * NR):
        line[jj] = zero
    for p in range(kc):
        p &= _IDX
        r = p0 + p
        kx = r % ksize
        ky = (r // ksize) % ksize
        ch = r // (ksize * ksize)
        shift = kx - pad                                  # x = ox * stride + shift
        lo = min(out_w, max(0, (stride - 1 - shift) // stride))   # first ox with x >= 0
        hi = max(lo, min(out_w, (width - 1 - shift) // stride + 1))  # one past the last x < width
        j = j0
        while j < j0 + nc:                                # one output row's run of columns at a time
            oy = j // out_w
            ox0 = j - oy * out_w
            ox1 = min(out_w, ox0 + j0 + nc - j)
            at = j - j0 - ox0                             # line[at + ox] is column (oy, ox)
            y = oy * stride + ky - pad
            if y < 0 or y >= height:
                for ox in range(ox0, ox1):
                    line[(at + ox) & _IDX] = zero
            else:
                src = (ch * height + y) & _IDX
                a = min(max(ox0, lo), ox1)
                b = max(min(ox1, hi), a)
                for ox in range(ox0, a):
                    line[(at + ox) & _IDX] = zero
                if stride == 1:
                    for ox in range(a, b):
                        line[(at + ox) & _IDX] = im[src, (ox + shift) & _IDX]
                else:
                    for ox in range(a, b):
                        line[(at + ox) & _IDX] = im[src, (ox * stride + shift) & _IDX]
                for ox in range(b, ox1):
                    line[(at + ox) & _IDX] = zero
            j += ox1 - ox0
        for q in range(panels):
            q &= _IDX
            for s in range(NR):
                bp[q * kc + p, s] = line[q * NR + s]


def _block(trans_a, trans_b, alpha, a, b, beta, c, m0, m1, n0, n1, k, ap, bp, tile):
    """C[m0:m1, n0:n1] on one thread: jc -> pc -> pack B -> ic -> pack A -> jr -> ir -> register tile."""
    one = c.dtype.type(1)
    if IMAGE_B:     # the conv clone: (NC,) one row of op(B) gathered from the image, zero-padded
        line = np.empty(NC, dtype=c.dtype)
    # k in equal blocks of at most KC (576 = 3 x 192, not 256 + 256 + 64: a short last block
    # reads and writes every C tile for few FMAs)
    k_blocks = (k + KC - 1) // KC
    k_step = (k + k_blocks - 1) // k_blocks
    for jc in range(n0, n1, NC):
        nc = min(NC, n1 - jc)
        for pc in range(0, k, k_step):
            kc = min(k_step, k - pc)
            cs = beta if pc == 0 else one   # Darknet scales C by beta before accumulating
            # Small k (16x27x173056: K = 27) reads B in place: then B is read once from memory
            # and packing would only add a copy. Larger k packs, because a kernel call reading kc
            # rows of B in place touches kc pages (TLB misses) instead of kc * NR * 4 bytes.
            # The same when few rows share each packed element (DIRECT_B_MAX_M; AVX2: packing B
            # took 40% of 32x144x43264's time; in place it ran at 81% of OpenBLAS instead of 58%).
            if IMAGE_B:                 # the conv clone: trans_b is the geometry, b the image
                direct_b = False
                _pack_b_image(trans_b, b, pc, kc, jc, nc, bp, line)
            else:
                direct_b = not trans_b and (k <= DIRECT_B_MAX_K or m1 - m0 <= DIRECT_B_MAX_M)
                if not direct_b:
                    _pack_b(trans_b, b, pc, kc, jc, nc, bp)
            for ic in range(m0, m1, MC):
                mc = min(MC, m1 - ic)
                # NN with alpha == 1 reads A in place: A's rows already run along k, and a copy of
                # A would be read only ceil(N / NR) times (6 times when N = 169). Short row tiles
                # read only their own rows of A.
                direct = not trans_a and alpha == one
                if not direct:
                    _pack_a(trans_a, alpha, a, ic, mc, pc, kc, ap)
                k0 = pc - pc    # 0 as a plain int: a literal 0 argument would compile the kernels again
                for jr in range(0, nc, NR):
                    nr = min(NR, nc - jr)
                    j = jc + jr
                    width = NR if nr > NR2 else NR2
                    for ir in range(0, mc, MR):
                        mr = min(MR, mc - ir)
                        i = ic + ir
                        inside = nr == width    # short row tiles too: they have their own kernels
                        if inside:
                            cc, ii, jj = c, i, j
                        else:               # column edge: same kernel on a zero-padded copy of the tile
                            for r in range(mr):
                                for s in range(nr):
                                    tile[r, s] = c[i + r, j + s]
                            cc, ii, jj = tile, 0, 0
                        if direct:
                            aa, ia, ka = a, i, pc
                        else:
                            aa, ia, ka = ap, ir, k0
                        if IMAGE_B:
                            bb, kb, jb = bp, jr // NR * kc, k0
                        elif direct_b and nr == width:
                            bb, kb, jb = b, pc, j
                        elif direct_b:      # the kernel would read past B's last column: pack it
                            _pack_b(trans_b, b, pc, kc, j, nr, bp)
                            bb, kb, jb = bp, k0, k0
                        else:
                            bb, kb, jb = bp, jr // NR * kc, k0
                        # One call site per kernel in each clone (each is an inline copy of its
                        # loop): NARROW is a constant of the clone, and numba prunes the branch it
                        # does not take.
                        if NARROW:
                            if width != NR:
                                if mr < MR:
                                    _short_narrow(mr, kc, aa, ia, ka, bb, kb, jb, cc, ii, jj, cs)
                                else:
                                    _micro_narrow(kc, aa, ia, ka, bb, kb, jb, cc, ii, jj, cs)
                            elif mr < MR:
                                _short(mr, kc, aa, ia, ka, bb, kb, jb, cc, ii, jj, cs)
                            else:
                                _micro(kc, aa, ia, ka, bb, kb, jb, cc, ii, jj, cs)
                        elif mr < MR:
                            _short(mr, kc, aa, ia, ka, bb, kb, jb, cc, ii, jj, cs)
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
    threads = num_threads()
    units_n = (n + NR - 1) // NR                # whole register tiles along each side
    units_m = (m + MR - 1) // MR
    split_n = n >= m                            # slabs along the longer side, unless it has fewer tiles
    if split_n and units_n < threads and units_m > units_n:     # than threads and the other more
        split_n = False                         # (a weight gradient: 16 x 27 x 173056 has ONE column tile)
    elif not split_n and units_m < threads and units_n > units_m:
        split_n = True
    units = units_n if split_n else units_m
    tasks = max(1, min(threads, units))
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


def _variant(isa, dtype, image_b=False):
    """The jitted driver of one (ISA, dtype): clones of the templates with the tile bound.
    ``image_b``: the convolution driver (``conv_gemm``), which packs B from an image."""
    t = TILES[isa, dtype]
    suffix = "_%s_%s%s" % (isa, {"f4": "f32", "f8": "f64"}[dtype], "_conv" if image_b else "")
    ns = dict(globals())
    ns.update(MR=t.mr, NR=t.nr, NR2=t.nr2, KC=t.kc, MC=t.mc, NC=t.nc, DIRECT_B_MAX_M=t.direct_b_max_m, NARROW=t.nr2 != t.nr,
              IMAGE_B=image_b,
              _micro=_register_tile(t.mr, t.nr, VECTOR_BYTES[isa]),
              _micro_narrow=_register_tile(t.mr, t.nr2, VECTOR_BYTES[isa]),
              _short=_short_register_tile(t.mr, t.nr, VECTOR_BYTES[isa]),
              _short_narrow=_short_register_tile(t.mr, t.nr2, VECTOR_BYTES[isa]))
    for template in (_pack_a, _pack_b, _pack_b_image, _block):
        ns[template.__name__] = _clone(template, template.__name__ + suffix, ns, gemm_kernel)
    return _clone(_gemm, "_gemm" + suffix, ns, parallel_gemm_kernel)


_DRIVERS = {(isa, dtype): _variant(isa, dtype) for isa, dtype in TILES}
_CONV_DRIVERS = {(isa, dtype): _variant(isa, dtype, image_b=True) for isa, dtype in TILES}


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


def conv_gemm(a, image, height, width, ksize, stride, pad, beta, c, isa=None):
    """C = A @ im2col(image) + beta * C, packing B straight from the image (never forming the column
    matrix): a convolution of one image with weights A, (filters, channels * ksize * ksize), into
    C, (filters, out_h * out_w). The same values as ``gemm`` on ``im2col``'s matrix, bitwise.

    image: the (channels, height, width) image, flat or not, C-contiguous; Darknet's geometry
    (out = (size + 2 * pad - ksize) // stride + 1). ``isa``: another ISA's driver (tests)."""
    out_w = (width + 2 * pad - ksize) // stride + 1
    geometry = (int(height), int(width), int(ksize), int(stride), int(pad), int(out_w))
    driver = _CONV_DRIVERS[isa or ISA, "f8" if c.dtype.itemsize == 8 else "f4"]
    driver(False, geometry, 1.0, a, image.reshape(-1, width), beta, c)
