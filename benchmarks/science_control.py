"""Pole balancing: evoneuro's optimizers on the papers' protocols, side by side with their figures.

Tasks (Wieland's double pole, :class:`evoneuro.control.CartPole`, 4th-order Runge-Kutta):

- ``markov``: both poles with velocities, a linear policy (6 weights and a bias, as
  Igel 2003 and Heidrich-Meisner & Igel 2009), fitness = steps balanced, episodes capped at
  100,000 steps; solved when a member balances 100,000 steps.
- ``novel``: no velocities (x, θ1, θ2 only), an Elman network of 3 hidden units, Gruau et
  al.'s damping fitness over 1000 steps; solved when the generation's best balanced the 1000
  steps, then balances 100,000 steps and 1000 steps from at least 200 of the 625
  generalisation starts (:mod:`evoneuro.control.poles`; the tests are not counted).

Each run is counted in evaluations (episodes) until solved, with a cap. Every run starts at
zero weights (measured: from a Glorot start CMA-ES balanced the Markov double pole for 1000
steps in 2 of 4 runs within 3,000 episodes; from zero in 4 of 4 within 675, docs/science.md);
the spreads of every optimizer come from one search scale (``--scale``; ``--sweep`` measures it). Results go to
``benchmarks/results/science_control.json`` (appended run by run, so a long sweep can be read
while it runs) and a table is printed.

Run::

    python benchmarks/science_control.py --task novel --optimizers cmaes --runs 20
    python benchmarks/science_control.py --task markov --optimizers cmaes,snes,sep-cmaes,es,pso,ga --runs 5
    python benchmarks/science_control.py --sweep --task novel --optimizers cmaes --runs 4
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np

import evoneuro as en
from evoneuro.training.defaults import CONTROL_SEARCH_SCALE, control_params
from evoneuro.control import CartPole, ControlProblem
from evoneuro.control.poles import GENERALIZATION_THRESHOLD, SUCCESS_STEPS, solves

RESULTS = Path(__file__).resolve().parent / "results" / "science_control.json"

#: Average evaluations to solve, as printed in Gomez, Schmidhuber & Miikkulainen (2008),
#: quoted through genoxide's page for the task (see docs/science.md for what was not checked).
PAPERS = {
    "novel": {"CoSyNE": 3416, "CMA-ES (Igel 2003)": 6061, "NEAT": 6929, "ESP": 26342, "CNE": 87623,
              "SANE": 451612, "cellular encoding": 840000, "random weight guessing": 1232296},
}


class Solved(en.Callback):
    """Stops a run when the generation's best passes the task's success tests."""

    stop_reason = "solved"

    def __init__(self, prob: ControlProblem, markov: bool) -> None:
        self.prob, self.markov, self.generalization = prob, markov, None

    def on_step(self, trainer, record) -> bool:
        p = self.prob
        if self.markov:
            return bool(p.last_steps.max() >= SUCCESS_STEPS)
        i = int(np.argmax(p.last_returns.mean(axis=1)))
        if p.last_steps[i].min() < p.max_steps:
            return False
        ok, _, gen = solves(p, p.last_Theta[i])
        self.generalization = gen
        return ok


def make_problem(task: str) -> ControlProblem:
    if task == "markov":
        return ControlProblem(CartPole(poles=2), en.MLP(6, (), 1, output="linear"), max_steps=SUCCESS_STEPS,
                              obs_norm=False)
    return ControlProblem(CartPole(poles=2, velocities=False, reward="damping"),
                          en.RNN(3, (3,), 1, cell="elman", output="linear"), max_steps=1000, obs_norm=False)


#: CMA-ES's step size bounded below, as Igel (2003) did against its convergence on networks
#: that balance 1000 steps but fail the tests (pycma's ``minstd``), and IPOP restarts when the
#: best fitness stagnates for 150 generations (without ``tolstagnation`` the bound keeps
#: pycma's ``stop()`` from ever firing: 9/20 runs solved within 10,000 evaluations, against
#: 18/20 within 30,000 with it; docs/science.md).
CMA_OPTIONS = {"options": {"minstd": 0.1, "tolstagnation": 150}, "restarts": 9}


def one_run(task: str, optimizer: str, seed: int, scale: float, cap: int) -> dict:
    prob = make_problem(task)
    cb = Solved(prob, task == "markov")
    params = control_params(optimizer, scale)
    if optimizer == "cmaes":
        params.update(CMA_OPTIONS)
    t0 = time.perf_counter()
    res = en.minimize(prob, np.zeros(prob.n_params), optimizer=optimizer, optimizer_params=params, max_evals=cap,
                      random_state=seed, callbacks=[cb])
    return {"task": task, "optimizer": optimizer, "seed": seed, "scale": scale, "cap": cap,
            "cma_options": str(CMA_OPTIONS) if optimizer == "cmaes" else None,
            "solved": res.stop_reason == "solved", "evals": int(res.n_evals), "generations": int(res.n_steps),
            "generalization": cb.generalization if task == "novel" else None,
            "env_steps": int(prob.env_steps), "seconds": round(time.perf_counter() - t0, 2)}


def table(runs: list[dict]) -> str:
    rows = {}
    for r in runs:
        rows.setdefault((r["task"], r["optimizer"], r["scale"], r["cap"], r.get("cma_options")), []).append(r)
    out = ["| task | optimizer | scale | solved | median evals (solved) | mean evals (solved) | generalization (mean) |",
           "|---|---|---|---|---|---|---|"]
    for (task, opt, scale, _, _), rs in sorted(rows.items(), key=lambda kv: tuple(map(str, kv[0]))):
        ok = [r for r in rs if r["solved"]]
        ev = [r["evals"] for r in ok]
        gen = [r["generalization"] for r in ok if r["generalization"] is not None]
        out.append(f"| {task} | {opt} | {scale:g} | {len(ok)}/{len(rs)} (cap {rs[0]['cap']:,}) | "
                   f"{int(np.median(ev)):,} | {int(np.mean(ev)):,} | "
                   f"{(f'{np.mean(gen):.0f} of 625' if gen else '-')} |" if ok else
                   f"| {task} | {opt} | {scale:g} | 0/{len(rs)} (cap {rs[0]['cap']:,}) | - | - | - |")
    return "\n".join(out)


def figures(outdir: Path) -> None:
    """The guide's two figures: a return curve on the double pole, and its solution's rollout."""
    from evoneuro.control import plot_returns, plot_rollout

    prob = ControlProblem("double-pole", en.MLP(6, (), 1, output="linear"), max_steps=1000, obs_norm=False)
    res = en.minimize(prob, np.zeros(prob.n_params), optimizer="cmaes",
                      optimizer_params=control_params("cmaes", CONTROL_SEARCH_SCALE), max_evals=3000, target=1000,
                      random_state=0)
    plot_returns(res, outdir / "control_returns.png", title="cmaes on the double pole (linear policy)")
    returns, obs, _ = en.replay((prob, res.x), max_steps=1000, record=True)
    scale = prob.env._scale  # back to metres and degrees
    state = obs[:, 0] * scale
    state[:, 2:] = np.degrees(state[:, 2:])
    plot_rollout(state[:, [0, 2, 4]], ["cart x (m)", "long pole θ1 (°)", "short pole θ2 (°)"],
                 outdir / "control_rollout.png", title=f"1000 steps (20 s) of the solution: return {returns[0]:.0f}")
    print(f"figures in {outdir}: {res.n_evals} episodes, return {res.fun:.0f}")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--task", choices=["markov", "novel"], default="novel")
    ap.add_argument("--optimizers", default="cmaes")
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--first-seed", type=int, default=0, help="seeds first-seed .. first-seed + runs - 1")
    ap.add_argument("--cap", type=int, default=20_000, help="evaluations per run at most")
    ap.add_argument("--scale", type=float, default=CONTROL_SEARCH_SCALE)
    ap.add_argument("--sweep", action="store_true", help="scales 0.3, 1 and 3 instead of --scale")
    ap.add_argument("--table", nargs="*", type=Path, default=None, help="print the table of these result files and stop")
    ap.add_argument("--out", type=Path, default=RESULTS)
    ap.add_argument("--figures", type=Path, default=None, help="write the guide's figures to this folder and stop")
    args = ap.parse_args(argv)
    if args.figures is not None:
        return figures(args.figures)
    if args.table is not None:
        print(table([r for f in args.table for r in json.loads(f.read_text())["runs"]]))
        return None
    print(f"load average {os.getloadavg()}, threshold {GENERALIZATION_THRESHOLD} of 625", flush=True)
    runs = json.loads(args.out.read_text())["runs"] if args.out.exists() else []
    for opt in [o.strip() for o in args.optimizers.split(",") if o.strip()]:
        for scale in ([0.3, 1.0, 3.0] if args.sweep else [args.scale]):
            for seed in range(args.first_seed, args.first_seed + args.runs):
                r = one_run(args.task, opt, seed, scale, args.cap)
                runs.append(r)
                print(json.dumps(r), flush=True)
                args.out.parent.mkdir(parents=True, exist_ok=True)
                args.out.write_text(json.dumps({"load_average_at_start": os.getloadavg(), "runs": runs}, indent=1))
    print(table(runs))
    for task, published in PAPERS.items():
        print(f"papers ({task}):", ", ".join(f"{k} {v:,}" for k, v in published.items()))


if __name__ == "__main__":
    main()
