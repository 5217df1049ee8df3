"""Cost of progress within long groups: a run whose chunks are cut for its progress bar vs the
same run in chunks as large as the memory budget allows, measured in one process.

A run that shows progress on a terminal measures its speed on each chunk; once a group has one
measured chunk, a later chunk of it predicted to take longer than ``PROGRESS_SECONDS`` (10 s) is
cut, with the rest of the group, into chunks of about that length, and the first cut chunk is a
trial: slower per unit of cost than the group at full size by more than 5 %, and the run goes
back to full chunks for good (``toyscale.sweep.ProgressCutter``). Chunking never changes a row.
Per repeat, each workload runs into a fresh directory in two modes, in alternating order:
``off`` (``progress_seconds=0``: what a run without a terminal does) and ``10 s`` (the default on
a terminal). ``quickstart`` and ``superposition`` have one chunk per group (nothing is cut);
``superposition_long`` is one group in three chunks of ~15 s (8 small models each), where
cutting is tried. Repeat 0 compiles and is discarded; the medians are compared.

    python benchmarks/bench_progress.py [--repeats 3] [--only quickstart]

Target: 10 s / off <= 1.05.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import toyscale  # noqa: F401

ROOT = Path(__file__).resolve().parent.parent

WORKLOADS = {
    # random-feature ridge, float64: 6 cells in 2 groups, 432 rows (one chunk per group without pieces)
    "quickstart": {"file": "quickstart.toml", "quick": True},
    # superposition, float32, trained by Adam: 3 widths x 5 alphas x 2 weight decays, 300 steps
    "superposition": {"doc": {"model": "superposition", "seeds": 1,
                              "params": {"n_features": 200, "batch_size": 64, "horizon": 300, "warmup": 30, "lr": 3e-2},
                              "sweep": {"steps": [100, 300], "width": [10, 20, 40], "weight_decay": [-1.0, 0.0],
                                        "alpha": {"lin": [-1.0, 1.0], "num": 5}}}},
    # superposition, one group (width 20): 24 small models trained 6000 steps, 8 per chunk (memory_mb)
    "superposition_long": {"doc": {"model": "superposition", "seeds": 1,
                                   "params": {"n_features": 200, "batch_size": 64, "horizon": 6000, "warmup": 60,
                                              "lr": 3e-2, "width": 20},
                                   "sweep": {"steps": [6000], "weight_decay": [-1.0, 0.0],
                                             "alpha": {"lin": [-1.0, 1.0], "num": 12}},
                                   "run": {"memory_mb": 21.5}}},
}


def experiment(name: str):
    from toyscale.experiment import experiment_from_dict, load_experiment

    w = WORKLOADS[name]
    if "file" in w:
        return load_experiment(ROOT / "experiments" / w["file"], quick=w["quick"])
    return experiment_from_dict(w["doc"], name=name)


MODES = {"off": 0.0, "10 s": 10.0}


def measure(name: str, repeats: int) -> dict:
    from toyscale.store import ResultStore
    from toyscale.sweep import run_experiment

    exp = experiment(name)
    times: dict = {m: [] for m in MODES}
    files: dict = {}
    modes = list(MODES)
    for r in range(repeats + 1):  # repeat 0 compiles every chunk size: discarded
        for m in modes[r % 2:] + modes[:r % 2]:
            with tempfile.TemporaryDirectory() as d:
                t = time.perf_counter()
                run_experiment(exp, d, progress=False, progress_seconds=MODES[m])
                if r:
                    times[m].append(time.perf_counter() - t)
                files[m] = len(ResultStore(d).chunk_files())
    med = {m: statistics.median(v) for m, v in times.items()}
    return {"workload": name, "rows": exp.n_configs, "chunks": files, "median_s": med,
            "ratio": {m: med[m] / med["off"] for m in MODES}}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--only", choices=sorted(WORKLOADS), action="append", help="this workload only (repeatable)")
    a = ap.parse_args(argv)
    print(f"median of {a.repeats} repeats (after one compiling repeat), alternating order")
    print("| workload | rows | chunks off / 10 s | off s | 10 s | 10 s / off |")
    print("|---|---|---|---|---|---|")
    for name in a.only or WORKLOADS:
        r = measure(name, a.repeats)
        c, t, q = r["chunks"], r["median_s"], r["ratio"]
        print(f"| {name} | {r['rows']} | {c['off']} / {c['10 s']} | {t['off']:.2f} | {t['10 s']:.2f} | "
              f"**{q['10 s']:.3f}** |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
