"""LLVM instructions Numba does not expose: float bit casts and an atomic add.

* :func:`f32_from_bits` and :func:`f64_from_bits` build ``2**n`` for the vectorised ``exp``
  of :mod:`.activations` straight from its exponent bits (``(n + 127) << 23``,
  ``(n + 1023) << 52``); LLVM keeps them in vector registers.
* :func:`fetch_add` hands out task numbers to the threads of :mod:`.pool`
  (``atomicrmw add``), so threads take work as they become free.
"""

from __future__ import annotations

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic


@intrinsic
def f32_from_bits(typingctx, bits):
    """The float32 whose bit pattern is the low 32 bits of the integer ``bits``."""
    if not isinstance(bits, types.Integer):
        return None

    def codegen(context, builder, signature, args):
        low = builder.trunc(args[0], ir.IntType(32)) if bits.bitwidth > 32 else args[0]
        return builder.bitcast(low, ir.FloatType())

    return types.float32(bits), codegen


@intrinsic
def f64_from_bits(typingctx, bits):
    """The float64 whose bit pattern is the 64-bit integer ``bits``."""
    if not isinstance(bits, types.Integer):
        return None

    def codegen(context, builder, signature, args):
        wide = builder.sext(args[0], ir.IntType(64)) if bits.bitwidth < 64 else args[0]
        return builder.bitcast(wide, ir.DoubleType())

    return types.float64(bits), codegen


@intrinsic
def fetch_add(typingctx, arr, inc):
    """``old = arr[0]; arr[0] += inc; return old`` as one atomic step (int64 array)."""
    if not (isinstance(arr, types.Array) and arr.dtype == types.int64):
        return None

    def codegen(context, builder, signature, args):
        ary = context.make_array(signature.args[0])(context, builder, args[0])
        ptr = cgutils.get_item_pointer(context, builder, signature.args[0], ary,
                                       [context.get_constant(types.intp, 0)])
        val = context.cast(builder, args[1], signature.args[1], types.int64)
        return builder.atomic_rmw("add", ptr, val, "monotonic")

    return types.int64(arr, inc), codegen
