"""Evolved hidden layers, closed-form readout: evolution searches features, ridge fits them.

A gradient-free optimizer (``inner``, sep-CMA-ES by default) evolves every layer but the
last. At each evaluation the output layer is not evolved but *solved*: on the step's
minibatch, the last hidden layer's activations ``H`` ``(N, h)`` of every member, with a
bias column appended (``H1 = [H, 1]``), give the ridge solution

    W = (H1ᵀH1 + α D)⁻¹ H1ᵀT,     D = diag(1, ..., 1, 0)  (the bias is not penalised),

for every member. ``T`` is the regression targets for linear nets, the one-hot labels for
softmax nets: the readout of an extreme learning machine (Huang et al. 2006), fitted as
least squares. Least
squares on one-hot targets gives outputs near 0 and 1, whose softmax is nearly uniform,
so its cross-entropy would say little about how well the classes are separated. One
scalar temperature ``s`` per member is therefore fitted by a few Newton steps on the
(convex in ``s``) cross-entropy of ``s · H1 W``, and ``s W`` becomes the output layer.
(A full multinomial logistic fit by Newton's method would cost a ``(h+1)K``-square solve
per member per iteration; the temperature keeps the least-squares directions and
calibrates their scale for the price of a few passes over the logits.)

**Ranking by held-out rows** (``loo=True``, the default). A readout of ``(h+1) K``
weights solved on the same minibatch it is scored on rewards features that let it fit
*that* minibatch: on digits 10x32 the training accuracy reached 99-100 % while the test
accuracy stalled near 93-94 %. The members are therefore ranked by the loss of each
row's *leave-one-out* logits, the prediction of the readout solved without that row,
which ridge regression gives in closed form (Allen's PRESS, 1974):
``z₋ₙ = (zₙ - lₙ tₙ) / (1 - lₙ)`` with the leverage ``lₙ = h1ₙᵀ(H1ᵀH1 + αD)⁻¹h1ₙ``; the
temperature is fitted on these logits too. The weights returned and the losses told as
the members' losses (``best_loss``, the history) are the in-sample ones; only the
ranking the inner optimizer sees changes. Measured (digits 10x32 sigmoid, batch 256,
1.4e7 evaluations, seeds 0/1): test accuracy 94.7/93.8 % in-sample, 94.9/94.7 % ranked
by leave-one-out loss.

The solve runs in one Numba task per member where the evaluator runs Numba
(:mod:`evoneuro.backends.numba.readout`), NumPy otherwise (:func:`fit_readouts`, the
reference it is tested against, in :mod:`evoneuro.optimizers._ridge`): the NumPy version
makes a dozen passes over ``(P, N, K)`` temporaries, which cost several times the hidden
layers' evaluation (figures in ``docs/guide/optimizers.md``).

So the inner optimizer searches the hidden weights for features a linear readout can
use: the Evolino idea (Schmidhuber et al. 2007). On an :class:`evoneuro.RNN` it is Evolino
proper: evolution searches the recurrent weights, and the readout is solved on the top
layer's state at each sequence's last valid step (``readout="last"`` nets).

Cost: the hidden forward of a member costs ``N`` (counted on the problem; it runs the net
cut after its last hidden layer, so the output layer is not computed at all); the solve
(``N (h+1)^2`` for ``H1ᵀH1``, and as much again for the leverages) is not counted.
Every ``refit_every`` steps the readout of the inner optimizer's recommendation is solved
on the whole training set (cost ``n_samples``), so that :attr:`Readout.x` is always a
complete network whose output layer was fitted to its own hidden layers. On digits that
full-data fit scored 1 to 3.5 points more test accuracy than a fit on one minibatch of
256; pooling the normal equations of recent minibatches with exponential forgetting
(recursive least squares) scored *less* than one minibatch: the features drift too fast.

References
----------
Schmidhuber, J., Wierstra, D., Gagliolo, M. & Gomez, F. (2007). Training recurrent
networks by Evolino. Neural Computation 19(3), 757-779.
Huang, G.-B., Zhu, Q.-Y. & Siew, C.-K. (2006). Extreme learning machine: theory and
applications. Neurocomputing 70, 489-501.
Guo, C., Pleiss, G., Sun, Y. & Weinberger, K. Q. (2017). On calibration of modern neural
networks. ICML. (temperature scaling)
Allen, D. M. (1974). The relationship between variable selection and data augmentation
and a method for prediction. Technometrics 16(1), 125-127. (PRESS, leave-one-out residuals)
"""

