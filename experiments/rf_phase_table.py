"""|theory - measured| of the compute-optimal exponents per PLRF phase, from a stored frontier map.

    python experiments/rf_phase_table.py results/rf_phase_diagram_plrf-quick [more dirs ...] [--drift]

Reads ``frontiers.json`` (the ``over = ["alpha", "beta"]`` map of ``rf_phase_diagram*.toml``)
and prints, per phase, the number of cells and the median and max of ``|theory - measured|`` for
eta (envelope and parabola estimators) and xi (envelope), as a markdown table. ``--drift``
also refits the IsoFLOP envelope of every cell from the stored rows on the smaller and on the
larger half of the widths (``toyscale.analysis.frontiers.envelope``): where ``|theory - eta|``
shrinks from the small to the large half, the gap is a finite-size effect.
"""

import json
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np


def table(path) -> str:
    maps = [m for m in json.loads(Path(path, "frontiers.json").read_text()) if m.get("over") == ["alpha", "beta"]]
    lines = [f"**{path}**", "",
             "| phase | cells | median abs(d eta) envelope | median abs(d eta) parabola | max abs(d eta) | median abs(d xi) |",
             "|---|---|---|---|---|---|"]
    for m in maps:
        per = defaultdict(lambda: defaultdict(list))
        mp = m["maps"]
        for i, row in enumerate(m["regimes"]):
            for j, reg in enumerate(row):
                th_e, th_x = mp["eta_theory"][i][j], mp["xi_theory"][i][j]
                if th_e is None:
                    continue
                for k, key in (("eta", "eta"), ("eta_p", "eta_parabola")):
                    if mp[key][i][j] is not None:
                        per[reg][k].append(abs(mp[key][i][j] - th_e))
                if mp["xi"][i][j] is not None and th_x is not None:
                    per[reg]["xi"].append(abs(mp["xi"][i][j] - th_x))
        order = ["phase Ia", "phase Ib", "phase Ic", "phase II", "phase III", "phase IVa", "phase IVb"]
        for reg in sorted(per, key=lambda r: order.index(r) if r in order else 99):
            d = per[reg]
            med = lambda k: f"{np.median(d[k]):.3f}" if d[k] else "—"  # noqa: E731
            lines.append(f"| {reg} | {len(d['eta'])} | {med('eta')} | {med('eta_p')} | "
                         f"{max(d['eta']):.3f} | {med('xi')} |")
    return "\n".join(lines)


def drift(path) -> str:
    """Per cell: eta of the envelope from the smaller and the larger half of the widths."""
    import toyscale
    from toyscale.analysis.frontiers import envelope
    from toyscale.theory.random_features import plrf_frontier

    df = toyscale.load(path).table
    df = df[df["status"] == "ok"]
    widths = sorted(set(df["width"]))
    mid = widths[len(widths) // 2]
    halves = {"small": [w for w in widths if w <= mid], "large": [w for w in widths if w >= mid]}
    lines = [f"**{path}: envelope eta on the smaller / larger half of the widths (split at {mid:g})**", "",
             "| alpha | beta | phase | eta theory | eta small | eta large | abs(d eta) small -> large |", "|---|---|---|---|---|---|---|"]
    for (a, b), g in df.groupby(["alpha", "beta"]):
        ph, _, eta_t = plrf_frontier(a, b)
        out = {}
        for name, ws in halves.items():
            m = g[g["width"].isin(ws)].groupby(["width", "steps"])["loss"].mean()
            curves = {float(N): (np.asarray(c.index.get_level_values("steps"), float) * N, c.to_numpy())
                      for N, c in m.groupby(level="width")}
            C, L, _, ok = envelope(curves)
            out[name] = -np.polyfit(np.log(C[ok]), np.log(L[ok]), 1)[0] if ok.sum() >= 3 else float("nan")
        lines.append(f"| {a:g} | {b:g} | {ph} | {eta_t:.3f} | {out['small']:.3f} | {out['large']:.3f} | "
                     f"{abs(out['small'] - eta_t):.3f} -> {abs(out['large'] - eta_t):.3f} |")
    return "\n".join(lines)


if __name__ == "__main__":
    dirs = [p for p in sys.argv[1:] if not p.startswith("--")]
    for p in dirs:
        print(table(p), end="\n\n")
        if "--drift" in sys.argv:
            print(drift(p), end="\n\n")
