"""Edge-of-chaos initialisation: the mean-field critical point and the init that uses it."""

import math

import numpy as np
import pytest
from scipy.integrate import quad

import evoneuro as en
from evoneuro.network.activations import get_activation
from evoneuro.network.critical import critical_init, critical_variance


def _expect(g, q):
    """E[g(u)], u ~ N(0, q), by adaptive quadrature: an oracle independent of the module's."""
    sd = math.sqrt(q)
    f = lambda u: g(np.array([u]))[0] * math.exp(-0.5 * u * u / q) / math.sqrt(2 * math.pi * q)
    return sum(quad(f, a, b, limit=400, epsabs=1e-13, epsrel=1e-12)[0]
               for a, b in [(-12 * sd, 0.0), (0.0, 12 * sd)])


def test_tanh_matches_schoenholz_figure():
    # Schoenholz et al. (2017), tanh with sigma_b^2 = 0.05: the critical sigma_w^2 is 1.76.
    assert critical_variance("tanh", 0.05) == pytest.approx(1.761, abs=5e-4)


def test_gaussian_matches_closed_form():
    # phi = exp(-u^2): E[phi^2] = (1+4q)^-1/2, E[phi'^2] = 4q (1+4q)^-3/2, so
    # q* solves q = 1 + 1/(4q) + sigma_b^2 and sigma_w^2 = (1+4q)^(3/2) / (4q).
    for sb2 in (0.0, 0.05, 0.5):
        q = ((1 + sb2) + math.sqrt((1 + sb2) ** 2 + 1)) / 2
        s2, q_star = critical_variance("gaussian", sb2, return_fixed_point=True)
        assert q_star == pytest.approx(q, rel=1e-9)
        assert s2 == pytest.approx((1 + 4 * q) ** 1.5 / (4 * q), rel=1e-9)


@pytest.mark.parametrize("name", ["sigmoid", "gaussian", "lecun_tanh", "softsign", "tanh", ("sigmoid", 4.0)])
@pytest.mark.parametrize("sb2", [0.05, 0.5])
def test_both_mean_field_conditions_hold(name, sb2):
    s2, q = critical_variance(name, sb2, return_fixed_point=True)
    assert np.isfinite(s2) and s2 > 0 and np.isfinite(q) and q > 0
    act = get_activation(name)
    chi1 = s2 * _expect(lambda u: act.derivative(u, act(u)) ** 2, q)
    q_next = s2 * _expect(lambda u: act(u) ** 2, q) + sb2
    assert chi1 == pytest.approx(1.0, rel=1e-6)
    assert q_next == pytest.approx(q, rel=1e-6)


def test_homogeneous_and_zero_bias_cases():
    assert critical_variance("relu") == pytest.approx(2.0, rel=1e-12)
    assert critical_variance("relu", 0.05, return_fixed_point=True) == (pytest.approx(2.0), math.inf)
    assert critical_variance("identity") == pytest.approx(1.0, rel=1e-12)
    # odd activations without bias variance: q* = 0 and sigma_w^2 = 1 / phi'(0)^2
    assert critical_variance("tanh", return_fixed_point=True) == (pytest.approx(1.0), 0.0)
    assert critical_variance("lecun_tanh") == pytest.approx(1 / (1.7159 * 2 / 3) ** 2)


def test_scale_of_activation_is_absorbed():
    # a * phi: sigma_w^2 scales by 1/a^2 with the same q* (sigma_b^2 = 0)
    s1, q1 = critical_variance("sigmoid", return_fixed_point=True)
    s4, q4 = critical_variance(("sigmoid", 4.0), return_fixed_point=True)
    assert q4 == pytest.approx(q1) and s4 == pytest.approx(s1 / 16)


def test_errors():
    with pytest.raises(ValueError, match="no critical point"):
        critical_variance("tanh", 0.05, q_bounds=(10.0, 100.0))
    with pytest.raises(ValueError, match="sigma_b2"):
        critical_variance("tanh", -0.1)
    with pytest.raises(TypeError, match="sigma_b2"):
        critical_variance("tanh", "0.05")
    with pytest.raises(ValueError, match="q_bounds"):
        critical_variance("tanh", 0.05, q_bounds=(1.0, 0.5))
    with pytest.raises(ValueError, match="activation"):
        critical_variance("swish")


def test_critical_init_statistics():
    net = en.MLP(200, (400,) * 3, 10, activation="tanh")
    theta = critical_init(net, np.random.default_rng(0), sigma_b2=0.05)
    s2 = critical_variance("tanh", 0.05)
    for (W, b), s in zip(net.unflatten(theta), net.layers):
        assert abs(W.mean()) < 5 * math.sqrt(s2 / s.fan_in / W.size)
        assert W.var() * s.fan_in == pytest.approx(s2, rel=0.05)
    b = net.unflatten(theta)[1][1]
    assert b.var() == pytest.approx(0.05, rel=0.3)


def test_critical_orthogonal_has_equal_singular_values():
    net = en.MLP(30, (60, 60), 20, activation="tanh")
    theta = critical_init(net, np.random.default_rng(1), sigma_b2=0.05, orthogonal=True)
    s2 = critical_variance("tanh", 0.05)
    for W, _ in net.unflatten(theta):
        fi, fo = W.shape
        sv = np.linalg.svd(W, compute_uv=False)
        np.testing.assert_allclose(sv, sv[0], rtol=1e-10)
        # entries keep the Gaussian scheme's variance sigma_w^2 / fan_in
        assert np.sum(W**2) / W.size == pytest.approx(s2 / fi, rel=1e-10)


def test_signal_settles_at_the_fixed_point_in_a_deep_net():
    net = en.MLP(64, (512,) * 12, 2, activation="tanh")
    rng = np.random.default_rng(2)
    theta = critical_init(net, rng, sigma_b2=0.05)
    X = rng.normal(size=(64, 64))
    _, zs = en.Evaluator(net, dtype="float64").forward(theta, X, return_hidden=True)
    q_star = critical_variance("tanh", 0.05, return_fixed_point=True)[1]
    assert np.mean(zs[-2] ** 2) == pytest.approx(q_star, rel=0.15)


def test_net_init_dispatches_critical_schemes():
    net = en.MLP(5, (8, 8), 3, activation="sigmoid")
    a = net.init(np.random.default_rng(3), "critical")
    np.testing.assert_array_equal(a, critical_init(net, np.random.default_rng(3), sigma_b2=0.05))
    b = net.init(np.random.default_rng(3), "Critical_Orthogonal", gain=2.0)
    c = critical_init(net, np.random.default_rng(3), sigma_b2=0.05, orthogonal=True, gain=2.0)
    np.testing.assert_array_equal(b, c)
    assert net.init_population(4, 0, "critical").shape == (4, net.n_params)
    with pytest.raises(ValueError, match="lsuv_init"):
        net.init(0, "lsuv")
