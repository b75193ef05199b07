"""The Neural Abstraction Pyramid on Behnke's fill-in task: does the iterative pyramid beat a dense net?

Protocol (Behnke 2001, IJCIA 1(4); Behnke 2003, LNCS 2766, sec. 9.2-9.3, as far as it could
be recovered; docs/guide/pyramid.md lists what could not):

- data: scikit-learn's 8 x 8 digits in [0, 1], up-sampled bilinearly to 16 x 16 so that the
  pyramid has three levels (16, 8, 4); per seed 200 training and 200 *other* test digits
  (Behnke's superresolution experiment used 200 + 200);
- degradation (``--task occlusion``): an 8 x 8 block of intensity 0.125 at a random position
  inside a 2-pixel border (Behnke: 8 x 8 of 0.125 inside a 4-pixel border of 28 x 28 MNIST);
  ``noise`` and ``downsample`` run the other two tasks;
- the pyramid: ``Pyramid((16, 16), levels=3, features=(4, 8, 8), kernel=3, iterations=T)``,
  sigmoid units, zero border, squared error weighted linearly in t (Behnke's), its
  data-dependent start (``pyramid_data_init``);
- the dense net of about the same size: ``MLP(256, (h,), 256)`` sigmoid hidden, linear output
  (h chosen so that the parameter counts match within 3 %), the estimators' start;
- optimizers: iRprop+ (the paper's choice), Adam, and sep-CMA-ES (gradient-free), each with
  its measured defaults, full batch (200 images), the **same budget in evaluations**
  (``--evals``; one image's forward pass is one evaluation, a gradient three);
- baselines: the degraded input itself, and the mean training image pasted into the
  degraded pixels;
- reported: test mean squared error over all pixels and over the degraded pixels alone, mean
  and standard deviation over seeds; for the iRprop+ pyramid the test error at every
  iteration 1..2T (the weights trained for T iterations, run for 2T).

Usage::

    python benchmarks/science_pyramid.py                      # 5 seeds, the table in the docs
    python benchmarks/science_pyramid.py --quick              # 1 seed, budget / 10

Writes ``benchmarks/results/science_pyramid_<task>.json`` and, for the occlusion task, the
figures ``docs/img/pyramid_digits.png`` and ``docs/img/pyramid_iterations.png``.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np

import evoneuro as en
from evoneuro.tasks.images import image_task

ROOT = Path(__file__).resolve().parents[1]
OPTIMIZERS = ("irprop+", "adam", "sep-cmaes")


def mlp_width(n_params: int, pixels: int) -> int:
    """Hidden width of a ``pixels``-h-``pixels`` MLP with about ``n_params`` parameters."""
    return max(1, round((n_params - pixels) / (2 * pixels + 1)))


def run_pyramid(task, optimizer, seed, evals, iterations, features, backend):
    reg = en.EvoPyramidRegressor(levels=3, features=features, iterations=iterations, optimizer=optimizer,
                                 max_evals=evals, early_stopping=False, random_state=seed, backend=backend)
    t0 = time.perf_counter()
    reg.fit(task.X_train, task.y_train)
    seconds = time.perf_counter() - t0
    pred = reg.predict(task.X_test)
    return reg, pred, seconds


def run_mlp(task, optimizer, seed, evals, hidden, backend):
    N, H, W = task.X_train.shape
    reg = en.EvoMLPRegressor(hidden_layer_sizes=(hidden,), activation="sigmoid", optimizer=optimizer, alpha=0.0,
                             max_evals=evals, early_stopping=False, random_state=seed, backend=backend)
    t0 = time.perf_counter()
    reg.fit(task.X_train.reshape(N, -1), task.y_train.reshape(N, -1))
    seconds = time.perf_counter() - t0
    pred = np.clip(reg.predict(task.X_test.reshape(len(task.X_test), -1)), 0, 1).reshape(task.y_test.shape)
    return reg, pred, seconds


def iteration_curve(reg, task, T2):
    """Test errors (all pixels, degraded pixels) at iterations 1..T2 of the trained weights."""
    net = reg.net_
    longer = en.Pyramid(net.shape, net.levels, net.features, net.kernel, T2, list(net.activations), net.output,
                        border=net.border)
    _, hidden = en.Evaluator(longer, dtype="float64").forward(reg.params_, task.X_test, return_hidden=True)
    outs = hidden[-1][0, ..., 0]  # (N, T2, H, W)
    sq = (outs - task.y_test[:, None]) ** 2
    return sq.mean(axis=(0, 2, 3)).tolist(), [float(sq[:, t][task.mask_test].mean()) for t in range(T2)]


def figure_digits(task, preds, path, n=8):
    from evoneuro._plotting import finish, pyplot

    plt = pyplot()
    rows = [("degraded input", task.X_test), *preds.items(), ("original", task.y_test)]
    fig, axes = plt.subplots(len(rows), n, figsize=(1.3 * n, 1.4 * len(rows)))
    for r, (name, images) in enumerate(rows):
        for c in range(n):
            ax = axes[r, c]
            ax.imshow(images[c], cmap="gray_r", vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
        axes[r, 0].set_ylabel(name, rotation=0, ha="right", va="center", fontsize=9)
    fig.suptitle("test digits: occluded input, reconstructions, original")
    fig.tight_layout()
    return finish(fig, path)


def figure_gradients(reg, task, path):
    """The trained pyramid's gradient norm per level and iteration on 64 test images."""
    from evoneuro.diagnostics import diagnose

    rep = diagnose(reg.net_, reg.params_, task.X_test[:64], task.y_test[:64])
    print(rep.table())
    return rep.plot(path, title="iRprop+-trained pyramid (science table, seed 0), 64 test digits")


