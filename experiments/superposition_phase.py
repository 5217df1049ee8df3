"""Figures of superposition sweeps from stored results: the phase diagram and the loss curves.

    python experiments/superposition_phase.py phase DIR [--figure figures/superposition_phase.png]
    python experiments/superposition_phase.py curves DIR [--figure figures/superposition_curves.png]

``phase``: the experiment's ``[[phases]]`` table as the report evaluates it
(``toyscale.report.evaluate_phase``: the width exponent of the loss fitted in every
(weight_decay, alpha) cell, the represented fraction at the largest width, and the theory exponent
of the regime that fraction implies), drawn as three panels; ``*`` marks cells with runs whose
status is ``unconverged``. ``curves``: the loss along the recorded ``steps`` axis, one panel per
weight decay (colour: width), unconverged points marked x.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from toyscale.models import get_model
from toyscale.report import _save, _unjson, evaluate_phase, phase_figure
from toyscale.store import ResultStore


def phase(out: Path, figure: Path) -> None:
    store = ResultStore(out)
    meta = store.read_meta()
    model = get_model(meta["experiment"]["model"])
    fixed = {k: _unjson(v) for k, v in meta["experiment"]["params"].items()}
    (spec,) = [p for p in meta["phases"]]
    ph = evaluate_phase(store.load(), model, fixed, spec)
    panels = [("fitted", "fitted width exponent of the loss", "viridis", (-1.3, 0.0)),
              ("represented_fraction", "represented fraction (largest width)", "magma", (0.0, 1.0)),
              ("theory", "theory exponent of the measured regime", "viridis", (-1.3, 0.0))]
    fig = phase_figure(ph, panels)
    e = meta["experiment"]
    fig.suptitle(f"superposition phase diagram: n = {fixed['n_features']}, widths {min(e['sweep']['width'])}.."
                 f"{max(e['sweep']['width'])}, {len(e['seeds'])} seed(s), horizon {fixed['horizon']} steps, batch "
                 f"{fixed['batch_size']}; * = cell with unconverged runs", fontsize=9)
    _save(fig, figure)
    print(f"{'wd':>6} {'alpha':>6} {'fitted [95% CI]':>26} {'theory':>7} regime")
    for c in ph["cells"]:
        f = c.get("fitted")
        fs = f"{f:+.3f} [{c['ci_low']:+.3f}, {c['ci_high']:+.3f}]" if f is not None else "—"
        ts = f"{c['theory']:+.3f}" if c["theory"] is not None else "—"
        print(f"{c['weight_decay']:6.2f} {c['alpha']:6.3f} {fs:>26} {ts:>7} {c['regime']}")


def curves(out: Path, figure: Path) -> None:
    from matplotlib import colormaps

    from toyscale.report import _figure, _log_axes

    df = ResultStore(out).load()
    if df["steps"].nunique() < 2:
        raise SystemExit(f"{out}: only one recorded step per run (sweep `steps` to record curves)")
    wds = sorted(set(df.weight_decay.astype(float)))
    widths = sorted(set(df.width))
    fig, axes = _figure(len(wds), size=(4.5, 3.8))
    cmap = colormaps["viridis"]
    for ax, wd in zip(axes, wds):
        sel = df[np.isclose(df.weight_decay, wd)]
        for (w, a, s), run in sel.groupby(["width", "alpha", "seed"]):
            run = run.sort_values("steps")
            c = cmap(widths.index(w) / max(1, len(widths) - 1))
            ax.plot(run.steps, run.loss, "-", color=c, lw=0.8, alpha=0.8)
            bad = run[run.status == "unconverged"]
            ax.plot(bad.steps, bad.loss, "x", color=c, ms=3)
        _log_axes(ax, "step", "loss (last 10 % window)")
        ax.set_title(f"weight_decay = {wd:g}; colour = width {widths[0]}..{widths[-1]}", fontsize=8)
    fig.suptitle("superposition loss curves (all alphas and seeds); x = unconverged at that step", fontsize=8)
    _save(fig, figure)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("what", choices=("phase", "curves"))
    ap.add_argument("dir", help="results directory of a superposition run")
    ap.add_argument("--figure", help="output PNG (default: DIR/figures/superposition_{phase,curves}.png)")
    args = ap.parse_args(argv)
    fig = Path(args.figure or Path(args.dir) / "figures" / f"superposition_{args.what}.png")
    (phase if args.what == "phase" else curves)(Path(args.dir), fig)
    print(f"wrote {fig}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
