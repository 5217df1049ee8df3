"""Phase III of one-pass SGD: the expected loss split into forcing and kernel (SGD-noise) parts
across widths d, drawn from stored results (experiments/rf_de_sgd.py writes split.json).

    python experiments/rf_phase3_split_figure.py results/rf_de_sgd/split.json figures/rf_phase3_split

Three panels: (1) forcing and kernel parts, exact recursion (seed mean, markers) and
deterministic equivalent (lines), per d and at d = inf (latent features); (2) local slope of the
loss minus its d = inf value... of each part; (3) d x (part_d - part_inf): curves that collapse
mean a 1/d correction. Prints the numbers the text of docs/theory.md cites.
"""

import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def local_slope(t, y):
    lt, ly = np.log(t), np.log(np.abs(y))
    return np.exp(0.5 * (lt[1:] + lt[:-1])), np.diff(ly) / np.diff(lt)


def main(src, outdir):
    s = json.loads(Path(src).read_text())
    t = np.asarray(s["steps"], float)
    ds = [d for d in s["d"] if d != "inf"]
    inf = s["d"]["inf"]["exact"]
    fig, ax = plt.subplots(1, 3, figsize=(16, 4.6))
    cm = plt.get_cmap("viridis")
    report = {}
    for i, d in enumerate(ds):
        c = cm(i / max(1, len(ds) - 1))
        th, ex = s["d"][d]["theory"], s["d"][d]["exact"]
        ax[0].loglog(t, th["forcing"], "-", color=c, label=f"d={d} forcing")
        ax[0].loglog(t, th["kernel"], "--", color=c, label=f"d={d} kernel")
        ax[0].loglog(t, ex["forcing"], "o", ms=2.5, color=c)
        ax[0].loglog(t, ex["kernel"], "s", ms=2.5, color=c)
        dn = float(d)
        for part, ls in (("forcing", "-"), ("kernel", "--")):
            diff = dn * (np.asarray(th[part]) - np.asarray(inf[part]))
            ax[2].loglog(t, np.abs(diff), ls, color=c)
        tm, sl = local_slope(t, np.asarray(th["kernel"]))
        ax[1].semilogx(tm, sl, "--", color=c)
        tm, sl = local_slope(t, np.asarray(th["loss"]) - th["lstar"])
        ax[1].semilogx(tm, sl, "-", color=c)
        report[d] = {"kernel_over_forcing": dict(zip([10, 100, 1000], np.interp([10, 100, 1000], t, np.asarray(th["kernel"]) / np.asarray(th["forcing"])).tolist()))}
    ax[0].loglog(t, inf["forcing"], "k-", lw=1, label="d=inf forcing")
    ax[0].loglog(t, inf["kernel"], "k--", lw=1, label="d=inf kernel")
    tm, sl = local_slope(t, np.asarray(inf["loss"]))
    ax[1].semilogx(tm, sl, "k-", lw=1.5, label="loss, d=inf")
    tm, sl = local_slope(t, np.asarray(inf["kernel"]))
    ax[1].semilogx(tm, sl, "k--", lw=1.5, label="kernel part, d=inf")
    ax[1].axhline(-1.5, color="r", lw=0.8, ls=":", label="-(2 - 1/(2 alpha)) = -1.5")
    ax[1].axhline(-0.5, color="b", lw=0.8, ls=":", label="F_ac: -0.5")
    ax[0].set(xlabel="step t", ylabel="part of E L", title=f"phase III (alpha={s['alpha']}, beta={s['beta']}, v={s['latent_dim']}): "
              "lines DE, markers exact")
    ax[1].set(xlabel="step t", ylabel="local slope", ylim=(-2.5, 0.2), title="local slopes: L - L* (solid), kernel part (dashed)")
    ax[2].set(xlabel="step t", ylabel="d x |part_d - part_inf|", title="finite-d correction x d (DE): forcing solid, kernel dashed")
    ax[0].legend(fontsize=6, ncol=2)
    ax[1].legend(fontsize=7)
    fig.tight_layout()
    Path(outdir).mkdir(parents=True, exist_ok=True)
    fig.savefig(Path(outdir) / "split.png", dpi=120)
    # numbers for the text
    tm, sl = local_slope(t, np.asarray(inf["loss"]))
    for tt in (50, 120, 400, 1000, 10000):
        if tm.min() <= tt <= tm.max():
            print(f"d=inf: local slope of L at t~{tt}: {np.interp(np.log(tt), np.log(tm), sl):+.3f}")
    for d in ds:
        th = s["d"][d]["theory"]
        dn = float(d)
        for tt in (100, 1000, 10000):
            if t.min() <= tt <= t.max():
                fo = np.interp(tt, t, np.asarray(th["forcing"]) - np.asarray(inf["forcing"]))
                ke = np.interp(tt, t, np.asarray(th["kernel"]) - np.asarray(inf["kernel"]))
                print(f"d={d} t={tt}: d*(forcing_d - forcing_inf) = {dn * fo:.4g}, d*(kernel_d - kernel_inf) = {dn * ke:.4g}, "
                      f"kernel/forcing = {np.interp(tt, t, np.asarray(th['kernel']) / np.asarray(th['forcing'])):.3f}")
        w = (t >= 100) & (t <= 1e4)
        for part in ("forcing", "kernel"):
            diff = np.asarray(th[part]) - np.asarray(inf[part])
            if w.sum() > 2 and np.all(diff[w] > 0):
                print(f"d={d}: time slope of {part}_d - {part}_inf over t in [100, 1e4]: "
                      f"{np.polyfit(np.log(t[w]), np.log(diff[w]), 1)[0]:+.3f}")
        ex = s["d"][d]["exact"]
        rel = np.asarray(th["loss"]) / np.asarray(ex["loss"]) - 1
        print(f"d={d}: DE vs exact (seed mean of {ex['seeds']}) median |rel err| {np.median(np.abs(rel)):.4f}")


def collapse(s):
    """Spread of d x (part_d - part_inf) across d at t = 100, 1000, 10000 (max/min ratio)."""
    t = np.asarray(s["steps"], float)
    inf = s["d"]["inf"]["exact"]
    ds = [d for d in s["d"] if d != "inf"]
    for part in ("forcing", "kernel"):
        for tt in (100, 1000, 10000):
            if t.min() <= tt <= t.max():
                vals = [float(d) * np.interp(tt, t, np.asarray(s["d"][d]["theory"][part]) - np.asarray(inf[part])) for d in ds]
                print(f"{part}: d x (part_d - part_inf) at t={tt} over d={ds}: {np.round(vals, 4).tolist()} "
                      f"(max/min {max(vals) / min(vals):.3f})")


if __name__ == "__main__":
    collapse(json.loads(Path(sys.argv[1]).read_text()))
    main(sys.argv[1], sys.argv[2])