def figure_iterations(curves, T, path):
    from evoneuro._plotting import finish, pyplot

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for key, label, ls in (("all", "all pixels", "-"), ("degraded", "occluded pixels", "--")):
        arr = np.array([c[key] for c in curves])
        its = np.arange(1, arr.shape[1] + 1)
        ax.plot(its, arr.mean(axis=0), ls, marker="o", label=f"{label} (mean and range of {len(arr)} seeds)")
        ax.fill_between(its, arr.min(axis=0), arr.max(axis=0), alpha=0.2)
    ax.axvline(T, color="gray", lw=0.8)
    ax.set(xlabel="iteration t", ylabel="test mean squared error", yscale="log",
           title="iRprop+ pyramid: error against iteration")
    ax.text(T + 0.1, ax.get_ylim()[0] * 1.05, f"trained for {T} iterations", fontsize=8, va="bottom")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return finish(fig, path)


def report(args, rows, curves, figure, seeds_done, evals, T, features):
    """Print the table and write the JSON (and the figures): after every seed, so that a
    run cut short keeps what it measured."""
    print(f"\n{'method':<28} {'params':>6}  {'test MSE all':>16}  {'test MSE degraded':>18}  {'seconds':>8}")
    summary = {}
    for name, rs in rows.items():
        a, d = np.array([r["all"] for r in rs]), np.array([r["degraded"] for r in rs])
        summary[name] = {"all_mean": float(a.mean()), "all_std": float(a.std()), "degraded_mean": float(d.mean()),
                         "degraded_std": float(d.std()), "params": rs[0]["params"],
                         "seconds_mean": float(np.mean([r["seconds"] for r in rs])), "runs": rs}
        print(f"{name:<28} {rs[0]['params']:>6}  {a.mean():.4f} ± {a.std():.4f}  {d.mean():>9.4f} ± {d.std():.4f}  "
              f"{summary[name]['seconds_mean']:>8.1f}")
    if curves:
        c = np.array([x["degraded"] for x in curves]).mean(axis=0)
        print("iRprop+ pyramid, test MSE on degraded pixels at iterations 1..2T:", np.round(c, 4).tolist())
    mlps = [k for k in summary if k.startswith("MLP")]
    if "pyramid irprop+" in summary and mlps:
        best = min(mlps, key=lambda k: summary[k]["degraded_mean"])
        gain = 1 - summary["pyramid irprop+"]["degraded_mean"] / summary[best]["degraded_mean"]
        print(f"pyramid iRprop+ vs the best dense net ({best}) on degraded pixels: {100 * gain:.1f} % lower "
              "(target >= 30 %)")
    print(f"load average {os.getloadavg()}")
    out = Path(args.out) if args.out else ROOT / "benchmarks" / "results" / f"science_pyramid_{args.task}.json"
    out.write_text(json.dumps({"task": args.task, "seeds": seeds_done, "evals": evals, "iterations": T,
                               "features": features, "summary": summary, "iteration_curves": curves,
                               "load_average_end": os.getloadavg()}, indent=1))
    if args.task == "occlusion" and not args.quick:
        figure_digits(image_task(args.task, 16, 200, 200, random_state=0),
                      {k: v for k, v in figure.items() if k in ("pyramid irprop+", "MLP irprop+")},
                      ROOT / "docs" / "img" / "pyramid_digits.png")
        figure_iterations(curves, T, ROOT / "docs" / "img" / "pyramid_iterations.png")
    return summary


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--task", default="occlusion", choices=("occlusion", "noise", "downsample"))
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--evals", type=float, default=180_000, help="budget per run in evaluations")
    ap.add_argument("--iterations", type=int, default=6)
    ap.add_argument("--optimizers", default=",".join(OPTIMIZERS))
    ap.add_argument("--backend", default="auto", help="evaluator backend of the pyramids")
    ap.add_argument("--mlp-backend", default="numpy", help="evaluator backend of the dense nets (small: NumPy is quick)")
    ap.add_argument("--quick", action="store_true", help="1 seed, budget / 10")
    ap.add_argument("--only-gradients", action="store_true",
                    help="train seed 0's iRprop+ pyramid, write docs/img/pyramid_gradients.png, stop")
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)
    seeds = 1 if args.quick else args.seeds
    evals = int(args.evals / (10 if args.quick else 1))
    T, features = args.iterations, (4, 8, 8)
    optimizers = ["irprop+"] if args.only_gradients else args.optimizers.split(",")
    print(f"load average {os.getloadavg()}; task {args.task}; {seeds} seeds; {evals} evaluations per run; T={T}")
    rows, curves, figure = {}, [], {}
    for seed in range(seeds):
        task = image_task(args.task, size=16, n_train=200, n_test=200, random_state=seed)
        mean_image = task.y_train.mean(axis=0)
        fill = np.where(task.mask_test, mean_image[None], task.X_test)
        for name, pred in (("degraded input", task.X_test), ("mean-image fill", fill)):
            rows.setdefault(name, []).append({**task.errors(pred), "seconds": 0.0, "params": 0})
        for opt in optimizers:
            reg, pred, sec = run_pyramid(task, opt, seed, evals, T, features, args.backend)
            n_params = reg.net_.n_params
            rows.setdefault(f"pyramid {opt}", []).append({**task.errors(pred), "seconds": sec, "params": n_params,
                                                          "train_loss": reg.loss_, "evals": reg.n_evals_})
            if opt == "irprop+":
                curve_all, curve_deg = iteration_curve(reg, task, 2 * T)
                curves.append({"all": curve_all, "degraded": curve_deg})
                if seed == 0 and args.task == "occlusion" and not args.quick:
                    figure_gradients(reg, task, ROOT / "docs" / "img" / "pyramid_gradients.png")
                if args.only_gradients:
                    return None
            if seed == 0:
                figure[f"pyramid {opt}"] = pred
            h = mlp_width(n_params, 256)
            mreg, mpred, msec = run_mlp(task, opt, seed, evals, h, args.mlp_backend)
            rows.setdefault(f"MLP 256-{h}-256 {opt}", []).append(
                {**task.errors(mpred), "seconds": msec, "params": mreg.net_.n_params, "evals": mreg.n_evals_})
            if seed == 0:
                figure[f"MLP {opt}"] = mpred
            print(f"seed {seed} {opt:>9}: pyramid {rows[f'pyramid {opt}'][-1]['degraded']:.4f} "
                  f"({sec:.0f} s)  MLP {rows[f'MLP 256-{h}-256 {opt}'][-1]['degraded']:.4f} ({msec:.0f} s)  "
                  f"load {os.getloadavg()[0]:.2f}", flush=True)
        summary = report(args, rows, curves, figure, seed + 1, evals, T, features)
    return summary


if __name__ == "__main__":
    main()
