"""Helpers shared by the per-optimizer tests (test_es, test_ga, test_pso, ...)."""

import pickle

import numpy as np

import evoneuro as en


def sphere(Theta):
    return (np.asarray(Theta, dtype=np.float64) ** 2).sum(axis=1)


def drive(opt, f, steps):
    """``steps`` rounds of ask -> f -> tell; returns what was told, a list of (Theta, losses)."""
    told = []
    for _ in range(steps):
        Theta = np.array(opt.ask())
        losses = f(Theta)
        opt.tell(Theta, losses)
        told.append((Theta, losses))
    return told


def tiny_net_losses(opt, steps=80, hidden=(8, 8)):
    """Full-data loss of a tiny sigmoid net at the start and after ``steps`` of ``opt`` (uninitialised)."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 4))
    y = (X[:, 0] * X[:, 1] > 0).astype(int) + (X[:, 2] > 0.5)
    net = en.MLP(4, hidden, 3, activation="sigmoid")
    prob = en.SupervisedProblem(en.Evaluator(net, dtype="float64"), X, y)
    opt.initialize(net.init(rng, "glorot"), np.random.default_rng(1))
    before = prob.full_loss(opt.x)
    for _ in range(steps):
        prob.begin_step(rng)
        opt.step(prob)
    return before, prob.full_loss(opt.x)


def run_with_pickle_cut(make_opt, x0, steps, cut=None, seed=5, f=sphere):
    """Run a fresh optimizer on ``f``; at step ``cut`` replace it by a pickled round trip."""
    opt = make_opt().initialize(np.asarray(x0, dtype=np.float64), np.random.default_rng(seed))
    for k in range(steps):
        if k == cut:
            opt = pickle.loads(pickle.dumps(opt))
        drive(opt, f, 1)
    return opt
