"""Register-blocked tile products written as LLVM vector code (Numba intrinsics).

The tile kernels of :mod:`.tiles` keep activations transposed, ``(width, TILE)``,
samples along the contiguous axis. Written as Numba loops, a product ``z = W h`` over such a
tile reads and writes ``z`` in memory once per few inputs: LLVM cannot keep it in registers
across the loop over the inputs because it cannot prove ``z`` and ``h`` apart, and the
loop vectoriser only vectorises the innermost loop, so such a loop runs at a fraction of
the core's FMA rate.

Here the same products are emitted directly as vector IR: a block of ``JB`` output rows
times ``NV`` vectors of samples is held in ``JB * NV`` vector registers for the whole loop
over the inputs, each step loading ``NV`` vectors of one input row and broadcasting ``JB``
weights, and is stored once at the end (the micro-kernel shape of a BLAS GEMM).
``python benchmarks/bench_tile_kernels.py`` times it against the loop version.

The vector width is the host's (512-bit with AVX-512, else 256-bit), read once at import;
Numba's on-disk cache is keyed by the CPU, so a cache is not reused on another machine.
``EVONEURO_SIMD_BYTES=32`` forces the 256-bit code on an AVX-512 host (the tests check it
that way); the on-disk cache is stamped with the width (:mod:`._jit`), so the two builds
never load each other (a ``NUMBA_CACHE_DIR`` of its own per setting saves recompiling). Sums run in input order with fused multiply-adds, from the bias.

Sums over a tile's samples (the weight gradients, :func:`grad_rows`, :func:`dot_tile`,
:func:`sum_tile`) run on :data:`LOGICAL_BYTES`-wide *logical* vectors whatever the host's
registers: lane ``l`` adds the samples ``r = l (mod lanes)`` in order, then the lanes meet in
one fixed tree. LLVM splits a logical vector wider than a register into two, lane for lane,
so the 256-bit and the 512-bit code give the same bits (issue 28: an AVX2 machine and an
AVX-512 one trained the README's iRprop+ row to 97.56 and 98.00 %). The cost on a 256-bit
host is nil in practice: the same operations, in two registers instead of one.
"""

from __future__ import annotations

import os

import llvmlite.binding as llb
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

TILE = 64  # samples per tile; 64 float32 = four 512-bit registers per row

_FEATURES = set(llb.get_host_cpu_features().flatten().split(","))
VBYTES = int(os.environ.get("EVONEURO_SIMD_BYTES", 64 if "+avx512f" in _FEATURES else 32))  # per register
if VBYTES not in (32, 64):
    raise ValueError(f"EVONEURO_SIMD_BYTES must be 32 or 64, got {VBYTES}")
NREG = 32 if VBYTES == 64 else 16  # vector registers; half of them hold accumulators
#: Bytes of the logical vectors that sums over samples run on, on every host (the widest
#: register evoneuro targets): the order of those sums does not depend on the CPU.
LOGICAL_BYTES = 64
_I32 = ir.IntType(32)
_I64 = ir.IntType(64)


def _splat(builder, value, vty):
    v = builder.insert_element(ir.Constant(vty, ir.Undefined), value, ir.Constant(_I32, 0))
    mask = ir.Constant(ir.VectorType(_I32, vty.count), None)
    return builder.shuffle_vector(v, ir.Constant(vty, ir.Undefined), mask)


def _fma(builder, vty):
    name = f"llvm.fma.v{vty.count}{'f32' if isinstance(vty.element, ir.FloatType) else 'f64'}"
    return cgutils.get_or_insert_function(builder.module, ir.FunctionType(vty, [vty] * 3), name)


def _shape(dt, context, vbytes=None):
    """``(vector type, lanes, itemsize)`` of dtype ``dt`` on this host, or for vectors of
    ``vbytes`` bytes (:data:`LOGICAL_BYTES` for sums)."""
    ety = context.get_value_type(dt)
    size = context.get_abi_sizeof(ety)
    lanes = (VBYTES if vbytes is None else vbytes) // size
    return ir.VectorType(ety, lanes), lanes, size


def _vector_at(builder, data, index, vpt):
    """Pointer to the vector of type ``vpt`` starting at element ``index`` of ``data``."""
    return builder.bitcast(builder.gep(data, [index]), vpt)


def _int(context, builder, value, ty):
    return context.cast(builder, value, ty, types.int64)


def _rows_ok(*arrays):
    """Tiles and weight vectors this code reads by raw offsets: rows contiguous."""
    return all(isinstance(a, types.Array) and a.layout in "CA" for a in arrays)


