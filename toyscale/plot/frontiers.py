"""Compute-optimal frontier figures, drawn from the stored result (``frontiers.json`` entry)."""

from __future__ import annotations

import numpy as np

from toyscale.plot.style import colorbar_for, figure, log_axes

#: Line styles of :class:`~toyscale.theory.base.Overlay` names.
STYLES = {"dashed": "--", "dotted": ":", "solid": "-"}


def draw_overlays(ax, overlays, xname: str, yname: str, xlim, ylim, legend: bool = False) -> None:
    """Draw a theory's overlay lines (JSON form: ``{"label", "style", xname: [...], yname: [...]}``)
    on a map whose axes are the parameters ``xname`` and ``yname``; the view stays ``xlim x ylim``."""
    for ov in overlays:
        if xname in ov and yname in ov:
            ax.plot(ov[xname], ov[yname], color="w", lw=1.0, ls=STYLES.get(ov.get("style"), "--"),
                    label=ov.get("label") or None)
    if overlays:
        ax.set_xlim(*xlim)
        ax.set_ylim(*ylim)
        if legend and any(ov.get("label") for ov in overlays):
            leg = ax.legend(fontsize=5, loc="upper right", framealpha=0.5)
            leg.get_frame().set_facecolor("0.4")


def frontier_figure(entry):
    """Training curves L(C) per size (colour = size, colorbar), the IsoFLOP envelope and the
    fitted frontier with the theory's slope. ``entry``: a frontier result or its JSON entry."""
    from matplotlib import colormaps

    entry = entry.to_json() if hasattr(entry, "to_json") else entry
    curves = {float(n): (np.asarray(c, float), np.asarray(l, float)) for n, (c, l) in entry.get("curves", {}).items()}
    fig, (ax,) = figure()
    sizes = sorted(curves)
    cmap = colormaps["viridis"]
    if sizes:
        norm = colorbar_for(fig, ax, cmap, sizes[0], sizes[-1], entry["size"], log=sizes[0] > 0)
    for n in sizes:
        C, L = curves[n]
        o = np.argsort(C)
        ax.plot(C[o], L[o], "-", color=cmap(norm(n)), lw=0.8)
    env = entry.get("envelope")
    m = next((m for m in entry.get("methods", []) if m.get("method") == "envelope" and m.get("eta") is not None), None)
    if env is not None and m is not None:
        ok = np.asarray(env["interior"], bool)
        C, Ls = np.asarray(env["C"], float)[ok], np.asarray(env["L"], float)[ok]
        ax.plot(C, Ls, "o", color="C3", ms=3, label="envelope (interior optimum)")
        a = np.exp(np.mean(np.log(Ls)) + m["eta"] * np.mean(np.log(C)))
        ax.plot(C, a * C ** (-m["eta"]), "-", color="C1", label=f"fit: eta {m['eta']:.3f}, xi {m['xi']:.3f}")
        if entry.get("eta_theory") is not None:
            ax.plot(C, a * C ** (-m["eta"]) * (C / C[0]) ** (m["eta"] - entry["eta_theory"]), "--", color="k", lw=1,
                    label=f"theory eta {entry['eta_theory']:.3f}")
        ax.legend(fontsize=7)
    log_axes(ax, "compute C", entry["metric"])
    ax.set_title(f"{entry['name']}: compute-optimal frontier ({entry['regime']})\n{entry.get('slice') or 'whole sweep'}",
                 fontsize=8)
    return fig


def frontier_map_figure(f):
    """Maps of measured eta and xi (envelope), the theory's, and theory - measured, over the
    ``over`` grid, with the lines the model's theory asks for (``overlays``, white; e.g. PLRF's
    phase boundaries) and a legend naming them. Cells where the theory is open are blank in the
    theory and residual panels. ``f``: a frontier-map result or its JSON entry."""
    f = f.to_json() if hasattr(f, "to_json") else f
    o1, o2 = f["over"]
    v1, v2 = (np.asarray(v, float) for v in f["values"])
    m = {k: np.asarray(v, float) for k, v in f["maps"].items()}

    def edges(v):
        if len(v) == 1:
            return np.array([v[0] - 0.5, v[0] + 0.5])
        mid = (v[1:] + v[:-1]) / 2
        return np.concatenate([[v[0] - (mid[0] - v[0])], mid, [v[-1] + (v[-1] - mid[-1])]])

    e1, e2 = edges(v1), edges(v2)
    panels = [("eta", "eta_theory", "eta_residual"), ("xi", "xi_theory", "xi_residual")]
    big, flat = figure(3, size=(13 / 3, 7.4 / 2), nrows=2)
    grid = flat.reshape(2, 3)
    for r, (meas, th, res) in enumerate(panels):
        fin = np.concatenate([m[meas][np.isfinite(m[meas])], m[th][np.isfinite(m[th])]])
        lim = (fin.min(), fin.max()) if fin.size else (0, 1)
        rl = np.nanmax(np.abs(m[res])) if np.isfinite(m[res]).any() else 1.0
        for c, (k, title, cmap, kw) in enumerate([
                (meas, f"measured {meas} (IsoFLOP envelope)", "viridis", dict(vmin=lim[0], vmax=lim[1])),
                (th, f"theory {meas} (blank: open)", "viridis", dict(vmin=lim[0], vmax=lim[1])),
                (res, f"theory - measured {meas}", "coolwarm", dict(vmin=-rl, vmax=rl))]):
            ax = grid[r, c]
            im = ax.pcolormesh(e1, e2, m[k].T, cmap=cmap, shading="flat", **kw)
            draw_overlays(ax, f.get("overlays", []), o1, o2, (e1[0], e1[-1]), (e2[0], e2[-1]), legend=(r, c) == (0, 1))
            if m[k].size <= 200:
                for i in range(len(v1)):
                    for j in range(len(v2)):
                        if np.isfinite(m[k][i, j]):
                            ax.text(v1[i], v2[j], f"{m[k][i, j]:.2f}", ha="center", va="center", fontsize=5)
            ax.set_xlabel(o1)
            ax.set_ylabel(o2)
            ax.set_title(title, fontsize=8)
            big.colorbar(im, ax=ax, shrink=0.85)
    where = ", ".join(f"{k}={v}" for k, v in f.get("where", {}).items())
    big.suptitle(f"{f['name']}: compute-optimal exponents per ({o1}, {o2}) cell, {f['size']} x {f['time']} grid"
                 + (f"; {where}" if where else "") + ("; white lines: theory overlays" if f.get("overlays") else ""), fontsize=9)
    return big
