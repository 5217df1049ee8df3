"""Figures of superposition sweeps from stored results: the phase diagram and the loss curves.

    python experiments/superposition_phase.py phase DIR [--figure figures/superposition_phase.png]
    python experiments/superposition_phase.py curves DIR [--figure figures/superposition_curves.png]

``phase``: in every (weight_decay, alpha) cell, the width exponent of the final loss fitted with
``toyscale.fit.fit_scaling`` (bootstrap CI over seeds, or over points with one seed), drawn beside
the represented fraction at the largest width and the theory exponent of the regime that fraction
implies (``toyscale.theory.superposition``: -1 strong, finite-n tail-sum slope weak, none
between). Cells with a run whose ``final_drift`` exceeds the model's ``DRIFT_FLAG`` (``toyscale.models.superposition.unconverged``) are marked ``*``. Writes
``DIR/phase.json`` too. ``curves``: the stored loss curves (``loss_curve`` at ``curve_steps``),
one panel per weight decay, with unconverged runs listed.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np

from toyscale.fit import fit_scaling
from toyscale.models import superposition as sp
from toyscale.store import ResultStore
from toyscale.theory import superposition as th

def phase_table(df) -> dict:
    """Fitted width exponent, its CI, represented fraction and theory exponent per (wd, alpha) cell."""
    wds = sorted(set(df.weight_decay.astype(float)))
    alphas = sorted(set(df.alpha.astype(float)))
    n = int(df.n_features.iloc[0])
    shape = (len(wds), len(alphas))
    maps = {k: np.full(shape, np.nan) for k in ("fitted", "ci_low", "ci_high", "theory", "represented_fraction",
                                                  "unconverged")}
    cells = []
    for i, wd in enumerate(wds):
        for j, a in enumerate(alphas):
            sel = df[np.isclose(df.weight_decay, wd) & np.isclose(df.alpha, a)]
            ok = sel[sel.status == "ok"]
            xs = sorted(set(ok.width.astype(float)))
            seeds = sorted(set(ok.seed))
            Y = np.array([[ok[(ok.width == x) & (ok.seed == s)].loss.mean() for s in seeds] for x in xs])
            frac = np.array([ok[ok.width == x].represented_fraction.mean() for x in xs])
            cell = {"weight_decay": wd, "alpha": a, "widths": xs, "n_seeds": len(seeds),
                    "represented_fraction": frac.tolist(), "max_drift": float(ok.final_drift.max()),
                    "unconverged": int(sp.unconverged(ok).sum())}
            pred = th.predict("width", {"n_features": n, "alpha": a, "weight_decay": wd}, xs,
                              stats={"represented_fraction": frac})
            cell.update(regime=pred.regime, theory=pred.slope)
            if len(xs) >= 3 and np.all(np.isfinite(Y)) and np.all(Y > 0):
                fit = fit_scaling(np.array(xs), Y, n_boot=300)
                cell.update(fitted=fit.slope, ci_low=fit.ci_low, ci_high=fit.ci_high)
            for k in ("fitted", "ci_low", "ci_high", "theory"):
                if cell.get(k) is not None:
                    maps[k][i, j] = cell[k]
            maps["represented_fraction"][i, j] = frac[-1] if len(frac) else np.nan
            maps["unconverged"][i, j] = cell["unconverged"]
            cells.append(cell)
    return {"weight_decay": wds, "alpha": alphas, "n_features": n, "maps": maps, "cells": cells}


def plot_phase(ph: dict, path: Path) -> None:
    """Heatmaps over (weight_decay, alpha): fitted exponent | represented fraction | theory exponent."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    wds, alphas, maps = ph["weight_decay"], ph["alpha"], ph["maps"]
    panels = [("fitted", "fitted width exponent of the loss", "viridis", (-1.3, 0.0)),
              ("represented_fraction", "represented fraction (largest width)", "magma", (0.0, 1.0)),
              ("theory", "theory exponent of the measured regime", "viridis", (-1.3, 0.0))]
    fig, axes = plt.subplots(1, 3, figsize=(14, 4.2), dpi=110)
    for ax, (k, title, cmap, (lo, hi)) in zip(axes, panels):
        m = maps[k]
        im = ax.imshow(m.T, origin="lower", aspect="auto", cmap=cmap, vmin=lo, vmax=hi)
        ax.set_xticks(range(len(wds)), [f"{v:.2g}" for v in wds], fontsize=7, rotation=45)
        ax.set_yticks(range(len(alphas)), [f"{v:.2g}" for v in alphas], fontsize=7)
        ax.set_xlabel("weight_decay")
        ax.set_ylabel("alpha")
        ax.set_title(title, fontsize=9)
        for i in range(m.shape[0]):
            for j in range(m.shape[1]):
                if np.isfinite(m[i, j]):
                    flag = "*" if k == "fitted" and maps["unconverged"][i, j] > 0 else ""
                    ax.text(i, j, f"{m[i, j]:.2f}{flag}", ha="center", va="center", fontsize=6,
                            color="w" if m[i, j] < (lo + hi) / 2 else "k")
        fig.colorbar(im, ax=ax, shrink=0.85)
    w = ph["cells"][0]["widths"]
    fig.suptitle(f"superposition phase diagram: n = {ph['n_features']}, widths {w[0]:g}..{w[-1]:g} "
                 f"({len(w)}), {ph['cells'][0]['n_seeds']} seed(s); * = a run's loss still falling > {sp.DRIFT_FLAG:.0%} "
                 f"(and > {sp.NOISE_FLAG:g} s.e.) over the last 10 % of steps", fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)


