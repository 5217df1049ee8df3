"""Cost of the precision audit on the quickstart, as a ratio to the run's own compute.

The quickstart (experiments/quickstart.toml) runs in float64, the model's declaration: its
audit is a record and no work. To measure the audit's work, the same experiment is also run in
float32 (``--set precision=float32``), where the audit re-evaluates in float64 cells worth
~4 % of the run's estimated cost (toyscale/audit.py). Per repeat, in one process: the run into a
fresh directory (``run_experiment``: the engine never audits; the run's compute), then
``audit_run`` on the stored rows (the audit's cost). The first repeat compiles both programs
and is discarded; the medians of the others are compared.

    python benchmarks/bench_audit.py [--repeats 3] [--quick]

Target: audit / run <= ~0.10 (the audit's sample, 4 % of the estimated cost, ~2-2.5x the cost of
float32 in float64).
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


def measure(precision: str, repeats: int, quick: bool) -> dict:
    from toyscale.audit import audit_run
    from toyscale.experiment import load_experiment
    from toyscale.sweep import run_experiment

    exp = load_experiment(ROOT / "experiments" / "quickstart.toml", quick=quick,
                          overrides=[f"precision={precision}"])
    runs, audits, rec = [], [], None
    for i in range(repeats + 1):  # repeat 0 compiles: discarded
        with tempfile.TemporaryDirectory() as d:
            t = time.perf_counter()
            run_experiment(exp, d, progress=False)  # the engine does not audit (toyscale.audit.run_audited does)
            run_s = time.perf_counter() - t
            t = time.perf_counter()
            rec = audit_run(exp, d, quiet=True)
            audit_s = time.perf_counter() - t
        if i:
            runs.append(run_s)
            audits.append(audit_s)
    run_s, audit_s = statistics.median(runs), statistics.median(audits)
    return {"precision": precision, "run_s": run_s, "audit_s": audit_s, "ratio": audit_s / run_s,
            "cells": rec.get("cells"), "cells_total": rec.get("cells_total"), "ok": rec.get("ok"),
            "max_rel_diff": rec.get("max_rel_diff")}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="the quickstart's [quick] sizes")
    ap.add_argument("--precision", choices=("float64", "float32"), action="append",
                    help="measure only this precision (repeatable; default both)")
    a = ap.parse_args(argv)
    print(f"quickstart{' --quick' if a.quick else ''}, median of {a.repeats} repeats (after one compiling repeat)")
    print("| precision | run s | audit s | audit / run | cells audited | ok |")
    print("|---|---|---|---|---|---|")
    for prec in a.precision or ("float64", "float32"):
        r = measure(prec, a.repeats, a.quick)
        print(f"| {prec} | {r['run_s']:.2f} | {r['audit_s']:.3f} | {r['ratio']:.3f} | "
              f"{r['cells']} of {r['cells_total'] or r['cells']} | {r['ok']} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
