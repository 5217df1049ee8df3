"""Figures of superposition sweeps from stored results: phase diagram, loss curves, the
frequency-exponent grid, the budget dependence and the overlap distribution.

    python experiments/superposition_phase.py phase DIR [--figure figures/superposition_phase.png]
    python experiments/superposition_phase.py curves DIR [--figure figures/superposition_curves.png]
    python experiments/superposition_phase.py grid DIR [--figure figures/superposition_grid/map.png]
    python experiments/superposition_phase.py budget DIR [--figure ...]
    python experiments/superposition_phase.py overlap DIR [--figure ...]

Frequency exponents are labelled in the paper's convention, alpha_paper = 1 + a (the code's
``alpha`` is a; docs/theory.md §2.1).

``phase``: the experiment's ``[[phases]]`` table as the report evaluates it
(``toyscale.analysis.evaluate_phase``: the width exponent of the loss fitted in every
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
from toyscale.analysis import evaluate_check, evaluate_phase
from toyscale.jsonio import decode
from toyscale.plot import figure as new_figure  # (a variable here is called figure)
from toyscale.plot import log_axes, phase_figure, save
from toyscale.store import ResultStore
from toyscale.theory import superposition as th

#: The paper's "model exponent vs data exponent" panel in strong superposition, read off the
#: figure (reference repository figures/Fig-6-3.png; approximate, docs/theory.md §2.3):
#: (alpha_paper range, exponent range).
PAPER_PANEL_STRONG = (((0.0, 1.0), (0.8, 0.9)), ((1.0, 1.5), (1.0, 1.2)))


def phase(out: Path, figure: Path) -> None:
    store = ResultStore(out)
    meta = store.read_meta()
    model = get_model(meta["experiment"]["model"])
    fixed = {k: decode(v) for k, v in meta["experiment"]["params"].items()}
    (spec,) = [p for p in meta["phases"]]
    ph = evaluate_phase(store.load(), model, fixed, spec).to_json()
    panels = [("fitted", "fitted width exponent of the loss", "viridis", (-1.3, 0.0)),
              ("represented_fraction", "represented fraction (largest width)", "magma", (0.0, 1.0)),
              ("theory", "theory exponent of the measured regime", "viridis", (-1.3, 0.0))]
    fig = phase_figure(ph, panels)
    e = meta["experiment"]
    fig.suptitle(f"superposition phase diagram: n = {fixed['n_features']}, widths {min(e['sweep']['width'])}.."
                 f"{max(e['sweep']['width'])}, {len(e['seeds'])} seed(s), horizon {fixed['horizon']} steps, batch "
                 f"{fixed['batch_size']}; * = cell with unconverged runs", fontsize=9)
    save(fig, figure)
    print(f"{'wd':>6} {'alpha':>6} {'fitted [95% CI]':>26} {'theory':>7} regime")
    for c in ph["cells"]:
        f = c.get("fitted")
        fs = f"{f:+.3f} [{c['ci_low']:+.3f}, {c['ci_high']:+.3f}]" if f is not None else "—"
        ts = f"{c['theory']:+.3f}" if c["theory"] is not None else "—"
        print(f"{c['weight_decay']:6.2f} {c['alpha']:6.3f} {fs:>26} {ts:>7} {c['regime']}")


def curves(out: Path, figure: Path) -> None:
    from matplotlib import colormaps


    df = ResultStore(out).load()
    if df["steps"].nunique() < 2:
        raise SystemExit(f"{out}: only one recorded step per run (sweep `steps` to record curves)")
    wds = sorted(set(df.weight_decay.astype(float)))
    widths = sorted(set(df.width))
    fig, axes = new_figure(len(wds), size=(4.5, 3.8))
    cmap = colormaps["viridis"]
    for ax, wd in zip(axes, wds):
        sel = df[np.isclose(df.weight_decay, wd)]
        for (w, a, s), run in sel.groupby(["width", "alpha", "seed"]):
            run = run.sort_values("steps")
            c = cmap(widths.index(w) / max(1, len(widths) - 1))
            ax.plot(run.steps, run.loss, "-", color=c, lw=0.8, alpha=0.8)
            bad = run[run.status == "unconverged"]
            ax.plot(bad.steps, bad.loss, "x", color=c, ms=3)
        log_axes(ax, "step", "loss (last 10 % window)")
        ax.set_title(f"weight_decay = {wd:g}; colour = width {widths[0]}..{widths[-1]}", fontsize=8)
    fig.suptitle("superposition loss curves (all alphas and seeds); x = unconverged at that step", fontsize=8)
    save(fig, figure)


def _fixed(meta):
    return {k: decode(v) for k, v in meta["experiment"]["params"].items()}


def _budget_text(fixed, e):
    return (f"n = {fixed['n_features']}, batch {fixed['batch_size']}, horizon {fixed['horizon']}, lr {fixed['lr']:g}, "
            f"{len(e['seeds'])} seed(s)")


def strong_vs_alpha(cells, fixed, n):
    """Figure: width exponent (positive, -slope) vs alpha_paper, measured with intervals and theory branches."""

    fig, (ax,) = new_figure(size=(6.4, 4.6))
    ap = np.linspace(0.0, 2.0, 201)
    widths = cells[0]["_widths"] if cells else [10, 100]
    ax.plot(ap, np.ones_like(ap), "-", color="k", lw=1, label="geometric branch: 1 (1/m overlaps)")
    hi = ap >= 1
    ax.plot(ap[hi], 2 * (ap[hi] - 1), "--", color="C3", lw=1.2, label="paper's empirical line 2(α_paper − 1)")
    cons = [-th.strong_branches(widths, n, a - 1)["top-K construction, finite n"] for a in ap[::10]]
    ax.plot(ap[::10], cons, ":", color="C2", lw=1.5,
            label=f"top-K construction (derived here), finite n = {n}, m = {min(widths):g}..{max(widths):g}")
    ax.plot(ap[hi], ap[hi] - 1, "-.", color="C7", lw=1, label="weak regime: tail law α_paper − 1")
    for (x0, x1), (y0, y1) in PAPER_PANEL_STRONG:
        ax.fill_between([x0, x1], y0, y1, color="C3", alpha=0.12, lw=0)
    ax.fill_between([], [], [], color="C3", alpha=0.12, label="paper's panel, strong (read off, approx.)")
    for c in cells:
        style = dict(fmt="o", color="C0", ms=5, capsize=3) if c["regime"].startswith("strong") else \
            dict(fmt="o", color="C0", mfc="none", ms=5, capsize=3)
        ax.errorbar([th.alpha_paper(c["alpha"])], [-c["fitted"]],
                    yerr=[[c["ci_high"] - c["fitted"]], [c["fitted"] - c["ci_low"]]], **style)
        if c.get("n_flagged"):
            ax.annotate("*", (th.alpha_paper(c["alpha"]), -c["fitted"]), textcoords="offset points", xytext=(4, 2), fontsize=8)
    ax.errorbar([], [], yerr=[], fmt="o", color="C0", label="toyscale, wd = −1 (95 % CI; open: not strong at every width)")
    ax.set_xlabel("α_paper = 1 + a  (p_i ∝ i^−α_paper)")
    ax.set_ylabel("width exponent of the loss, −d log L / d log m")
    ax.set_xlim(-0.05, 2.05)
    ax.legend(fontsize=6.5, loc="upper left")
    return fig


def grid(out: Path, figure: Path) -> None:
    """Model-exponent map over (wd, alpha_paper) and the strong-regime exponent vs alpha_paper."""
    store = ResultStore(out)
    meta = store.read_meta()
    model = get_model(meta["experiment"]["model"])
    fixed, e = _fixed(meta), meta["experiment"]
    (spec,) = meta["phases"]
    df = store.load()
    ph = evaluate_phase(df, model, fixed, spec, n_boot=1000).to_json()
    panels = [("fitted", "fitted width exponent of the loss", "viridis", (-2.0, 0.0)),
              ("represented_fraction", "represented fraction (largest width)", "magma", (0.0, 1.0)),
              ("overlap_times_m", "mean sq. overlap × m (largest width)", "magma", None)]
    panels = [p for p in panels if p[0] in ph["maps"]]
    fig = phase_figure(ph, panels)
    for ax in fig.axes[: len(panels)]:  # the heatmaps (their colorbars come after)
        ax.set_yticks(range(len(ph["values"][1])), [f"{th.alpha_paper(a):g}" for a in ph["values"][1]], fontsize=7)
        ax.set_ylabel("α_paper = 1 + a")
    fig.suptitle(f"superposition, width exponent over (weight_decay, α_paper) at the last recorded step; "
                 f"{_budget_text(fixed, e)}; widths {min(e['sweep']['width'])}..{max(e['sweep']['width'])}; "
                 "* = cell with unconverged runs", fontsize=8)
    save(fig, figure)
    n = int(fixed["n_features"])
    strong = [c for c in ph["cells"] if np.isclose(c["weight_decay"], -1.0) and c.get("fitted") is not None]
    widths = sorted(set(float(w) for w in df.width))
    for c in strong:
        c["_widths"] = widths
    fig = strong_vs_alpha(strong, fixed, n)
    fig.axes[0].set_title(f"strong regime (wd = −1): width exponent vs α_paper, last recorded step\n"
                          f"{_budget_text(fixed, e)}; widths {widths[0]:g}..{widths[-1]:g}", fontsize=8)
    save(fig, figure.with_name("strong_vs_alpha.png"))
    print(f"{'wd':>6} {'a':>6} {'α_paper':>7} {'fitted [95% CI]':>26} {'theory':>7} {'flag':>4} regime; branches")
    for c in ph["cells"]:
        f = c.get("fitted")
        fs = f"{f:+.3f} [{c['ci_low']:+.3f}, {c['ci_high']:+.3f}]" if f is not None else "—"
        ts = f"{c['theory']:+.3f}" if c["theory"] is not None else "—"
        br = ", ".join(f"{k} {v:+.2f}" for k, v in {a["label"]: a["slope"] for a in c.get("alternatives") or []}.items() if k != "geometric (1/m)")
        print(f"{c['weight_decay']:6.2f} {c['alpha']:6.3f} {th.alpha_paper(c['alpha']):7.3f} {fs:>26} {ts:>7} "
              f"{c.get('n_flagged', 0):4d} {c['regime']}; {br}")


def budget(out: Path, figure: Path) -> None:
    """Strong-regime (wd < 0) width exponent at every recorded step, per alpha, with convergence flags."""

    store = ResultStore(out)
    meta = store.read_meta()
    model = get_model(meta["experiment"]["model"])
    fixed, e = _fixed(meta), meta["experiment"]
    df = store.load()
    if "weight_decay" in df:
        df = df[df.weight_decay.astype(float) < 0]
    alphas = sorted(set(df.alpha.astype(float))) if "alpha" in df else [float(fixed["alpha"])]
    steps = sorted(set(int(s) for s in df.steps))
    fig, (ax,) = new_figure(size=(6.0, 4.2))
    print(f"{'a':>6} {'α_paper':>7} {'steps':>6} {'fitted [95% CI]':>26} {'unconverged':>11} {'overlap exp.':>12}")
    for k, a in enumerate(alphas):
        rows = []
        for s_ in steps:
            where = {"steps": s_}
            if "alpha" in df:
                where["alpha"] = a
            ent = evaluate_check(df, model, fixed, {"name": f"a={a:g}, steps={s_}", "axis": "width", "where": where}, n_boot=1000)
            ovl = evaluate_check(df, model, fixed, {"name": "ovl", "axis": "width", "where": where,
                                                    "metric": "mean_sq_overlap"}, n_boot=0)
            if ent.get("fitted") is None:
                continue
            rows.append((s_, ent["fitted"], ent["ci_low"], ent["ci_high"], ent["n_flagged"], ent["n_runs"]))
            print(f"{a:6.3f} {th.alpha_paper(a):7.3f} {s_:6d} {ent['fitted']:+.3f} [{ent['ci_low']:+.3f}, {ent['ci_high']:+.3f}]"
                  f" {ent['n_flagged']:5d}/{ent['n_runs']:<5d} {ovl.get('fitted') or float('nan'):+12.3f}")
        if not rows:
            continue
        r = np.array(rows, float)
        c = f"C{k % 10}"
        ax.errorbar(r[:, 0], -r[:, 1], yerr=[r[:, 1] - r[:, 2], r[:, 3] - r[:, 1]], fmt="-o", color=c, ms=4, capsize=2,
                    label=f"α_paper = {th.alpha_paper(a):g}")
        flagged = r[:, 4] > 0
        ax.plot(r[flagged, 0], -r[flagged, 1], "x", color="k", ms=8)
    ax.axhline(1.0, color="k", lw=0.8, ls="--", label="geometric branch 1")
    ax.plot([], [], "x", color="k", label="some width unconverged at that step")
    ax.set_xscale("log")
    ax.set_xlabel("recorded training step (one schedule of the given horizon)")
    ax.set_ylabel("width exponent of the loss, −d log L / d log m")
    ax.set_title(f"strong regime (wd = −1): width exponent vs budget; {_budget_text(fixed, e)}", fontsize=8)
    ax.legend(fontsize=7)
    save(fig, figure)


def overlap(out: Path, figure: Path) -> None:
    """Per-run distribution of squared row overlaps (strong runs, last step) vs the Welch bound and random vectors."""
    from toyscale.models.superposition import ANTIPODAL_COS

    store = ResultStore(out)
    meta = store.read_meta()
    fixed, e = _fixed(meta), meta["experiment"]
    df = store.load()
    df = df[df.steps == df.steps.max()]
    if "weight_decay" in df:
        df = df[np.isclose(df.weight_decay.astype(float), -1.0)]
    n = int(fixed["n_features"])
    alphas = sorted(set(df.alpha.astype(float)))
    if len(alphas) > 3:
        alphas = [alphas[0], alphas[len(alphas) // 2], alphas[-1]]
    fig, axes = new_figure(len(alphas), size=(4.6, 4.0))
    ms = np.geomspace(df.width.min(), df.width.max(), 50)
    print(f"{'a':>6} {'m':>4} {'mean/Welch':>10} {'mean*m':>7} {'median':>9} {'rand med':>9} {'q90':>7} {'rand q90':>8} "
          f"{'q99':>7} {'rand q99':>8} {'antipodal':>9} {'rand anti':>9}")
    for ax, a in zip(axes, alphas):
        sel = df[np.isclose(df.alpha.astype(float), a)]
        g = sel.groupby("width")[["mean_sq_overlap", "sq_overlap_median", "sq_overlap_q90", "sq_overlap_q99",
                                  "antipodal_fraction"]].mean()
        x = g.index.to_numpy(float)
        for col, c, q in (("sq_overlap_median", "C0", 0.5), ("sq_overlap_q90", "C1", 0.9), ("sq_overlap_q99", "C2", 0.99)):
            ax.plot(x, g[col], "o-", color=c, ms=4, label=f"measured {col.replace('sq_overlap_', '')}")
            ax.plot(ms, th.random_sq_overlap_quantile(q, ms), "--", color=c, lw=0.9, label=f"random unit vectors, {q:g}")
        ax.plot(x, g["mean_sq_overlap"], "s-", color="k", ms=4, label="measured mean")
        ax.plot(ms, th.welch_bound(n, ms), ":", color="k", lw=1.2, label="Welch bound (least possible mean)")
        ax.plot(ms, 1 / ms, "--", color="k", lw=0.8, label="random unit vectors, mean 1/m")
        log_axes(ax, "width m", "squared row overlap cos²(W_i, W_j)")
        ax.set_title(f"α_paper = {th.alpha_paper(a):g} (a = {a:g}), wd = −1, last step", fontsize=8)
        for m_, r in g.iterrows():
            print(f"{a:6.3f} {m_:4d} {r.mean_sq_overlap / th.welch_bound(n, m_):10.2f} {r.mean_sq_overlap * m_:7.2f} "
                  f"{r.sq_overlap_median:9.2e} {th.random_sq_overlap_quantile(0.5, m_):9.2e} {r.sq_overlap_q90:7.3f} "
                  f"{th.random_sq_overlap_quantile(0.9, m_):8.3f} {r.sq_overlap_q99:7.3f} {th.random_sq_overlap_quantile(0.99, m_):8.3f} "
                  f"{r.antipodal_fraction:9.2e} {th.random_antipodal_fraction(m_, ANTIPODAL_COS):9.2e}")
    axes[0].legend(fontsize=6)
    fig.suptitle(f"squared row overlaps per run (seed mean) vs Welch bound and random unit vectors\n{_budget_text(fixed, e)}",
                 fontsize=8)
    save(fig, figure)


SUBCOMMANDS = {"phase": phase, "curves": curves, "grid": grid, "budget": budget, "overlap": overlap}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("what", choices=tuple(SUBCOMMANDS))
    ap.add_argument("dir", help="results directory of a superposition run")
    ap.add_argument("--figure", help="output PNG (default: DIR/figures/superposition_{phase,curves}.png)")
    args = ap.parse_args(argv)
    fig = Path(args.figure or Path(args.dir) / "figures" / f"superposition_{args.what}.png")
    SUBCOMMANDS[args.what](Path(args.dir), fig)
    print(f"wrote {fig}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
