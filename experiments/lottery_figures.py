"""Figures of a stored lottery experiment (experiments/lottery_x2.toml), from its results only.

    python experiments/lottery_figures.py OUT --figures figures/lottery_x2

A protocol is a stored ``weight_decay`` at the end of training. Writes ``width.png`` (test MSE
vs width per activation and protocol: median and interquartile range over seeds, the fitted
slope and its interval from ``OUT/summary.json`` -- run ``toyscale report OUT`` first -- and
both predictions, N^-1 and N^-4, drawn through the median of the smallest width),
``curves.png`` (median training objective vs steps per width, the end of Adam marked) and
``tickets.png`` (symmetric pairs per run vs width), and prints a table of the convergence
status counts.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from toyscale.report import read_summary
from toyscale.store import ResultStore


def _protocols(meta, df):
    """One protocol per stored weight decay, at the end of training: ``{label: (lambda, step)}``."""
    p = meta["experiment"]["params"]
    a, b = int(p["adam_steps"]), int(p["polish_steps"])
    pol = {"lm": "LM", "lbfgs": "L-BFGS"}[p.get("polish", "lbfgs")]
    lams = sorted(df.weight_decay.unique(), reverse=True)
    return {f"Adam {a} + {pol} ≤ {b}, λ = {lam:g}": (lam, a + b) for lam in lams}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out")
    ap.add_argument("--figures", required=True)
    a = ap.parse_args(argv)
    store = ResultStore(a.out)
    meta, df = store.read_meta(), store.load()
    summary = {e["name"]: e for e in read_summary(a.out)["checks"]} \
        if (Path(a.out) / "summary.json").exists() else {}
    figdir = Path(a.figures)
    figdir.mkdir(parents=True, exist_ok=True)
    protos = _protocols(meta, df)
    acts = sorted(df.activation.unique(), key=["silu", "tanh", "gelu", "relu"].index)
    n_seeds = df.seed.nunique()
    target = meta["experiment"]["params"].get("target", "x2")

    # --- test MSE vs width
    fig = Figure(figsize=(4.6 * len(protos), 4.2), dpi=110)
    axes = fig.subplots(1, len(protos), squeeze=False)[0]
    for ax, (pname, (lam, step)) in zip(axes, protos.items()):
        sl = df[(df.steps == step) & (df.weight_decay == lam)]
        for k, act in enumerate(acts):
            s = sl[sl.activation == act]
            g = s.groupby("width")["loss"]
            w = np.array(sorted(s.width.unique()), float)
            med, q1, q3 = (g.median().reindex(w).to_numpy(), g.quantile(0.25).reindex(w).to_numpy(),
                           g.quantile(0.75).reindex(w).to_numpy())
            e = next((e for e in summary.values() if e["where"].get("activation") == act
                      and float(e["where"].get("steps", -1)) == step
                      and float(e["where"].get("weight_decay", -1)) == lam), None)
            lab = act + (f": slope {e['fitted']:+.2f} [{e['ci_low']:+.2f}, {e['ci_high']:+.2f}]"
                         if e and e.get("fitted") is not None else "")
            nflag = int((s.status != "ok").sum())
            ax.fill_between(w, q1, q3, color=f"C{k}", alpha=0.2)
            ax.plot(w, med, "o-", color=f"C{k}", ms=4, label=f"{lab} ({nflag}/{len(s)} unconverged)")
            if k == 0:
                for sl_, ls, name in ((-1.0, "--", "N^-1"), (-4.0, ":", "N^-4")):
                    ax.plot(w, med[0] * (w / w[0]) ** sl_, ls, color="k", lw=1, label=f"{name} (through {act}, N={w[0]:g})")
        ax.set_xscale("log"), ax.set_yscale("log")
        ax.set_xlabel("width N"), ax.set_ylabel("test MSE (median, IQR band)")
        stat = next((e.get("statistic", "mean") for e in summary.values()), "mean")
        ax.set_title(f"{pname}: y = {target}, {n_seeds} seeds\nslopes: fit of the seed-{stat} (report), 95% CI",
                     fontsize=8)
        ax.legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(figdir / "width.png")

    # --- training objective vs steps: one row per protocol, one column per activation
    fig = Figure(figsize=(4.2 * len(acts), 3.4 * len(protos)), dpi=110)
    axes = fig.subplots(len(protos), len(acts), squeeze=False)
    widths = sorted(df.width.unique())
    nad = int(meta["experiment"]["params"]["adam_steps"])
    for row, (pname, (lam, _)) in zip(axes, protos.items()):
        for ax, act in zip(row, acts):
            s = df[(df.activation == act) & (df.weight_decay == lam)]
            for k, w in enumerate(widths):
                g = s[s.width == w].groupby("steps")["objective"].median()
                ax.plot(g.index, g.to_numpy(), "-", color=f"C{k}", lw=1, label=f"N={w}")
            ax.axvline(nad, color="0.5", lw=0.8, ls="--")
            ax.set_xscale("log"), ax.set_yscale("log")
            ax.set_xlabel("steps (Adam; phase 2 after the dashed line)", fontsize=7)
            ax.set_ylabel("objective J (median over seeds)", fontsize=7)
            ax.set_title(f"{act}, {pname}: J vs steps, y = {target}", fontsize=7)
            ax.legend(fontsize=5)
    fig.tight_layout()
    fig.savefig(figdir / "curves.png")

    # --- symmetric pairs vs width: pair count (pairs among a cluster of near-copies all count) and
    # the fraction of neurons that belong to at least one pair
    fig = Figure(figsize=(10.0, 4.0), dpi=110)
    axes = fig.subplots(1, 2)
    for col, ylab in zip(("sym_pairs", "sym_fraction"), ("symmetric pairs per run", "fraction of neurons in a pair")):
        ax = axes[0] if col == "sym_pairs" else axes[1]
        for k, act in enumerate(acts):
            for (pname, (lam, step)), mk in zip(protos.items(), ("o-", "s--", "^:")):
                s = df[(df.activation == act) & (df.steps == step) & (df.weight_decay == lam)]
                g = s.groupby("width")[col]
                m, se = g.mean(), g.std() / np.sqrt(g.count())
                ax.errorbar(m.index, m.to_numpy(), yerr=se.to_numpy(), fmt=mk, color=f"C{k}", ms=4, capsize=2,
                            label=f"{act}, {pname}")
        ax.set_xscale("log")
        if col == "sym_pairs":
            ax.set_yscale("symlog", linthresh=1.0)
            ax.set_ylim(bottom=0.0)
        ax.set_xlabel("width N"), ax.set_ylabel(f"{ylab} (mean ± s.e.m.)")
        ax.set_title(f"{ylab} vs width at the end of training, y = {target}, {n_seeds} seeds", fontsize=8)
    axes[0].legend(fontsize=5)
    fig.tight_layout()
    fig.savefig(figdir / "tickets.png")

    print("| activation | protocol | ok (converged) | max_iterations | other |")
    print("|---|---|---|---|---|")
    for act in acts:
        for pname, (lam, step) in protos.items():
            s = df[(df.activation == act) & (df.steps == step) & (df.weight_decay == lam)]
            c = s.status.value_counts()
            print(f"| {act} | {pname} | {c.get('ok', 0)} | {c.get('max_iterations', 0)} | "
                  f"{len(s) - c.get('ok', 0) - c.get('max_iterations', 0)} |")


if __name__ == "__main__":
    main()
