"""Single-threaded BLAS ``gemm`` callable from Numba code (SciPy's ``cython_blas``).

:func:`gemm_rm` computes a row-major ``C (m x n) = alpha A (m x k) @ B (k x n) + beta C``
by calling the column-major Fortran routine on the transposes. The routine is reached
through a raw function address passed in as an integer (:func:`gemm_address`), so the
Numba functions that use it can still be cached on disk: nothing process-specific is
baked into the compiled code.

SciPy's OpenBLAS would thread a large enough ``gemm`` itself; when the calls come from
the work pool's threads that oversubscribes the cores, so callers wrap the kernel call in
:func:`single_threaded_blas`.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg.cython_blas  # noqa: F401  (loads the library the addresses point into)
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import get_cython_function_address, intrinsic

from evoneuro.backends._blas_threads import blas_threads

_ADDR = {
    np.dtype(np.float32): get_cython_function_address("scipy.linalg.cython_blas", "sgemm"),
    np.dtype(np.float64): get_cython_function_address("scipy.linalg.cython_blas", "dgemm"),
}


def gemm_address(dtype) -> int:
    """Address of SciPy's ``sgemm`` or ``dgemm`` for ``dtype``."""
    return _ADDR[np.dtype(dtype)]


@intrinsic
def _gemm_call(typingctx, fn, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc):
    """Call the Fortran-style ``?gemm`` at address ``fn``; every argument by reference.

    ``ta``/``tb`` are character codes (``ord('N')``/``ord('T')``), the sizes int-like,
    ``alpha``/``beta`` floats of the matrix dtype, ``a``/``b``/``c`` raw data addresses.
    """
    sig = types.void(fn, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)

    def codegen(context, builder, signature, args):
        i8, i32 = ir.IntType(8), ir.IntType(32)
        ptr = i8.as_pointer()
        fptr = builder.inttoptr(args[0], ir.FunctionType(ir.VoidType(), [ptr] * 13).as_pointer())
        ftype = signature.args[6]

        def by_ref(val, llty):
            slot = cgutils.alloca_once(builder, llty)
            builder.store(val, slot)
            return builder.bitcast(slot, ptr)

        def as_int(val, ty, llty):
            return builder.trunc(context.cast(builder, val, ty, types.int64), llty)

        out = []
        for i in range(1, 14):
            val, ty = args[i], signature.args[i]
            if i in (1, 2):  # transposition characters
                out.append(by_ref(as_int(val, ty, i8), i8))
            elif i in (3, 4, 5, 8, 10, 13):  # sizes and leading dimensions: Fortran int
                out.append(by_ref(as_int(val, ty, i32), i32))
            elif i in (6, 11):  # alpha, beta
                out.append(by_ref(context.cast(builder, val, ty, ftype),
                                  context.get_value_type(ftype)))
            else:  # a, b, c: data addresses
                out.append(builder.inttoptr(context.cast(builder, val, ty, types.intp), ptr))
        builder.call(fptr, out)
        return context.get_dummy_value()

    return sig, codegen


_N, _T = ord("N"), ord("T")


@njit(cache=True, inline="always")
def gemm_rm(fn, ta, tb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc):
    """Row-major ``C = alpha op(A) op(B) + beta C`` on raw addresses ``A``, ``B``, ``C``.

    ``op(A)`` is ``m x k``, ``op(B)`` ``k x n``; ``ta``/``tb`` true to transpose; ``lda`` etc.
    are row strides. Column-major BLAS computes ``C^T = op(B)^T op(A)^T``.
    """
    _gemm_call(fn, _T if tb else _N, _T if ta else _N, n, m, k, alpha, B, ldb, A, lda,
               beta, C, ldc)


def single_threaded_blas():
    """One BLAS thread while the kernels' threads call ``gemm`` (no nested parallelism)."""
    return blas_threads(1)
