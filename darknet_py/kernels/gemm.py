"""General matrix multiply, C = alpha * op(A) @ op(B) + beta * C, on 2-D C-contiguous views.

The four transpose cases Darknet uses (gemm_nn, gemm_nt, gemm_tn, gemm_tt). A is (M, K), or (K, M)
when trans_a; B is (K, N), or (N, K) when trans_b; C is (M, N). Callers make 2-D views of their flat
buffers with reshape (no copy). Like Darknet, beta scales C first, then the product is accumulated.
"""
from ._jit import parallel_gemm_kernel, prange


@parallel_gemm_kernel
def gemm(trans_a, trans_b, alpha, a, b, beta, c):
    m, n = c.shape
    k = a.shape[0] if trans_a else a.shape[1]
    for i in prange(m):
        row = c[i]
        if beta != 1.0:
            for j in range(n):
                row[j] *= beta
        for p in range(k):
            aip = alpha * (a[p, i] if trans_a else a[i, p])
            if trans_b:
                for j in range(n):
                    row[j] += aip * b[j, p]
            else:
                brow = b[p]
                for j in range(n):
                    row[j] += aip * brow[j]
