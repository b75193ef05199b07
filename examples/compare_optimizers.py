"""Backprop, Rprop and gradient-free search side by side on a deep sigmoid net (Python API).

The same as `evoneuro compare`, from Python: every optimizer gets the same network, the
same LSUV start, the same split and the same budget.

Run: python examples/compare_optimizers.py [--quick]
"""

import argparse

from evoneuro.bench.compare import compare


def main(quick: bool = False) -> None:
    if quick:
        result = compare("iris", hidden=(8,) * 3, optimizers=["adam", "irprop+", "es", "readout"],
                         budget_seconds=None, budget_evals=200_000, progress=False)
    else:
        result = compare("digits", hidden=(32,) * 10, activation="sigmoid",
                         optimizers=["adam", ("irprop+", {}), ("snes", {"sigma0": 0.05}), "readout"],
                         budget_seconds=20, seeds=1, out="compare-example")
    print(result.table())


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="iris and a tiny budget (smoke test)")
    main(ap.parse_args().quick)
