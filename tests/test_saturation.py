"""Exact gradients where units saturate, on every backend, at extreme weight and input scales.

The float64 NumPy backend is the reference, evaluated on the very numbers the backend
under test sees (Theta and X rounded to its dtype first), so what is measured is the
arithmetic, not the rounding of the inputs. Deep saturating nets are this library's
subject: a saturated unit's derivative must be 0 where the exact one underflows, not a
few float32 ulps that huge inputs or weights then blow up.
"""


import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

import evoneuro as en

BACKENDS = ["numpy", "numba"]
DTYPES = ["float32", "float64"]
ACTIVATIONS = ["sigmoid", "tanh", "softsign", "gaussian", "identity", "relu",
               ("tanh", 1.7159, 2 / 3), ("sigmoid", 2.0, 0.5)]
SATURATING = ["sigmoid", "tanh", "gaussian", ("tanh", 1.7159, 2 / 3), ("sigmoid", 2.0, 0.5)]
# Values a dtype holds with room for a sum of a few of them.
RANGE = {"float32": 1e36, "float64": 1e300}


def assert_close(G, G_ref, floor, what):
    """Max-norm relative error <= 1e-3, above ``floor``: the rounding of the output
    probabilities (an absolute ulp of 1) times the largest input to the output layer.
    Below it even exact arithmetic in the dtype cannot resolve a gradient."""
    err = np.max(np.abs(G - G_ref))
    assert err <= 1e-3 * np.max(np.abs(G_ref)) + floor, (
        f"{what}: error {err:.3g}, |G_ref| {np.max(np.abs(G_ref)):.3g}, floor {floor:.3g}")


def gradients(net, Theta, X, y, backend, dtype):
    """The backend's gradients, the float64 reference on the same rounded inputs and the
    floor of :func:`assert_close`; ``None`` where the reference leaves the dtype's range."""
    Theta = np.asarray(Theta, dtype=dtype)
    X = np.asarray(X, dtype=dtype)
    Theta64, X64 = Theta.astype(np.float64), X.astype(np.float64)
    ref = en.Evaluator(net, backend="numpy", dtype="float64")
    with np.errstate(over="ignore", invalid="ignore"):
        _, G_ref = ref.loss_and_grad(Theta64, X64, y)
        _, zs = ref.forward(Theta64, X64, return_hidden=True)
    biggest = max(np.max(np.abs(z)) for z in zs)
    if not np.all(np.isfinite(G_ref)) or max(biggest, np.max(np.abs(G_ref))) > RANGE[dtype]:
        return None  # identity/relu nets whose values leave the dtype's range
    # The float32 reference overflows harmlessly in softsign's (1 + |u|)^2 at 1e20
    # (1 / inf = 0 is the right answer); that is not what these tests are about.
    with np.errstate(over="ignore"):
        _, G = en.Evaluator(net, backend=backend, dtype=dtype).loss_and_grad(Theta, X, y)
    last = X64 if net.n_layers == 1 else net.activations[-1](zs[-2])
    floor = 4 * float(np.finfo(dtype).eps) * max(1.0, float(np.max(np.abs(last))))
    return G.astype(np.float64), G_ref, floor


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("act", SATURATING, ids=str)
@pytest.mark.parametrize("z", [1e3, 1e30, -1e3, -1e30])
def test_one_saturated_unit_has_zero_gradient(act, backend, dtype, z):
    # One hidden unit with pre-activation z on every sample: its exact derivative
    # (4 e^{-2|z|}, e^{-|z|}, 2|z| e^{-z^2}) underflows in both dtypes, so the gradients
    # of its incoming weight and bias are exactly 0.
    net = en.MLP(1, (1,), 2, activation=act)
    theta = net.flatten([(np.array([[z]]), np.zeros(1)), (np.array([[1.0, -1.0]]), np.zeros(2))])
    X, y = np.ones((3, 1)), np.array([0, 1, 0])
    G, G_ref, _ = gradients(net, theta, X, y, backend, dtype)
    assert G_ref[0, :2].tolist() == [0.0, 0.0]
    assert G[0, :2].tolist() == [0.0, 0.0]
    assert np.all(np.isfinite(G))


@settings(max_examples=25, deadline=None)
@given(
    depth=st.integers(1, 3),
    width=st.integers(1, 8),
    n=st.integers(1, 8),
    log_w=st.floats(0, 4),
    log_x=st.floats(0, 6),
    seed=st.integers(0, 2**32 - 1),
)
# found by CI: a saturated softmax (p_c = 1 in float32) whose float32 p_c minus a float64
# 1/N left ~1e-8 in dLoss/dz, which backprop through weights x100 made 2e-6
@example(depth=2, width=5, n=3, log_w=2.0, log_x=2.0, seed=889972)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("backend", ["numba"])
@pytest.mark.parametrize("act", ACTIVATIONS, ids=str)
def test_gradient_matches_float64_reference_at_extreme_scales(act, backend, dtype, depth, width, n,
                                                              log_w, log_x, seed):
    # Weights up to x1e4, inputs up to x1e6: most units saturate, a few sit on the
    # steep part. Relative error (max norm) against float64 at most 1e-3 - or, where
    # float32 itself cannot get there, no worse than twice the NumPy backend's own float32
    # error (a sum of huge terms that cancels loses digits in any float32 code, and
    # gaussian tails multiply a pre-activation's error by 2u^2).
    rng = np.random.default_rng(seed)
    net = en.MLP(3, (width,) * depth, 3, activation=act)
    Theta = net.init_population(2, rng) * 10.0**log_w
    X = rng.normal(size=(n, 3)) * 10.0**log_x
    y = rng.integers(0, 3, size=n)
    res = gradients(net, Theta, X, y, backend, dtype)
    if res is None:
        return
    G, G_ref, floor = res
    G_twin = gradients(net, Theta, X, y, "numpy", dtype)[0]
    assert np.all(np.isfinite(G))
    for p in range(len(G)):
        twin = 2 * float(np.max(np.abs(G_twin[p] - G_ref[p])))
        assert_close(G[p], G_ref[p], max(floor, twin), f"member {p}")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("act", ACTIVATIONS, ids=str)
def test_huge_weights_give_finite_gradients(act, backend, dtype):
    # Weights x1e20: every saturating unit is flat, the output layer still learns.
    rng = np.random.default_rng(0)
    net = en.MLP(3, (6, 6), 3, activation=act)
    Theta = net.init_population(3, rng) * 1e20
    X, y = rng.normal(size=(7, 3)), rng.integers(0, 3, size=7)
    res = gradients(net, Theta, X, y, backend, dtype)
    if res is None:
        pytest.skip("the reference itself leaves the dtype's range")
    G, G_ref, floor = res
    assert np.all(np.isfinite(G))
    for p in range(len(G)):
        assert_close(G[p], G_ref[p], floor, f"member {p}")
