"""Soak test of crash-safe checkpoints: SIGKILL a checkpointing run at random moments.

A run (SNES on a sigmoid net, minibatches, a checkpoint after every step) is started in a
child process and killed with SIGKILL at a random moment -- mid-step, mid-pickle or
mid-write -- five times; each time it is resumed from its checkpoint in a new process.
After each kill, a copy of the checkpoint it left is also run to the end in a fresh
process and compared with an uninterrupted run; finally the chain of resumed runs ends,
and is compared too. Every comparison is bit for bit: the final weights, the loss and the
whole history (step, evals, loss, best_loss; not the wall-clock seconds).

Usage::

    python benchmarks/soak_checkpoint.py            # 5 kills
    python benchmarks/soak_checkpoint.py --kills 20 --seed 1

Prints one line per kill ending in "identical" (or "DIFFERENT"), and exits non-zero if
any comparison fails or a checkpoint does not load.
"""

from __future__ import annotations

import argparse
import os
import pickle
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import numpy as np

STEPS = 1000


def build(path: str):
    """The run: SNES on a 64-[32x4]-10 sigmoid net, digits-like data, checkpoint every step."""
    import evoneuro as en

    rng = np.random.default_rng(0)
    X = rng.normal(size=(600, 64))
    y = (X[:, :10] @ rng.normal(size=(10, 10))).argmax(axis=1)
    net = en.MLP(64, (32,) * 4, 10, activation="sigmoid")
    prob = en.SupervisedProblem(en.Evaluator(net, backend="numpy", dtype="float32"), X, y, batch_size=50)
    return en.Trainer(prob, "snes", max_steps=STEPS, random_state=0,
                      callbacks=[en.Checkpoint(path, every=1)])


def child(path: str, out: str) -> None:
    """Resume from ``path`` if it exists, else start; run to the end; save the result."""
    if os.path.exists(path):
        import evoneuro as en

        with open(path, "rb") as f:
            trainer = pickle.load(f)
        for cb in trainer.callbacks:  # keep saving to this file (a copy, for the checks)
            if isinstance(cb, en.Checkpoint):
                cb.path = path
    else:
        trainer = build(path)
    res = trainer.run()
    rows = [(r["step"], r["evals"], r["loss"], r["best_loss"]) for r in res.history.records]
    np.savez(out, x=res.x, fun=res.fun, history=np.array(rows, dtype=np.float64))


def spawn(path: str, out: str) -> subprocess.Popen:
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    return subprocess.Popen([sys.executable, __file__, "--child", path, out], env=env)


def same(a: str, b: str) -> bool:
    ra, rb = np.load(a), np.load(b)
    return all(np.array_equal(ra[k], rb[k]) for k in ("x", "fun", "history"))


def steps_in(path: str) -> int:
    with open(path, "rb") as f:
        return pickle.load(f).n_steps


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0, help="seeds the kill moments")
    parser.add_argument("--child", nargs=2, metavar=("CHECKPOINT", "RESULT"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(*args.child)
        return 0
    rng = np.random.default_rng(args.seed)
    work = tempfile.mkdtemp(prefix="evoneuro-soak-")
    ok = True
    try:
        ref, ref_out = os.path.join(work, "reference.pkl"), os.path.join(work, "reference.npz")
        t0 = time.perf_counter()
        if spawn(ref, ref_out).wait() != 0:
            raise SystemExit("the uninterrupted run failed")
        full = time.perf_counter() - t0
        print(f"uninterrupted run: {STEPS} steps in {full:.1f} s (process start included)", flush=True)
        path, out = os.path.join(work, "run.pkl"), os.path.join(work, "run.npz")
        for k in range(1, args.kills + 1):
            proc = spawn(path, out)
            # at most a fifth of a run per kill: five kills all land before the end
            time.sleep(rng.uniform(0.05, 0.2) * full)
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            if not os.path.exists(path):
                print(f"kill {k}: before the first checkpoint; the resume starts afresh", flush=True)
                continue
            left = os.path.join(work, f"kill{k}.pkl")
            shutil.copyfile(path, left)
            at = steps_in(left)  # raises if the kill left a truncated file
            check = os.path.join(work, f"kill{k}.npz")
            if spawn(left, check).wait() != 0:
                raise SystemExit(f"resuming the checkpoint of kill {k} failed")
            verdict = same(check, ref_out)
            ok &= verdict
            print(f"kill {k}: checkpoint at step {at}/{STEPS} loads; resumed to the end: "
                  + ("identical" if verdict else "DIFFERENT"), flush=True)
        if spawn(path, out).wait() != 0:
            raise SystemExit("the last resume failed")
        verdict = same(out, ref_out)
        ok &= verdict
        print(f"after {args.kills} kills and resumes, the run ends "
              + ("identical" if verdict else "DIFFERENT") + " to the uninterrupted one", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
