"""PSO: the two velocity forms, clamping, convergence, resume."""


import copy

import numpy as np
import pytest

from evoneuro.optimizers.pso import PSO, constriction_factor
from tests.optim_helpers import drive, run_with_pickle_cut, sphere, tiny_net_losses


def test_constriction_factor_of_clerc_and_kennedy():
    chi = constriction_factor(2.05, 2.05)
    assert chi == pytest.approx(0.729843788, abs=1e-9)
    assert chi * 2.05 == pytest.approx(1.49618, abs=1e-5)
    with pytest.raises(ValueError, match="phi1 \\+ phi2 > 4"):
        constriction_factor(2.0, 2.0)


def test_constriction_equals_inertia_with_matching_constants():
    chi = constriction_factor(2.05, 2.05)
    a = PSO(form="constriction", dtype="float64")
    b = PSO(form="inertia", inertia=chi, c1=chi * 2.05, c2=chi * 2.05, dtype="float64")
    runs = [[T for T, _ in drive(o.initialize(np.ones(5), np.random.default_rng(0)), sphere, 15)] for o in (a, b)]
    np.testing.assert_array_equal(runs[0], runs[1])


def test_velocity_clamp():
    opt = PSO(vmax=0.05, sigma0=2.0, dtype="float64").initialize(np.zeros(6), np.random.default_rng(0))
    asked = [T for T, _ in drive(opt, sphere, 20)]
    steps = np.abs(np.diff(np.stack(asked), axis=0))
    assert steps.max() <= 0.05 + 1e-12


@pytest.mark.parametrize("form", ["inertia", "constriction"])
def test_converges_on_sphere(form):
    opt = PSO(form=form, sigma0=1.0, dtype="float64").initialize(np.full(5, 2.0), np.random.default_rng(1))
    drive(opt, sphere, 300)
    assert sphere(opt.x[None])[0] < 1e-8
    assert opt.best_loss == pytest.approx(sphere(opt.x[None])[0])


def test_bad_form():
    with pytest.raises(ValueError, match="form"):
        PSO(form="ring").initialize(np.zeros(2), np.random.default_rng(0))


def test_tiny_sigmoid_net_loss_drops():
    before, after = tiny_net_losses(PSO(sigma0=0.5), steps=100)
    assert after < 0.8 * before


def test_same_seed_same_run_and_pickle_resume():
    def run(cut=None):
        return run_with_pickle_cut(lambda: PSO(popsize=10, vmax=0.5), np.ones(6), 40, cut).x

    np.testing.assert_array_equal(run(), run())
    np.testing.assert_array_equal(run(), run(cut=17))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("vmax", [None, 0.3])
def test_fused_update_is_the_numpy_formula_bit_for_bit(dtype, vmax):
    """The one-pass kernel does the same float operations in the same order as the NumPy form."""
    opt = PSO(vmax=vmax, sigma0=1.0, dtype=dtype).initialize(np.linspace(-1, 1, 40), np.random.default_rng(3))
    rng = np.random.default_rng(4)
    for _ in range(6):
        X, V, pb, pb_loss = opt._X.copy(), opt._V.copy(), opt._pbest.copy(), opt._pbest_loss.copy()
        losses = rng.random(opt.popsize)
        state = copy.deepcopy(opt.rng.bit_generator.state)
        opt.tell(X, losses)
        # the reference: draw the same rows, then the NumPy expression
        ref_rng = np.random.default_rng()
        ref_rng.bit_generator.state = state
        better = losses < pb_loss
        pb[better] = X[better]
        g = pb[int(np.argmin(np.where(better, losses, pb_loss)))]
        t = np.dtype(dtype).type
        w, c1, c2 = opt.coefficients
        r1 = opt._uniform.rows(ref_rng, len(X))
        r2 = opt._uniform.rows(ref_rng, len(X))
        V = V * t(w) + (r1 * (pb - X)) * t(c1) + (r2 * (g - X)) * t(c2)
        if vmax is not None:
            V = np.clip(V, t(-vmax), t(vmax))
        np.testing.assert_array_equal(opt._V, V)
        np.testing.assert_array_equal(opt.ask(), X + V)