def _make_product(jb: int, accumulate: bool = False):
    """The intrinsic for blocks of ``jb`` output rows (see :func:`product_rows4`); with
    ``accumulate`` the sums start from what ``zT`` holds instead of the bias."""

    @intrinsic
    def product(typingctx, hT, K, th, o, sk, sj, zT, j, b, has_bias):
        if not (_rows_ok(hT, th, zT) and th.ndim == 1 and hT.dtype == th.dtype == zT.dtype):
            return None
        sig = types.void(hT, K, th, o, sk, sj, zT, j, b, has_bias)

        def codegen(context, builder, sig, args):
            hT_, K_, th_, o_, sk_, sj_, zT_, j_, b_, hb_ = args
            vty, lanes, size = _shape(sig.args[2].dtype, context)
            nv = max(1, min(TILE // lanes, NREG // 2 // jb))
            span = nv * lanes
            ha = context.make_array(sig.args[0])(context, builder, hT_)
            ta = context.make_array(sig.args[2])(context, builder, th_)
            za = context.make_array(sig.args[6])(context, builder, zT_)
            hs = builder.sdiv(builder.extract_value(ha.strides, 0), ir.Constant(_I64, size))
            zs = builder.sdiv(builder.extract_value(za.strides, 0), ir.Constant(_I64, size))
            K_, o_, sk_, sj_, j_, b_ = (_int(context, builder, v, t) for v, t in
                                        zip((K_, o_, sk_, sj_, j_, b_), (sig.args[1], *sig.args[3:6], *sig.args[7:9])))
            fma = _fma(builder, vty)
            vpt = vty.as_pointer()

            def z_pointer(q, c0, v):
                zrow = builder.add(builder.mul(builder.add(j_, ir.Constant(_I64, q)), zs), ir.Constant(_I64, c0))
                return _vector_at(builder, za.data, builder.add(zrow, ir.Constant(_I64, v * lanes)), vpt)

            if not accumulate:  # the bias (or zero) of each output row, broadcast
                with builder.if_else(hb_) as (then, other):
                    with then:
                        loaded = [builder.load(builder.gep(ta.data, [builder.add(b_, ir.Constant(_I64, q))]))
                                  for q in range(jb)]
                        from_then = builder.block
                    with other:
                        from_else = builder.block
                phis = [builder.phi(vty.element) for _ in range(jb)]
                for phi, value in zip(phis, loaded):
                    phi.add_incoming(value, from_then)
                    phi.add_incoming(ir.Constant(vty.element, 0), from_else)
                bias = [_splat(builder, phi, vty) for phi in phis]

            for c0 in range(0, TILE, span):
                if accumulate:
                    start = [builder.load(z_pointer(q, c0, v), align=size) for q in range(jb) for v in range(nv)]
                else:
                    start = [bias[q] for q in range(jb) for _ in range(nv)]
                pre = builder.block
                loop = builder.append_basic_block("product.k")
                done = builder.append_basic_block("product.store")
                builder.cbranch(builder.icmp_signed(">", K_, ir.Constant(_I64, 0)), loop, done)
                builder.position_at_end(loop)
                k = builder.phi(_I64)
                k.add_incoming(ir.Constant(_I64, 0), pre)
                acc = []
                for value in start:
                    phi = builder.phi(vty)
                    phi.add_incoming(value, pre)
                    acc.append(phi)
                row = builder.add(builder.mul(k, hs), ir.Constant(_I64, c0))
                a = [builder.load(_vector_at(builder, ha.data, builder.add(row, ir.Constant(_I64, v * lanes)), vpt),
                                  align=size) for v in range(nv)]
                wo = builder.add(o_, builder.mul(k, sk_))
                new = []
                for q in range(jb):
                    w = builder.load(builder.gep(ta.data, [builder.add(wo, builder.mul(sj_, ir.Constant(_I64, q)))]))
                    wv = _splat(builder, w, vty)
                    new += [builder.call(fma, [a[v], wv, acc[q * nv + v]]) for v in range(nv)]
                k_next = builder.add(k, ir.Constant(_I64, 1))
                k.add_incoming(k_next, builder.block)
                for phi, value in zip(acc, new):
                    phi.add_incoming(value, builder.block)
                builder.cbranch(builder.icmp_signed("<", k_next, K_), loop, done)
                builder.position_at_end(done)
                out = []
                for i in range(jb * nv):
                    phi = builder.phi(vty)
                    phi.add_incoming(start[i], pre)
                    phi.add_incoming(new[i], loop)
                    out.append(phi)
                for q in range(jb):
                    for v in range(nv):
                        builder.store(out[q * nv + v], z_pointer(q, c0, v), align=size)
            return context.get_dummy_value()

        return sig, codegen

    return product


product_rows4 = _make_product(4)
product_rows4.__doc__ = """``zT[j+q, :] = c_q + sum_{k<K} hT[k, :] * th[o + k*sk + q*sj]`` for ``q < 4``.

``c_q = th[b + q]`` with ``has_bias``, else 0; all ``TILE`` samples (columns) of the rows.
``hT`` and ``zT`` are ``(rows, TILE)`` tiles with contiguous rows, ``th`` a weight vector.
"""
product_rows1 = _make_product(1)
product_rows1.__doc__ = "One output row of :func:`product_rows4` (``q = 0``)."
accumulate_rows4 = _make_product(4, accumulate=True)
accumulate_rows4.__doc__ = ":func:`product_rows4` added to what ``zT`` holds (no bias; ``b``, ``has_bias`` unused)."
accumulate_rows1 = _make_product(1, accumulate=True)
accumulate_rows1.__doc__ = "One output row of :func:`accumulate_rows4`."


def _reduce_lanes(builder, vecs, lanes):
    """``lanes`` vectors of ``lanes`` lanes -> one vector of their lane sums, in order.

    A tree of pairwise transposing adds (``2 * (lanes - 1)`` shuffles, ``lanes - 1`` adds)
    instead of a horizontal reduction per vector. ``owner[i]`` tracks which input vector
    each lane's partial sum belongs to; one last shuffle puts them in input order.
    """
    vty = vecs[0].type
    owner = [[i] * lanes for i in range(len(vecs))]
    width = lanes
    while len(vecs) > 1:
        half = width // 2
        # vectors a, b -> a's runs' low halves then b's, plus their high halves: each lane
        # of the result sums two lanes of one input vector
        nxt, own = [], []
        for i in range(0, len(vecs), 2):
            a, b = vecs[i], vecs[i + 1]
            lo_mask = [x for base in range(0, lanes, width) for x in range(base, base + half)]
            hi_mask = [x + half for x in lo_mask]
            lo_mask = lo_mask + [x + lanes for x in lo_mask]
            hi_mask = hi_mask + [x + lanes for x in hi_mask]
            m_lo = ir.Constant(ir.VectorType(_I32, lanes), [ir.Constant(_I32, x) for x in lo_mask])
            m_hi = ir.Constant(ir.VectorType(_I32, lanes), [ir.Constant(_I32, x) for x in hi_mask])
            nxt.append(builder.fadd(builder.shuffle_vector(a, b, m_lo), builder.shuffle_vector(a, b, m_hi)))
            both = owner[i] + owner[i + 1]
            own.append([both[x] for x in lo_mask])
        vecs, owner, width = nxt, own, half
    order = [owner[0].index(i) for i in range(lanes)]
    mask = ir.Constant(ir.VectorType(_I32, lanes), [ir.Constant(_I32, x) for x in order])
    return builder.shuffle_vector(vecs[0], ir.Constant(vty, ir.Undefined), mask)


@intrinsic
def grad_rows(typingctx, hT, k, dzT, j, g, o):
    """``g[o + q] += sum_r hT[k, r] * dzT[j + q, r]`` for ``q < LANES`` (the dtype's lanes
    in :data:`LOGICAL_BYTES`: 16 float32 or 8 float64 on every host), over all ``TILE``
    columns; each lane sums its samples in order, the lanes meet in :func:`_reduce_lanes`."""
    if not (_rows_ok(hT, dzT, g) and g.ndim == 1 and hT.dtype == dzT.dtype == g.dtype):
        return None
    sig = types.void(hT, k, dzT, j, g, o)

    def codegen(context, builder, sig, args):
        hT_, k_, dz_, j_, g_, o_ = args
        vty, lanes, size = _shape(sig.args[4].dtype, context, LOGICAL_BYTES)
        ha = context.make_array(sig.args[0])(context, builder, hT_)
        da = context.make_array(sig.args[2])(context, builder, dz_)
        ga = context.make_array(sig.args[4])(context, builder, g_)
        hs = builder.sdiv(builder.extract_value(ha.strides, 0), ir.Constant(_I64, size))
        ds = builder.sdiv(builder.extract_value(da.strides, 0), ir.Constant(_I64, size))
        k_, j_, o_ = (_int(context, builder, v, t) for v, t in zip((k_, j_, o_), (sig.args[1], sig.args[3], sig.args[5])))
        fma = _fma(builder, vty)
        vpt = vty.as_pointer()

        def load(data, index):
            return builder.load(_vector_at(builder, data, index, vpt), align=size)

        hrow = builder.mul(k_, hs)
        acc = [None] * lanes
        for c0 in range(0, TILE, lanes):
            h = load(ha.data, builder.add(hrow, ir.Constant(_I64, c0)))
            for q in range(lanes):
                d = load(da.data, builder.add(builder.mul(builder.add(j_, ir.Constant(_I64, q)), ds),
                                              ir.Constant(_I64, c0)))
                acc[q] = builder.fmul(h, d) if acc[q] is None else builder.call(fma, [h, d, acc[q]])
        sums = _reduce_lanes(builder, acc, lanes)
        p = _vector_at(builder, ga.data, o_, vpt)
        builder.store(builder.fadd(builder.load(p, align=size), sums), p, align=size)
        return context.get_dummy_value()

    return sig, codegen


@intrinsic
def lanes_of(typingctx, arr):
    """Lanes of :func:`grad_rows` for ``arr``'s dtype (a compile-time int, the same on every host)."""
    if not isinstance(arr, types.Array):
        return None

    def codegen(context, builder, sig, args):
        _, lanes, _ = _shape(sig.args[0].dtype, context, LOGICAL_BYTES)
        return ir.Constant(_I64, lanes)

    return types.int64(arr), codegen


def _tree_sum(builder, v, lanes):
    """The lanes of ``v`` summed in one fixed tree: halves added until one lane is left."""
    while lanes > 1:
        half = lanes // 2
        lo = ir.Constant(ir.VectorType(_I32, half), [ir.Constant(_I32, x) for x in range(half)])
        hi = ir.Constant(ir.VectorType(_I32, half), [ir.Constant(_I32, x + half) for x in range(half)])
        undef = ir.Constant(v.type, ir.Undefined)
        v = builder.fadd(builder.shuffle_vector(v, undef, lo), builder.shuffle_vector(v, undef, hi))
        lanes = half
    return builder.extract_element(v, ir.Constant(_I32, 0))


def _tile_sum(context, builder, sig, rows, acc_type):
    """Codegen of :func:`dot_tile` (two ``(array, row)`` pairs in ``rows``) and
    :func:`sum_tile` (one): the lanes of a logical vector of ``acc_type``, then the tree."""
    out_ty, lanes, _ = _shape(acc_type, context, LOGICAL_BYTES)
    in_ety = context.get_value_type(rows[0][0].dtype)
    in_size = context.get_abi_sizeof(in_ety)
    in_vpt = ir.VectorType(in_ety, lanes).as_pointer()
    widen = in_ety != out_ty.element
    fma = _fma(builder, out_ty)
    starts = []
    for arr_ty, arr, index_ty, index in rows:
        ar = context.make_array(arr_ty)(context, builder, arr)
        stride = builder.sdiv(builder.extract_value(ar.strides, 0), ir.Constant(_I64, in_size))
        starts.append((ar.data, builder.mul(_int(context, builder, index, index_ty), stride)))

    def load(data, start, c0):
        v = builder.load(_vector_at(builder, data, builder.add(start, ir.Constant(_I64, c0)), in_vpt),
                         align=in_size)
        return builder.fpext(v, out_ty) if widen else v

    acc = None
    for c0 in range(0, TILE, lanes):
        x = load(*starts[0], c0)
        if len(starts) == 2:
            y = load(*starts[1], c0)
            acc = builder.fmul(x, y) if acc is None else builder.call(fma, [x, y, acc])
        else:
            acc = x if acc is None else builder.fadd(acc, x)
    return _tree_sum(builder, acc, lanes)


def _summable(a, acc) -> bool:
    return (_rows_ok(a) and isinstance(a.dtype, types.Float) and isinstance(acc, types.Float)
            and a.dtype.bitwidth <= acc.bitwidth)


@intrinsic
def dot_tile(typingctx, a, i, b, j, acc):
    """``sum_r a[i, r] * b[j, r]`` over the ``TILE`` samples, in ``acc``'s float type.

    ``acc`` (a float scalar whose value is unused) sets the type: the rows are widened to it
    first. Lane ``l`` of a :data:`LOGICAL_BYTES` vector of that type sums the samples
    ``r = l (mod lanes)`` in order with fused multiply-adds, then one fixed tree: the same
    bits on a 256- or a 512-bit host.
    """
    if not (_summable(a, acc) and isinstance(b, types.Array) and b.dtype == a.dtype and _rows_ok(b)):
        return None

    def codegen(context, builder, sig, args):
        rows = [(sig.args[0], args[0], sig.args[1], args[1]), (sig.args[2], args[2], sig.args[3], args[3])]
        return _tile_sum(context, builder, sig, rows, sig.return_type)

    return acc(a, i, b, j, acc), codegen


@intrinsic
def sum_tile(typingctx, a, j, acc):
    """``sum_r a[j, r]`` over the ``TILE`` samples in ``acc``'s float type, as :func:`dot_tile`."""
    if not _summable(a, acc):
        return None

    def codegen(context, builder, sig, args):
        return _tile_sum(context, builder, sig, [(sig.args[0], args[0], sig.args[1], args[1])], sig.return_type)

    return acc(a, j, acc), codegen
