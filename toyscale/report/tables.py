"""Markdown tables of evaluated checks, frontiers and frontier maps (from their JSON entries)."""

from __future__ import annotations

import math

import numpy as np


def fmt_slope(x, nd: int = 3) -> str:
    """``+0.123`` or ``—`` for a missing or non-finite number."""
    return "—" if x is None or (isinstance(x, float) and not math.isfinite(x)) else f"{x:+.{nd}f}"


def table(entries: list[dict]) -> str:
    """Markdown table of check entries (JSON form): per check, regime, theory slope vs fitted
    slope with its interval, and two separate verdicts: |fitted - theory| within the check's
    tolerance, and the theory inside the interval. A ``valid fit`` column appears when some fit
    is invalid (too short a range, or the metric at the floor: no verdicts, the slope shown; a theory
    curve is scored all the same, since it needs no slope)."""
    entries = [e.to_json() if hasattr(e, "to_json") else e for e in entries]
    flag = any(e.get("n_flagged") for e in entries)
    curve = any("curve_rel_error" in e for e in entries)
    head = ("| check | slice | regime | axis | theory | fitted [95% CI] | within tolerance | theory in CI | points "
            "| fit range | held-out err | range-sensitive |")
    alts = any(e.get("agrees_with") for e in entries)
    inval = any(e.get("valid") is False for e in entries)
    head += (" flagged runs |" if flag else "") + (" curve err median / max |" if curve else "") + (" agrees with |" if alts else "")
    head += " valid fit |" if inval else ""
    lines = [head, "|" + "---|" * (12 + flag + curve + alts + inval)]
    for e in entries:
        ci = f" [{fmt_slope(e['ci_low'])}, {fmt_slope(e['ci_high'])}]" if e.get("fitted") is not None and e.get("ci_low") is not None else ""
        agrees = {True: "yes", False: "NO", None: "—"}[e.get("agrees")]
        in_ci = {True: "yes", False: "no", None: "—"}[e.get("theory_in_ci")]
        fr = "—" if not e.get("fit_range") else f"{e['fit_range'][0]:g}–{e['fit_range'][1]:g}"
        line = (f"| {e['name']} | {e.get('slice') or '—'} | {e['regime']} | {e['axis']} | {fmt_slope(e['theory'])} | "
                f"{fmt_slope(e.get('fitted'))}{ci}{' (median)' if e.get('statistic') == 'median' else ''} | {agrees} | {in_ci} | {e['n_points']} | {fr} | "
                f"{'—' if e.get('heldout_rel_error') is None else format(e['heldout_rel_error'], '.1%')} | "
                f"{ {True: 'yes', False: 'no', None: '—'}[e.get('range_sensitive')] } |")
        if flag:
            line += f" {e.get('n_flagged', 0)} of {e.get('n_runs', 0)} |"
        if curve:
            line += (f" {format(e['curve_rel_error_median'], '.1%')} / {format(e['curve_rel_error'], '.1%')} |"
                     if 'curve_rel_error' in e else " — |")
        if alts:
            line += f" {', '.join(e.get('agrees_with') or ['—'])} |"
        if inval:
            line += (" yes |" if e.get("valid", True) else
                     " NO (see below; the curve is still scored) |" if "curve_rel_error" in e else " NO (see below) |")
        lines.append(line)
    return "\n".join(lines)


def frontier_table(frontiers: list[dict]) -> str:
    """Markdown table of compute-optimal frontiers: theory vs fitted eta and xi."""
    frontiers = [f.to_json() if hasattr(f, "to_json") else f for f in frontiers]
    lines = ["| frontier | regime | method | eta theory | eta fitted [95% CI] | xi theory | xi fitted [95% CI] | points "
             "| window spread eta / xi |",
             "|---|---|---|---|---|---|---|---|---|"]
    for f in frontiers:
        for m in f.get("methods", []):
            def ci(k):
                v = m.get(k)
                if v is None:
                    return "—"
                lo, hi = m.get(f"{k}_ci") or (None, None)
                return f"{v:.3f}" + (f" [{lo:.3f}, {hi:.3f}]" if lo is not None else "")

            def spread(m):
                w = m.get("window_spread")
                return "—" if not w else f"{w['eta']:.3f} / {w['xi']:.3f}"
            lines.append(f"| {f['name']} | {f['regime']} | {m['method']} | {fmt_slope(f.get('eta_theory'))} | {ci('eta')} | "
                         f"{fmt_slope(f.get('xi_theory'))} | {ci('xi')} | {m.get('n_points', 0)} | {spread(m)} |")
    return "\n".join(lines)


def frontier_map_table(f: dict) -> str:
    """Markdown summary of a frontier map: per cell, theory vs measured eta and xi."""
    f = f.to_json() if hasattr(f, "to_json") else f
    o1, o2 = f["over"]
    lines = [f"| {o1} | {o2} | regime | eta theory | eta envelope | eta parabola | xi theory | xi envelope | xi parabola |",
             "|---|---|---|---|---|---|---|---|---|"]
    m = {k: np.asarray(v, float) for k, v in f["maps"].items()}

    def g(x):
        return "—" if not np.isfinite(x) else f"{x:.3f}"

    for i, a in enumerate(f["values"][0]):
        for j, b in enumerate(f["values"][1]):
            lines.append(f"| {a:g} | {b:g} | {f['regimes'][i][j] or '—'} | {g(m['eta_theory'][i, j])} | {g(m['eta'][i, j])} | "
                         f"{g(m['eta_parabola'][i, j])} | {g(m['xi_theory'][i, j])} | {g(m['xi'][i, j])} | {g(m['xi_parabola'][i, j])} |")
    r = m["eta_residual"][np.isfinite(m["eta_residual"])]
    rx = m["xi_residual"][np.isfinite(m["xi_residual"])]
    if r.size:
        lines.append(f"\nTheory - measured over {r.size} cells with a theory: eta median {np.median(r):+.3f} "
                     f"(max |.| {np.max(np.abs(r)):.3f}); xi median {np.median(rx):+.3f} (max |.| {np.max(np.abs(rx)):.3f}).")
    return "\n".join(lines)