from __future__ import annotations

import numpy as np

from evoneuro._validation import check_positive_float, check_positive_int
from evoneuro.optimizers._ridge import fit_readouts, ridge_readout, solve_readouts
from evoneuro.optimizers.base import Optimizer
from evoneuro.optimizers.registry import get_optimizer

__all__ = ["Readout", "fit_readouts", "ridge_readout"]

class Readout(Optimizer):
    """Evolve the hidden layers with ``inner``; solve the output layer by ridge regression.

    Parameters
    ----------
    inner : str, default="sep-cmaes"
        The gradient-free optimizer of the hidden weights, by registry name.
    inner_params : dict or None, default=None
        Its hyperparameters.
    ridge : float, default=1e-3
        Ridge penalty on the readout weights (the bias is not penalised); the same
        scale as scikit-learn's ``Ridge(alpha)``: not divided by the batch size.
    temperature : bool, default=True
        Softmax nets: fit one output scale per member (see the module notes). False
        uses the least-squares weights as they are.
    refit_every : int, default=10
        Every ``refit_every`` steps (from the first), the recommendation's readout is
        solved on the whole training set (costs ``n_samples``): :attr:`x` is that
        network until the next refit. ``0``: solve it every step on the step's minibatch
        instead (one member more per step).
    loo : bool, default=True
        Tell each member's *leave-one-out* loss: every row's logits are those of the
        readout solved without that row, ``(z_n - l_n t_n) / (1 - l_n)`` with the
        leverage ``l_n = h1_nᵀ(H1ᵀH1 + αD)⁻¹h1_n`` (exact for ridge regression: Allen's
        PRESS, 1974), and the temperature is fitted on them. The readout's weights are
        the same; only the loss that ranks the members changes, from how well the
        features fit the minibatch to how well a readout on them generalises. False:
        the in-sample loss.

    Attributes
    ----------
    inner_ : Optimizer
        The running inner optimizer, on the hidden weights only.
    x_loss_ : float
        The loss of :attr:`x` on the data its readout was solved on.

    Notes
    -----
    Needs a :class:`evoneuro.SupervisedProblem` with at least one hidden layer: the
    :class:`evoneuro.Trainer` calls :meth:`setup`. ``x`` is the inner optimizer's
    recommendation as of the last refit (at most ``refit_every`` steps old) with its
    readout solved on the whole training set. A plain ``ask``/``tell`` loop evolves the
    hidden layers under the last solved readout.

    A deep saturating net at Glorot's initialisation (10 sigmoid layers) passes almost no
    signal to its last hidden layer, so every readout starts near chance and evolution
    must first find a signal; start from :func:`evoneuro.training.lsuv.lsuv_init` (or
    ``scheme="critical"``) instead, as ``benchmarks/digits_hybrids.py`` does.

    Fit defaults (:class:`~evoneuro.optimizers.base.Optimizer`): the inner optimizer's
    ``sigma0`` is 0.03 times the start's weight RMS when it is ``"sep-cmaes"`` (the
    default), ``"cmaes"`` or ``"snes"``: the spread measured for sep-CMA-ES and SNES
    alone (see :class:`~evoneuro.optimizers.es.SNES`). Other inner optimizers keep their
    own defaults.

    Examples
    --------
    >>> import evoneuro as en
    >>> from sklearn.datasets import load_iris
    >>> X, y = load_iris(return_X_y=True)
    >>> prob = en.SupervisedProblem(en.Evaluator(en.MLP(4, (8,), 3, "tanh")), X / 8, y)
    >>> res = en.minimize(prob, optimizer="readout", max_steps=20, random_state=0)
    >>> W, b = prob.net.unflatten(res.x)[-1]   # the solved output layer is in res.x
    >>> W.shape, res.n_evals   # 20 steps x 15 members x 150 samples, + 2 refits x 150
    ((8, 3), 45300)
    >>> bool(res.fun < 0.1)   # cross-entropy on the training set
    True
    """

    name = "readout"
    inner_relative_spreads = dict.fromkeys(("sep-cmaes", "cmaes", "snes"), {"sigma0": 0.03})

    def __init__(self, inner: str = "sep-cmaes", inner_params: dict | None = None, ridge: float = 1e-3,
                 temperature: bool = True, refit_every: int = 10, loo: bool = True) -> None:
        if not isinstance(inner, str):
            raise TypeError(f"inner must be a registry name (str), got {inner!r}")
        if inner_params is not None and not isinstance(inner_params, dict):
            raise TypeError(f"inner_params must be a dict or None, got {type(inner_params).__name__}")
        check_positive_float(ridge, "ridge")
        check_positive_int(refit_every, "refit_every", minimum=0)
        super().__init__(inner=inner, inner_params=inner_params, ridge=ridge, temperature=bool(temperature),
                         refit_every=refit_every, loo=bool(loo))
        self.net = None

    def setup(self, problem) -> None:
        from evoneuro.problems import SupervisedProblem

        if not isinstance(problem, SupervisedProblem):
            raise TypeError("readout solves the output layer from data: it needs an evoneuro.SupervisedProblem, "
                            f"got {type(problem).__name__}")
        net = problem.net
        if not net.hidden:
            raise ValueError("readout needs a network with at least one hidden layer")
        net.last_hidden()  # the kind says whether (and how) a readout can be solved on it
        self.net = net

    def _initialize(self, x0: np.ndarray) -> None:
        if self.net is None:
            raise RuntimeError("readout needs the network: call setup(problem) before initialize "
                               "(evoneuro.Trainer and minimize do)")
        if x0.size != self.net.n_params:
            raise ValueError(f"x0 must have the network's {self.net.n_params} parameters, got {x0.size}")
        self._n_hidden = self.net.layers[-1].w_start
        name = self._params["inner"]
        if name.lower() in ("readout", "memetic"):
            raise ValueError(f"inner must be a gradient-free optimizer, got {name!r}")
        self.inner_ = get_optimizer(name, **(self._params["inner_params"] or {}))
        if self.inner_.needs_grad:
            raise ValueError(f"inner must be a gradient-free optimizer, got {name!r} (needs gradients)")
        self.inner_.initialize(x0[: self._n_hidden], self.rng)
        self._x = x0.copy()
        self.x_loss_ = np.inf

    @property
    def popsize(self) -> int:
        return self.inner_.popsize

    @property
    def x(self) -> np.ndarray:
        return self._x

    def ask(self) -> np.ndarray:
        G = np.asarray(self.inner_.ask(), dtype=np.float64)
        Theta = np.empty((len(G), self.n_params))
        Theta[:, : self._n_hidden] = G
        Theta[:, self._n_hidden :] = self._x[self._n_hidden :]
        return Theta

    def _tell(self, Theta, losses, grads) -> None:
        # step() tells the fitnesses (leave-one-out losses with loo=True) as the ranking
        self.inner_.tell(Theta[:, : self._n_hidden], losses)

    def solve(self, Theta, X, y, lengths=None) -> tuple[np.ndarray, np.ndarray]:
        """Complete networks and their losses: each row of ``Theta`` ``(P, n)`` with the
        output layer solved on ``(X, y)`` (the rows' own output layers are ignored)."""
        from evoneuro.evaluator import Evaluator

        Theta = np.array(np.atleast_2d(Theta), dtype=np.float64)
        ev = Evaluator(self.net, dtype="float64")
        X = ev.check_X(X)
        return self._solve(Theta[:, : self._n_hidden], X, y, ev, ev.check_lengths(lengths, X))[:2]

    def _features(self, ev):
        """An evaluator of the net cut after its last hidden layer, the extra parameters the cut
        needs after the hidden ones, and whether its outputs still need the activation.

        An MLP cut after its last hidden layer (linear output) gives that layer's
        pre-activations. An RNN keeps all its recurrent layers and gets an identity readout
        (``H`` linear outputs, weights ``I``, biases 0): its outputs are the top layer's
        state at each sequence's last step, computed by the same kernels as the net's.
        """
        from evoneuro.evaluator import Evaluator

        key = (ev.backend, ev.dtype.name)
        cached = self.__dict__.get("_cut")
        if cached is None or cached[0] != key:
            cut, tail, activate = self.net.last_hidden()
            cached = self._cut = (key, Evaluator(cut, backend=ev.backend, dtype=ev.dtype, max_memory=ev.max_memory),
                                  tail, activate)
        return cached[1:]

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state.pop("_cut", None)  # rebuilt on demand
        return state

    def _solve(self, G: np.ndarray, X, y, ev, lengths=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Hidden weights ``G`` ``(P, n_hidden)`` -> complete networks ``(P, n)``, their losses,
        and the fitnesses that rank them (see :func:`fit_readouts`)."""
        net, nh = self.net, self._n_hidden
        # only the last hidden layer is needed: forward the net cut after it
        cut, tail, activate = self._features(ev)
        if tail.size:
            G = np.concatenate([G, np.broadcast_to(tail.astype(G.dtype), (len(G), tail.size))], axis=1)
        Z = cut.forward(G, X, lengths=lengths)
        G = G[:, :nh]
        y = ev.check_y(y, len(X))
        softmax = net.output == "softmax"
        T = np.eye(net.n_outputs)[y] if softmax else np.asarray(y, dtype=np.float64).reshape(len(X), -1)
        W, losses, fitness = solve_readouts(ev, Z, net.activations[-1] if activate else None, T, y if softmax else None,
                                  self._params)
        Full = np.empty((len(G), self.n_params))
        Full[:, :nh] = G
        Full[:, nh:] = np.concatenate([W[:, :-1].reshape(len(W), -1), W[:, -1]], axis=1)
        return Full, losses, fitness

    def step(self, problem) -> np.ndarray:
        """Ask hidden weights, solve every member's readout on the minibatch, tell; also
        solves the readout of the recommendation. Returns the population's losses."""
        from evoneuro.problems import SupervisedProblem

        if not isinstance(problem, SupervisedProblem):
            raise TypeError(f"readout needs an evoneuro.SupervisedProblem, got {type(problem).__name__}")
        Xb, yb = problem._batch
        lengths = problem._batch_lengths
        every = self._params["refit_every"]
        G = np.asarray(self.inner_.ask())
        P = len(G)
        if every == 0:  # the recommendation rides along as one member more
            G = np.concatenate([G, self.inner_.x[None].astype(G.dtype)])
        Full, losses, fitness = self._solve(G, Xb, yb, problem.evaluator, lengths)
        problem.evals += len(G) * self.net.forward_cost(Xb.shape)
        if every == 0:
            self._x, self.x_loss_ = Full[-1], float(losses[-1])
        elif self.generation % every == 0:
            x, x_loss, _ = self._solve(self.inner_.x[None], problem.X, problem.y, problem.evaluator, problem.lengths)
            problem.evals += self.net.forward_cost(problem.X.shape)
            self._x, self.x_loss_ = x[0], float(x_loss[0])
        self.tell(Full[:P], losses[:P], ranking=fitness[:P])
        return losses[:P]