def plot_curves(df, path: Path) -> list[dict]:
    """Loss curves, one panel per weight decay (colour: width); returns the unconverged runs."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = int(df.steps.iloc[0])
    t = sp.curve_midpoints(steps)
    wds = sorted(set(df.weight_decay.astype(float)))
    widths = sorted(set(df.width))
    cmap = plt.get_cmap("viridis")
    fig, axes = plt.subplots(1, len(wds), figsize=(4.5 * len(wds), 3.8), dpi=110, squeeze=False)
    flagged = sp.unconverged(df)
    for ax, wd in zip(axes[0], wds):
        sel = df[np.isclose(df.weight_decay, wd)]
        for idx, r in sel.iterrows():
            c = cmap(widths.index(r.width) / max(1, len(widths) - 1))
            ls = "--" if flagged[idx] else "-"
            ax.plot(t, np.asarray(r.loss_curve), ls, color=c, lw=0.8, alpha=0.8)
            ax.plot([t[-1]], [r.loss], "o", color=c, ms=3)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("step")
        ax.set_ylabel("loss (window mean)")
        ax.set_title(f"weight_decay = {wd:g}; colour = width {widths[0]}..{widths[-1]}", fontsize=8)
    fig.suptitle(f"loss curves; dots: final-stretch mean\ndashed: unconverged (drift > {sp.DRIFT_FLAG:.0%} "
                 f"and > {sp.NOISE_FLAG:g} s.e.)", fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    bad = df[flagged]
    cols = [c for c in ("width", "alpha", "weight_decay", "seed", "final_drift", "loss_sem") if c in df]
    return bad[cols].to_dict("records")


def _clean(x):
    if isinstance(x, dict):
        return {k: _clean(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_clean(v) for v in x]
    if isinstance(x, np.ndarray):
        return _clean(x.tolist())
    if isinstance(x, (float, np.floating)):
        return float(x) if math.isfinite(x) else None
    return x


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("what", choices=("phase", "curves"))
    ap.add_argument("dir", help="results directory of a superposition run")
    ap.add_argument("--figure", help="output PNG (default: DIR/figures/superposition_{phase,curves}.png)")
    args = ap.parse_args(argv)
    df = ResultStore(args.dir).load()
    fig = Path(args.figure or Path(args.dir) / "figures" / f"superposition_{args.what}.png")
    if args.what == "phase":
        ph = phase_table(df)
        plot_phase(ph, fig)
        (Path(args.dir) / "phase.json").write_text(json.dumps(_clean(ph), indent=1))
        print(f"{'wd':>6} {'alpha':>6} {'fitted [95% CI]':>26} {'theory':>7} {'frac(m_max)':>11} {'drift':>6} regime")
        for c in ph["cells"]:
            f = c.get("fitted")
            fs = f"{f:+.3f} [{c['ci_low']:+.3f}, {c['ci_high']:+.3f}]" if f is not None else "—"
            ts = f"{c['theory']:+.3f}" if c["theory"] is not None else "—"
            print(f"{c['weight_decay']:6.2f} {c['alpha']:6.3f} {fs:>26} {ts:>7} {c['represented_fraction'][-1]:11.3f} "
                  f"{c['max_drift']:6.3f} {c['regime']}")
    else:
        bad = plot_curves(df, fig)
        print(f"{len(bad)} of {len(df)} runs flagged unconverged (final_drift > {sp.DRIFT_FLAG} and > "
              f"{sp.NOISE_FLAG:g} sqrt(2) loss_sem); final_drift range {df.final_drift.min():+.3f}..{df.final_drift.max():+.3f}:")
        for b in bad:
            print("  ", b)
    print(f"wrote {fig}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
