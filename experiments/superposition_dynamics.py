"""Superposition along the training-steps axis, from stored results: converged width exponents,
time exponents and the interference profile over frequency rank.

    python experiments/superposition_dynamics.py converged DIR [DIR ...] [--json FILE] [--figure FILE]
    python experiments/superposition_dynamics.py dynamics DIR [--figure FILE] [--json FILE]
    python experiments/superposition_dynamics.py profile DIR [DIR ...] [--figure FILE]

``converged``: for every run (width, seed) of each slice (every parameter but width, seed and
steps fixed), the offset law ``L(m, t) = L_inf(m) + A(m) t^-c`` is fitted along its recorded
steps (:func:`toyscale.fit.fit_scaling`, law ``offset``: variable projection, ``c`` per run),
using only the steps past the warm-up's transient (:func:`toyscale.models.superposition.transient_steps`:
the status those rows have; stored rows of older runs are re-judged from their steps). The width
exponent of ``L_inf(m)`` is the log-log slope over the widths; its 95 % interval is the
percentile interval of the same slope over the bootstrap replicates of every width's fit
(seeds resampled when there are several, else the recorded steps). Beside it: the fixed-budget
exponent, the slope of the loss at the last recorded step (same bootstrap). With two or more
seeds both exponents are also printed seed by seed (a paired comparison: with two seeds the
percentile interval of ``L_inf`` spans little more than the two single-seed values). Rows at
95 % of the schedule or later are fitted too: the cosine decay's end lowers them, so ``L_inf`` is the loss
the *schedule* converges to, not the loss of infinite training at the peak rate.
A slice with fewer than four judged steps (a run that stored its last step only) gets the
fixed-budget exponent alone. ``--figure``: both exponents against ``alpha_paper``, one colour per
results directory (filled: ``L_inf``; open: fixed budget).

``dynamics``: the time exponent of every check along ``steps`` in the experiment's report
(``summary.json``: power law of the loss over the theory's window), drawn against ``alpha_paper`` for strong
and weak superposition, with ``t^-1`` (Chen, Chen, Liu & Gore 2026) and the data-dependent
``-a/(1+a)`` (:func:`toyscale.theory.superposition.time_exponent`); beside it, printed, the
offset law ``L_inf + A t^c`` over the same window (its exponent lands on the search bound where
the plateau is not reached).

``profile``: the binned interference profile ``I_k`` (``interference_b0..7``) against rank
``k/m`` at the last recorded step of the strong-regime rows, one line per (alpha, width), with
the flat (``n/m - 1``) and top-K predictions (:func:`toyscale.theory.superposition.profile_prediction`).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from toyscale.fit import fit_power_law, fit_scaling
from toyscale.jsonio import decode
from toyscale.models import superposition as sp
from toyscale.plot import figure as new_figure
from toyscale.plot import save
from toyscale.store import ResultStore
from toyscale.theory import superposition as th

#: Bootstrap replicates of each per-run fit.
N_BOOT = 400


def _rows(out: Path):
    store = ResultStore(out)
    meta = store.read_meta()
    df = store.load()
    fixed = {k: decode(v) for k, v in meta["experiment"]["params"].items()}
    for k, v in fixed.items():
        if k not in df:
            df[k] = v
    return meta, fixed, df


def _slices(df, keys):
    keys = [k for k in keys if k in df and df[k].nunique() > 1]
    if not keys:
        yield {}, df
        return
    for vals, sub in df.groupby(keys):
        vals = vals if isinstance(vals, tuple) else (vals,)
        yield dict(zip(keys, vals)), sub


def _interval(est, reps, level=0.95):
    reps = np.asarray([r for r in reps if np.isfinite(r)], float)
    if len(reps) < 20:
        return float("nan"), float("nan")
    q = (1 - level) / 2
    return float(np.quantile(reps, q)), float(np.quantile(reps, 1 - q))


def converged(dirs, json_out: Path | None, figure: Path | None = None) -> list[dict]:
    """One entry per slice: widths, L_inf per width, the width exponents and their intervals.

    A slice with fewer than four judged steps (e.g. a run that stored its last step only) gets
    the fixed-budget exponent alone, with ``width_exponent_inf`` null and the reason."""
    out = []
    for d in dirs:
        meta, fixed, df = _rows(Path(d))
        warm = int(fixed["warmup"])
        usable = df[~df["status"].isin(["diverged", "nonfinite"])]
        for where, sub in _slices(usable, ["alpha", "weight_decay", "n_features", "lr", "batch_size"]):
            if float(sub["weight_decay"].iloc[0]) >= 0:
                continue  # strong regime only
            widths = sorted(set(sub["width"].astype(float)))
            seeds = sorted(set(sub["seed"]))
            steps = sorted(set(sub["steps"].astype(float)))
            judged = [s for s, tr in zip(steps, sp.transient_steps([int(s) for s in steps], warm)) if not tr]
            entry = {"dir": str(d), "name": meta["name"], "where": {k_: float(v) for k_, v in where.items()},
                     "alpha": float(sub["alpha"].iloc[0]), "alpha_paper": 1.0 + float(sub["alpha"].iloc[0]),
                     "seeds": len(seeds), "widths": widths, "steps_fitted": judged,
                     "final_step": steps[-1], "horizon": int(fixed["horizon"]),
                     "batch_size": int(float(sub["batch_size"].iloc[0])), "width_exponent_inf": None,
                     "width_exponent_inf_ci": [None, None], "n_widths_inf": 0}
            if len(widths) < 3:
                out.append({**entry, "reason": f"{len(widths)} widths"})
                continue
            last = sub[np.isclose(sub["steps"].astype(float), steps[-1])]
            Lfin = np.array([[float(last[np.isclose(last["width"].astype(float), m) & (last["seed"] == s)]["loss"].iloc[0])
                              for s in seeds] for m in widths])
            fin = fit_scaling(np.array(widths), Lfin, law="power", n_boot=1000)
            entry.update(L_final=Lfin.mean(axis=1).tolist(), width_exponent_final=fin.slope,
                         width_exponent_final_ci=[fin.ci_low, fin.ci_high])
            if len(judged) < 4:
                entry["reason"] = f"{len(judged)} judged step{'s' * (len(judged) != 1)}: L_inf not fitted"
                out.append(entry)
                continue
            Einf, Eboot, cs, Ys = [], [], [], []
            for m in widths:
                run = sub[np.isclose(sub["width"].astype(float), m)]
                Y = np.array([[float(run[(run["seed"] == s) & np.isclose(run["steps"].astype(float), t)]["loss"].iloc[0])
                               for s in seeds] for t in judged])
                Ys.append(Y)
                f = fit_scaling(np.array(judged), Y, law="offset", n_boot=N_BOOT)
                Einf.append(f.params["E"])
                Eboot.append([b[1]["E"] for b in f.boot])
                cs.append(-f.slope)
            Einf = np.array(Einf)
            ok = Einf > 0
            x = np.array(widths)
            k = min(len(b) for b in Eboot)
            reps = []
            for j in range(k):
                e = np.array([b[j] for b in Eboot])
                if np.all(e[ok] > 0) and ok.sum() >= 3:
                    reps.append(fit_power_law(x[ok], e[ok])[0])
            slope_inf = fit_power_law(x[ok], Einf[ok])[0] if ok.sum() >= 3 else float("nan")
            entry.update(L_inf=Einf.tolist(), time_exponent_c=cs, width_exponent_inf=slope_inf,
                         width_exponent_inf_ci=list(_interval(slope_inf, reps)), n_widths_inf=int(ok.sum()))
            if len(seeds) >= 2:  # paired, seed by seed: L_inf exponent and fixed-budget exponent of each seed
                per = []
                for j, s_ in enumerate(seeds):
                    e = np.array([fit_scaling(np.array(judged), Y[:, [j]], law="offset", n_boot=0).params["E"] for Y in Ys])
                    g = fit_power_law(x[e > 0], e[e > 0])[0] if (e > 0).sum() >= 3 else float("nan")
                    per.append({"seed": int(s_), "width_exponent_inf": g, "width_exponent_final": fit_power_law(x, Lfin[:, j])[0]})
                entry["per_seed"] = per
            out.append(entry)
    print(f"{'experiment':<34} {'a_paper':>7} {'seeds':>5} {'steps fitted':>16} {'L_inf exponent [95% CI]':>28} "
          f"{'fixed-budget [95% CI]':>26} {'difference':>10}")
    for e in out:
        if "width_exponent_final" not in e:
            print(f"{e['name']:<34} {e['alpha_paper']:>7.2f} skipped: {e['reason']}")
            continue
        flo, fhi = e["width_exponent_final_ci"]
        fixed_s = f"{e['width_exponent_final']:>+8.3f} [{flo:+.3f}, {fhi:+.3f}]"
        if e["width_exponent_inf"] is None:
            print(f"{e['name']:<34} {e['alpha_paper']:>7.2f} {e['seeds']:>5} {'step ' + format(e['final_step'], 'g'):>16} "
                  f"{'(' + e['reason'] + ')':>40} {fixed_s}")
            continue
        lo, hi = e["width_exponent_inf_ci"]
        print(f"{e['name']:<34} {e['alpha_paper']:>7.2f} {e['seeds']:>5} {e['steps_fitted'][0]:>7g}..{e['steps_fitted'][-1]:<7g} "
              f"{e['width_exponent_inf']:>+8.3f} [{lo:+.3f}, {hi:+.3f}] ({e['n_widths_inf']} m) {fixed_s} "
              f"{e['width_exponent_inf'] - e['width_exponent_final']:>+10.3f}")
        for p_ in e.get("per_seed", []):
            print(f"{'':<34} {'':>7} {'seed ' + str(p_['seed']):>5} {'':>16} {p_['width_exponent_inf']:>+8.3f} {'':>25} "
                  f"{p_['width_exponent_final']:>+8.3f} {'':>17} {p_['width_exponent_inf'] - p_['width_exponent_final']:>+10.3f}")
    if json_out:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(json.dumps(out, indent=1))
    if figure:
        _converged_figure(out, figure)
    return out


def _converged_figure(entries: list[dict], figure: Path) -> None:
    """Width exponents against alpha_paper: L_inf(m) (filled) beside the fixed budget (open), 95 % CI."""
    fig, (ax,) = new_figure(size=(6.4, 4.4))
    names = list(dict.fromkeys(Path(e["dir"]).name for e in entries))  # one colour per results directory
    for e in entries:
        if "width_exponent_final" not in e:
            continue
        nm = Path(e["dir"]).name
        i = names.index(nm)
        col = f"C{i % 10}"
        x = e["alpha_paper"] + 0.03 * (i - (len(names) - 1) / 2)
        lab = f"{nm}: {e['horizon']} steps, batch {e['batch_size']}, {e['seeds']} seed{'s' * (e['seeds'] > 1)}"
        lo, hi = e["width_exponent_final_ci"]
        f = e["width_exponent_final"]
        ax.errorbar([x], [f], yerr=[[f - lo], [hi - f]], fmt="o", mfc="white", color=col, ms=4, capsize=2, label=lab)
        if e["width_exponent_inf"] is not None:
            lo, hi = e["width_exponent_inf_ci"]
            g = e["width_exponent_inf"]
            yerr = [[max(g - lo, 0.0)], [max(hi - g, 0.0)]] if np.isfinite(lo) else None
            ax.errorbar([x + 0.012], [g], yerr=yerr, fmt="o", color=col, ms=4, capsize=2)
    ax.axhline(-1.0, color="k", ls="--", lw=1, label="geometric 1/m")
    h, lab = ax.get_legend_handles_labels()
    keep = dict(zip(lab, h))
    ax.legend(keep.values(), keep.keys(), fontsize=5.5, loc="lower left")
    ax.set_xlabel("alpha_paper = 1 + a")
    ax.set_ylabel("width exponent of the loss")
    ax.set_title("strong regime: L_inf(m) of L = L_inf + A t^-c (filled) vs the last recorded step (open); 95 % CI",
                 fontsize=7)
    save(fig, figure)


def dynamics(d: Path, figure: Path, json_out: Path | None) -> list[dict]:
    """Time exponents of the ``steps`` checks in ``d/summary.json``, drawn against alpha_paper."""
    summ = json.loads((d / "summary.json").read_text())
    _, _, df = _rows(d)
    rows = []
    for e in summ["checks"]:
        if e["axis"] != "steps" or e["metric"] != "loss":
            continue
        w = {k: decode(v) for k, v in e["where"].items()}
        r = {"name": e["name"], "weight_decay": w["weight_decay"], "alpha": w["alpha"], "width": w["width"],
             "regime": e["regime"], "fitted": e.get("fitted"), "ci": [e.get("ci_low"), e.get("ci_high")],
             "theory": e["theory"], "agrees_with": e.get("agrees_with"), "n_points": e["n_points"],
             "fit_range": e.get("fit_range"), "data_law": th.time_exponent(w["alpha"])}
        if e.get("fit_range"):  # the excess over a fitted plateau: L(t) = L_inf + A t^s, same window
            run = df
            for k, v in w.items():
                run = run[np.isclose(run[k].astype(float), float(v))]
            lo, hi = e["fit_range"]
            run = run[(run["steps"] >= lo) & (run["steps"] <= hi)]
            Y = run.pivot_table(index="steps", columns="seed", values="loss").sort_index()
            f = fit_scaling(Y.index.to_numpy(float), Y.to_numpy(float), law="offset", n_boot=N_BOOT)
            r.update(offset_slope=f.slope, offset_ci=[f.ci_low, f.ci_high], L_inf=f.params["E"])
        rows.append(r)
    fig, (ax,) = new_figure()
    marks = {16: "o", 64: "s"}
    for strong, col, lab in ((True, "C0", "strong (wd = -1)"), (False, "C3", "weak (wd = 0.15)")):
        for r in rows:
            if (r["weight_decay"] < 0) != strong or r["fitted"] is None:
                continue
            x = 1 + r["alpha"] + (0.02 if r["width"] > 16 else -0.02)
            lo, hi = r["ci"]
            ax.errorbar([x], [-r["fitted"]], yerr=[[-r["fitted"] + hi], [-lo + r["fitted"]]], fmt=marks.get(r["width"], "o"),
                        color=col, ms=4, capsize=2, label=f"{lab}, m = {r['width']:g}")
    ap = np.linspace(1.1, 2.05, 50)
    ax.axhline(1.0, color="k", ls="--", lw=1, label="t^-1 (Chen, Chen, Liu & Gore 2026)")
    ax.plot(ap, (ap - 1) / ap, "k:", lw=1, label="data-dependent (a_p - 1)/a_p")
    h, lab = ax.get_legend_handles_labels()
    keep = dict(zip(lab, h))
    ax.legend(keep.values(), keep.keys(), fontsize=6)
    ax.set_xlabel("alpha_paper = 1 + a")
    ax.set_ylabel("time exponent c of L(t) ~ t^-c")
    ax.set_title(f"{d.name}: time exponents (95 % CI, bootstrap over steps)", fontsize=8)
    save(fig, figure)
    print(f"{'check':<22} {'c of L itself [95% CI]':>26} {'theory':>7} {'data-law':>8} agrees with (report)"
          f"{'':>24} {'c of L - L_inf [95% CI]':>26} {'L_inf':>9}")
    for r in rows:
        f = r["fitted"]
        s = "not fitted" if f is None else f"{-f:+.3f} [{-r['ci'][1]:+.3f}, {-r['ci'][0]:+.3f}]"
        t = "" if r["theory"] is None else f"{-r['theory']:+.3f}"
        dl = "" if r["data_law"] is None else f"{-r['data_law']:+.3f}"
        li = "" if r.get("L_inf") is None else f"{r['L_inf']:.2e}"
        p = "" if "offset_slope" not in r else f"{-r['offset_slope']:+.3f} [{-r['offset_ci'][1]:+.3f}, {-r['offset_ci'][0]:+.3f}]"
        print(f"{r['name']:<22} {s:>26} {t:>7} {dl:>8} {', '.join(r['agrees_with'] or []):<44} {p:>26} {li:>9}")
    if json_out:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(json.dumps(rows, indent=1))
    return rows


def profile(dirs, figure: Path) -> None:
    """Binned interference profile vs rank / m at the last step, strong-regime rows: one panel
    per results directory, one line per (alpha, width)."""
    nb = len(th.INTERFERENCE_BINS) - 1
    fig, axes = new_figure(ncols=len(dirs))
    edges = np.array(th.INTERFERENCE_BINS[:-1] + (16.0,))
    centers = np.sqrt(np.maximum(edges[:-1], 1 / 16) * edges[1:])
    for ax, d in zip(axes, dirs):
        meta, fixed, df = _rows(Path(d))
        last = df[np.isclose(df["steps"].astype(float), df["steps"].astype(float).max())]
        last = last[(last["weight_decay"].astype(float) < 0) & last["status"].isin(["ok", "unconverged"])]
        groups = list(last.groupby([last["alpha"].astype(float), last["width"].astype(float)]))
        for i, ((a, m), run) in enumerate(groups):
            n = int(fixed["n_features"])
            cols = [run[f"interference_b{j}"].to_numpy(float) for j in range(nb)]
            prof = np.array([np.nanmean(c) if np.isfinite(c).any() else np.nan for c in cols])
            flat = n / m - 1.0
            col = f"C{i % 10}"
            ax.plot(centers, prof / flat, "o-", color=col, ms=3, lw=1, label=f"a_p = {1 + a:g}, m = {m:g}")
            topk = th.bin_profile(th.profile_prediction("top-K", m, n, a, fixed.get("freq_law", "power"),
                                                        fixed.get("freq_scale", 1000.0)), m)
            ax.plot(centers, topk / flat, ":", color=col, lw=1)
        ax.axhline(1.0, color="k", ls="--", lw=1, label="flat: n/m - 1")
        ax.set_xscale("log")
        ax.set_xlabel("frequency rank k / m (bin centres)")
        ax.set_ylabel("I_k / (n/m - 1)")
        ax.set_title(f"{meta['name']}: n = {fixed['n_features']}, step {int(df['steps'].max())}\n"
                     f"dotted: top-K construction of the same a, m", fontsize=8)
        ax.legend(fontsize=6, ncol=2)
    save(fig, figure)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("converged")
    c.add_argument("dirs", nargs="+", type=Path)
    c.add_argument("--json", type=Path)
    c.add_argument("--figure", type=Path, help="draw both width exponents against alpha_paper")
    d = sub.add_parser("dynamics")
    d.add_argument("dir", type=Path)
    d.add_argument("--figure", type=Path, default=Path("figures/superposition_dynamics/time_exponents.png"))
    d.add_argument("--json", type=Path)
    p = sub.add_parser("profile")
    p.add_argument("dirs", nargs="+", type=Path)
    p.add_argument("--figure", type=Path, default=Path("figures/superposition_dynamics/profile.png"))
    a = ap.parse_args(argv)
    if a.cmd == "converged":
        converged(a.dirs, a.json, a.figure)
    elif a.cmd == "dynamics":
        dynamics(a.dir, a.figure, a.json)
    else:
        profile(a.dirs, a.figure)


if __name__ == "__main__":
    main()
