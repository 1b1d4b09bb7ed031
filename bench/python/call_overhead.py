"""What calling the library through Python costs (issue 12: under 2% of a default run's time).

In one process, on the same arrays, the default run (the notes' network, `sigtrain train`'s defaults)
through `_core.train` (the module) and through `MLPRegressor.fit` (the estimator on top), alternating.
For each call, the library's part of it (`library_seconds`, timed inside the module: the plan with the
data's one copy, the backend, training, the model file's text, which `sigtrain train` does as well)
against the call's whole time: the rest is the cost of calling from Python (the options' and the
result's conversion; for the estimator also sklearn's checks and the fitted attributes). Medians of
--rounds calls each, per call, so that the run-to-run spread of training itself cancels.

    PYTHONPATH=build/python python3 bench/python/call_overhead.py [--rounds 41] [--samples 10000]
"""

import argparse
import statistics
import time

import numpy as np

import sigtrain
from sigtrain import _core, estimator


def sine_set(n, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.uniform(-2.0, 2.0, size=(n, 2))
    return X, np.sin(X[:, 0]) * np.cos(X[:, 1])


class LibraryClock:
    """_core.train, recording each call's library_seconds (the estimator calls it through its module)."""

    def __init__(self):
        self.train, self.seconds = _core.train, []

    def __call__(self, *args, **kwargs):
        result = self.train(*args, **kwargs)
        self.seconds.append(result["library_seconds"])
        return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=41)
    parser.add_argument("--samples", type=int, default=10000, help="rows of the sine set (the CLI's default)")
    parser.add_argument("--backend", default="auto", help="auto: the default run's")
    args = parser.parse_args()
    X, y = sine_set(args.samples)
    library = LibraryClock()
    estimator._core.train = library  # (this script's own instrument: the estimator's calls are timed too)
    options = {"layers": [2, 3, 3, 1], "backend": args.backend}  # otherwise `sigtrain train`'s defaults
    runs = {"_core.train": lambda: library(X, y, options),
            "MLPRegressor.fit": lambda: sigtrain.MLPRegressor(backend=args.backend).fit(X, y)}
    overheads = {name: [] for name in runs}
    libraries = []
    for round in range(args.rounds):  # each first in every other round: neither always has the warmer caches
        for name in list(runs)[:: 1 if round % 2 == 0 else -1]:
            start = time.perf_counter()
            runs[name]()
            whole = time.perf_counter() - start
            overheads[name].append(whole - library.seconds[-1])
            libraries.append(library.seconds[-1])
    typical = statistics.median(libraries)
    print(f"default run ({args.samples} samples, 100 epochs, backend {args.backend}), medians of {args.rounds} calls each:")
    print(f"  the library's work        {1e3 * typical:.2f} ms")
    for name, extra in overheads.items():
        cost = statistics.median(extra)
        print(f"  {name + ' adds':25} {1e3 * cost:.3f} ms  ({100 * cost / typical:.1f}% of the run)")


if __name__ == "__main__":
    main()
