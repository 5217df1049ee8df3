"""Figures of a stored lottery experiment (experiments/lottery_x2.toml), from its results only.

    python experiments/lottery_figures.py OUT --figures figures/lottery_x2

Writes ``width.png`` (test MSE vs width per activation and protocol: median and interquartile
range over seeds, the fitted slope and its interval from ``OUT/summary.json`` -- run
``toyscale report OUT`` first -- and both predictions, N^-1 and N^-4, drawn through the median
of the smallest width), ``curves.png`` (median training loss vs steps per width, the
Adam/L-BFGS boundary marked) and ``tickets.png`` (symmetric pairs per run vs width), and prints
a table of the convergence status counts.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from toyscale.store import ResultStore


def _protocols(meta):
    p = meta["experiment"]["params"]
    a, b = int(p["adam_steps"]), int(p["lbfgs_steps"])
    return {f"Adam {a}": a, f"Adam {a} + L-BFGS {b}": a + b}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out")
    ap.add_argument("--figures", required=True)
    a = ap.parse_args(argv)
    store = ResultStore(a.out)
    meta, df = store.read_meta(), store.load()
    summary = {e["name"]: e for e in json.loads((Path(a.out) / "summary.json").read_text())} \
        if (Path(a.out) / "summary.json").exists() else {}
    figdir = Path(a.figures)
    figdir.mkdir(parents=True, exist_ok=True)
    protos = _protocols(meta)
    acts = sorted(df.activation.unique(), key=["silu", "tanh", "gelu", "relu"].index)
    n_seeds = df.seed.nunique()
    target = meta["experiment"]["params"].get("target", "x2")

    # --- test MSE vs width
    fig = Figure(figsize=(4.6 * len(protos), 4.2), dpi=110)
    axes = fig.subplots(1, len(protos), squeeze=False)[0]
    for ax, (pname, step) in zip(axes, protos.items()):
        sl = df[df.steps == step]
        for k, act in enumerate(acts):
            s = sl[sl.activation == act]
            g = s.groupby("width")["loss"]
            w = np.array(sorted(s.width.unique()), float)
            med, q1, q3 = (g.median().reindex(w).to_numpy(), g.quantile(0.25).reindex(w).to_numpy(),
                           g.quantile(0.75).reindex(w).to_numpy())
            e = next((e for e in summary.values() if e["where"].get("activation") == act
                      and float(e["where"].get("steps", -1)) == step), None)
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
        ax.set_title(f"{pname}: y = {target} , {n_seeds} seeds\nslopes: fit of the seed-mean (report), 95% CI", fontsize=8)
        ax.legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(figdir / "width.png")

    # --- training loss vs steps
    fig = Figure(figsize=(4.4 * len(acts), 3.8), dpi=110)
    axes = fig.subplots(1, len(acts), squeeze=False)[0]
    widths = sorted(df.width.unique())
    nad = list(protos.values())[0]
    for ax, act in zip(axes, acts):
        s = df[df.activation == act]
        for k, w in enumerate(widths):
            g = s[s.width == w].groupby("steps")["train_loss"].median()
            ax.plot(g.index, g.to_numpy(), "-", color=f"C{k}", lw=1, label=f"N={w}")
        ax.axvline(nad, color="0.5", lw=0.8, ls="--")
        ax.set_xscale("log"), ax.set_yscale("log")
        ax.set_xlabel("steps (Adam, then L-BFGS iterations after the dashed line)")
        ax.set_ylabel("training MSE (median over seeds)")
        ax.set_title(f"{act}: training loss vs steps, y = {target}", fontsize=8)
        ax.legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(figdir / "curves.png")

    # --- symmetric pairs vs width
    fig = Figure(figsize=(5.0, 4.0), dpi=110)
    ax = fig.subplots()
    for k, act in enumerate(acts):
        for (pname, step), mk in zip(protos.items(), ("o-", "s--")):
            s = df[(df.activation == act) & (df.steps == step)]
            g = s.groupby("width")["sym_pairs"]
            m, se = g.mean(), g.std() / np.sqrt(g.count())
            ax.errorbar(m.index, m.to_numpy(), yerr=se.to_numpy(), fmt=mk, color=f"C{k}", ms=4, capsize=2,
                        label=f"{act}, {pname}")
    ax.set_xscale("log")
    ax.set_xlabel("width N"), ax.set_ylabel("symmetric pairs per run (mean ± s.e.m.)")
    ax.set_title(f"symmetric neuron pairs vs width, y = {target}, {n_seeds} seeds", fontsize=8)
    ax.legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(figdir / "tickets.png")

    print("| activation | protocol | ok (converged) | max_iterations | other |")
    print("|---|---|---|---|---|")
    for act in acts:
        for pname, step in protos.items():
            s = df[(df.activation == act) & (df.steps == step)]
            c = s.status.value_counts()
            print(f"| {act} | {pname} | {c.get('ok', 0)} | {c.get('max_iterations', 0)} | "
                  f"{len(s) - c.get('ok', 0) - c.get('max_iterations', 0)} |")


if __name__ == "__main__":
    main()
