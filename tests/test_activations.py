"""Each activation's derivative against central finite differences in float64."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from evoneuro.network.activations import ACTIVATIONS, Activation, get_activation, get_activations

SPECS = list(ACTIVATIONS) + [("tanh", 2.0, 0.5), ("sigmoid", 4.0), ("gaussian", 1.5, 3.0), ("softsign", -1.0, 2.0)]


@pytest.mark.parametrize("spec", SPECS, ids=str)
@given(z=arrays(np.float64, 16, elements=st.floats(-6, 6)))
def test_derivative_matches_finite_differences(spec, z):
    act = get_activation(spec)
    if act.name == "relu":
        z = z[np.abs(z) > 1e-3]  # no derivative at the kink
    h = 1e-7  # small: softsign's second derivative jumps at 0, an O(h) error there
    fd = (act(z + h) - act(z - h)) / (2 * h)
    d = act.derivative(z, act(z))
    np.testing.assert_allclose(d, fd, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("name", ["sigmoid", "tanh", "softsign", "gaussian", "identity", "relu"])
def test_max_derivative_is_the_supremum(name):
    act = Activation(name, 1.3, 0.7)
    z = np.linspace(-20, 20, 400001)
    observed = np.abs(act.derivative(z, act(z))).max()
    assert observed <= act.max_derivative * (1 + 1e-9)
    assert observed >= act.max_derivative * (1 - 1e-6)


def test_named_forms():
    z = np.linspace(-3, 3, 7)
    np.testing.assert_allclose(get_activation("lecun_tanh")(z), 1.7159 * np.tanh(2 * z / 3))
    np.testing.assert_allclose(get_activation("sigmoid")(z), 1 / (1 + np.exp(-z)), rtol=1e-15)
    np.testing.assert_allclose(get_activation(("tanh", 2.0, 3.0))(z), 2 * np.tanh(3 * z))
    np.testing.assert_allclose(get_activation("gaussian")(z), np.exp(-z * z))
    assert get_activation("logistic") == Activation("sigmoid")


def test_sigmoid_does_not_overflow():
    with np.errstate(all="raise"):
        y = get_activation("sigmoid")(np.array([-1e4, 1e4]))
    np.testing.assert_array_equal(y, [0.0, 1.0])


def test_per_layer_list():
    acts = get_activations(["tanh", ("sigmoid", 2.0), "gaussian"], 3)
    assert [a.name for a in acts] == ["tanh", "sigmoid", "gaussian"]
    assert get_activations("tanh", 2) == (Activation("tanh"),) * 2
    assert get_activations(("tanh", 2.0), 3) == (Activation("tanh", 2.0),) * 3


@pytest.mark.parametrize(
    "spec, exc, match",
    [
        ("swish", ValueError, "activation must be one of"),
        (3, TypeError, "activation must be"),
        (("tanh", "big"), TypeError, "scale must be a real number"),
        (("tanh", 0.0), ValueError, "scale must be finite and non-zero"),
        (("tanh", 1.0, float("nan")), ValueError, "slope must be finite"),
    ],
)
def test_bad_activation(spec, exc, match):
    with pytest.raises(exc, match=match):
        get_activation(spec)


def test_wrong_number_of_per_layer_activations():
    with pytest.raises(ValueError, match="one entry per hidden layer: expected 3, got 2"):
        get_activations(["tanh", "sigmoid"], 3)
