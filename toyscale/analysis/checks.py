"""Checks: the slope of a metric along one axis of a slice, fitted with a seed-bootstrap interval
and held against the model's theory.

Fit-range rule: a check fits the swept values of its axis that lie in ``fit_range`` if the
experiment gives one, else in the theory's validity interval (``Prediction.valid``: before
finite-size plateaus). Rows are fitted when their status is one the check accepts (default: the
model's *usable* statuses -- ``ok`` and e.g. ``unconverged``, whose metrics are valid measurements
at their budget); an axis value where some seed has no accepted row is dropped and counted. At
least 3 values are needed for a fit. The measured slope is fitted whether or not the theory
predicts an exponent; agreement is judged only where it does.

Validity guard (every model): a slope is an exponent only if something scales. A fit is marked
``valid = False``, with the reasons in ``invalid_reasons``, and gets no verdicts (``agrees`` and
``theory_in_ci`` are ``None``; the fitted slope is still shown) when

* its fitted values span less than ``min_decades`` decades of the axis (check option, default
  :data:`MIN_DECADES` = 1; 0 turns the rule off), or
* the metric sits at the floor inside the fit window: some seed's metric is ``<= floor`` (check
  option, default 0: zero error) at an axis value in the window. Such values cannot enter a
  log-log fit; fitting the rest is a fit "before a wall" (e.g. a memory that recalls every token
  beyond some width). Narrow ``fit_range`` to the scaling part, and give it a decade.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping

import numpy as np

from toyscale.analysis.slicing import same_value, select, slice_label, slice_stats, theory_slice
from toyscale.fit import fit_scaling, goodness_of_fit, heldout_error, range_sensitivity, seed_center
from toyscale.analysis.result import EntryResult
from toyscale.jsonio import decode
from toyscale.protocol import DEFAULT_TOLERANCE, OK

#: Least span of the fitted axis values, in decades, for a fit to count as an exponent.
MIN_DECADES = 1.0
#: Flagged runs listed per check (all are counted).
MAX_FLAGGED_LISTED = 50


@dataclass(frozen=True)
class CheckResult(EntryResult):
    """One evaluated check: exactly what ``summary.json`` holds for it (:meth:`to_json`), with the
    drawable data (``points``: per axis value the centre and its spread, whether it was fitted,
    the theory curve there) so figures are drawn from the stored result without refitting.

    Main fields (``result["fitted"]`` etc. reach every field of the JSON entry): ``name``,
    ``axis``, ``metric``, ``regime``, ``theory`` (predicted slope or ``None``), ``fitted``,
    ``ci_low``, ``ci_high``, ``agrees`` (within ``tolerance``), ``theory_in_ci``, ``valid`` and
    ``invalid_reasons`` (the validity guard of the module docstring).
    """


def _points(sel, axis: str, metric: str, xs_all, fit_range, median: bool, curve) -> dict:
    """Per finite axis value with a positive centre: ``x``, ``center`` (seed mean or median),
    ``err_low``/``err_high`` (s.e.m., or the quartiles' distance for the median), ``fitted``
    (inside the fit range) and ``theory_curve`` (the theory's curve there, if any: ``curve`` maps
    each finite axis value to it)."""
    out = {"x": [], "center": [], "err_low": [], "err_high": [], "fitted": []}
    for x in xs_all:
        if not math.isfinite(x):
            continue
        v = sel[same_value(sel[axis], x)][metric].to_numpy(float)
        v = v[np.isfinite(v)]
        if not len(v):
            continue
        c = float(np.median(v) if median else np.mean(v))
        if c <= 0:
            continue
        if median:
            lo, hi = c - float(np.quantile(v, 0.25)), float(np.quantile(v, 0.75)) - c
        else:
            lo = hi = float(np.std(v) / math.sqrt(len(v)))
        out["x"].append(float(x))
        out["center"].append(c)
        out["err_low"].append(lo)
        out["err_high"].append(hi)
        out["fitted"].append(bool(fit_range is None or fit_range[0] <= x <= fit_range[1]))
    if curve is not None and out["x"]:
        out["theory_curve"] = [float(curve[x]) for x in out["x"]]
    return out


def evaluate_check(df, model, fixed: Mapping, check: Mapping, n_boot: int = 1000) -> CheckResult:
    """Fit one check on the rows of ``df`` and compare with the model's theory.

    The slope of ``metric`` (power law ``A x^s`` or offset law ``E + A x^s``, least squares in
    log-log space of the seed mean or median) is fitted over the fit range, with a seed-bootstrap
    interval (:func:`toyscale.fit.fit_scaling`). Where the theory predicts a slope, ``agrees``
    says ``|fitted - theory| <= tolerance`` and ``theory_in_ci`` whether the interval contains
    it: two statements, both reported. A theory curve (``Prediction.curve``) is scored: relative
    error against the measured centre at every axis value of ``Prediction.curve_range`` (the
    fit range when ``None``), max (``curve_rel_error``) and median (``curve_rel_error_median``).
    """
    axis, where = check["axis"], check["where"]
    sel = select(df, where)
    accepted = tuple(check.get("statuses") or model.usable_statuses())
    xs_all = sorted(set(float(x) for x in sel[axis]))
    s = theory_slice(fixed, where, axis, xs_all, slice_stats(sel, model, axis, xs_all, accepted),
                     metric=check.get("metric"), fit_range=check.get("fit_range"))
    pred = model.theory.predict(axis, s)
    metric = check.get("metric") or pred.metric
    law = pred.law
    lo, hi = check.get("fit_range") or pred.valid
    entry = {"name": check["name"], "model": model.name, "axis": axis, "regime": pred.regime,
             "theory": pred.slope, "metric": metric, "law": law, "where": check["where"],
             "slice": slice_label(where), "theory_note": pred.note,
             "tolerance": check.get("tolerance", DEFAULT_TOLERANCE),
             "statuses_fitted": list(accepted), "statistic": check.get("statistic", "mean")}
    if pred.alternatives:  # recorded even when no fit is possible; scored below when one is
        entry["alternatives"] = [{"label": lab, "slope": float(sl), "agrees": None, "in_ci": None}
                                 for lab, sl in pred.alternatives.items()]
    seeds = sorted(set(sel["seed"]))
    floor = float(check.get("floor", 0.0))
    xs, Ys, dropped, at_floor = _fit_table(sel, axis, metric, xs_all, (lo, hi), accepted, seeds, floor)
    entry.update(_status_counts(sel, axis, accepted))
    entry.update(n_points=len(xs), n_seeds=len(seeds), dropped=dropped,
                 fit_range=[min(xs), max(xs)] if xs else None,
                 fit_range_rule="check.fit_range" if check.get("fit_range") else "theory validity interval")
    center = lambda Y: seed_center(Y, entry["statistic"])  # noqa: E731  (the curve that is fitted)
    curve = None
    if pred.curve is not None:  # evaluated once, at every finite axis value of the slice
        fin = [x for x in xs_all if math.isfinite(x)]
        curve = dict(zip(fin, np.asarray(pred.curve(np.array(fin)), float).reshape(-1))) if fin else {}
        entry.update(_curve_score(pred, curve, sel, axis, metric, xs_all, (lo, hi), accepted, seeds, center))
    entry["points"] = _points(sel, axis, metric, xs_all, entry["fit_range"], entry["statistic"] == "median", curve)
    entry.update(_validity(xs, at_floor, floor, float(check.get("min_decades", MIN_DECADES)), axis, metric))
    if len(xs) < 3:
        entry.update(fitted=None, ci_low=None, ci_high=None, agrees=None,
                     reason=f"only {len(xs)} usable axis values in [{lo:g}, {hi:g}] (dropped: {dropped})")
        return CheckResult(entry)
    fit = fit_scaling(np.array(xs), np.array(Ys), law=law, n_boot=n_boot if law == "power" else min(n_boot, 200),
                      statistic=entry["statistic"])
    entry.update(fitted=fit.slope, ci_low=fit.ci_low, ci_high=fit.ci_high, fit_params=fit.params,
                 ci_level=fit.level, bootstrap=fit.resampled)
    ymean = center(np.array(Ys))
    entry.update(heldout_error(xs, ymean, law=law, n_holdout=1))
    entry.update(goodness_of_fit(ymean, fit.predict(np.array(xs))))
    entry.update(range_sensitivity(xs, ymean, law=law, threshold=entry["tolerance"]))
    _verdicts(entry, fit, pred)
    return CheckResult(entry)


def _curve_score(pred, curve, sel, axis, metric, xs_all, fit_window, accepted, seeds, center) -> dict:
    """Relative error ``|curve - centre| / centre`` of the theory curve over ``pred.curve_range``
    (the fit range when ``None``), at every axis value where every seed has an accepted row with
    a positive metric and the curve is finite: ``curve_rel_error`` (max),
    ``curve_rel_error_median``, ``curve_range`` (the values scored) and ``curve_points``
    (their number); nothing when no value qualifies."""
    window = pred.curve_range if pred.curve_range is not None else fit_window
    xs, Ys, _, _ = _fit_table(sel, axis, metric, xs_all, window, accepted, seeds, positive_axis=False)
    if not xs:
        return {}
    theory = np.array([curve[x] for x in xs], float)
    ok = np.isfinite(theory)
    if not ok.any():
        return {}
    ymean = center(np.array(Ys))
    rel = (np.abs(theory - ymean) / ymean)[ok]
    xo = np.array(xs)[ok]
    return {"curve_rel_error": float(np.max(rel)), "curve_rel_error_median": float(np.median(rel)),
            "curve_range": [float(xo.min()), float(xo.max())], "curve_points": int(ok.sum())}


def _fit_table(sel, axis: str, metric: str, xs_all, window, accepted, seeds, floor: float = 0.0,
               positive_axis: bool = True):
    """``(xs, Ys, dropped, at_floor)``: the axis values inside ``window`` where every seed has an
    accepted row with a metric above ``floor`` (and positive), the ``(len(xs), len(seeds))``
    table, the values dropped, and among them those dropped because a seed's metric is at the
    floor (``<= max(floor, 0)``). With ``positive_axis`` (every fitted law is a law in log x or
    x^-b) axis values ``<= 0`` are never fitted; a theory curve is scored at them."""
    xs, Ys, dropped, at_floor = [], [], [], []
    for x in xs_all:
        if not (window[0] <= x <= window[1]) or not math.isfinite(x) or (positive_axis and x <= 0):
            continue
        rows = sel[same_value(sel[axis], x)]
        ok = rows["status"].isin(accepted).all() and len(rows) == len(seeds)
        vals = rows.set_index("seed")[metric].reindex(seeds).to_numpy(float)
        low = vals <= max(floor, 0.0)
        if not ok or not np.all(vals > 0) or low.any():
            dropped.append(x)
            if np.any(low & rows.set_index("seed")["status"].reindex(seeds).isin(accepted).to_numpy()):
                at_floor.append(x)
            continue
        xs.append(x)
        Ys.append(vals)
    return xs, Ys, dropped, at_floor


def _validity(xs, at_floor, floor: float, min_decades: float, axis: str, metric: str) -> dict:
    """``valid`` and ``invalid_reasons`` of a fit over ``xs`` (module docstring: the span of the
    fitted values in decades, ``log10(max/min)``, at least ``min_decades``; no value of the fit
    window with the metric at the floor)."""
    reasons = []
    span = math.log10(max(xs) / min(xs)) if xs and min(xs) > 0 else 0.0
    if min_decades > 0 and span < min_decades - 1e-9:
        reasons.append(f"the fitted {axis} values span {span:.2f} decades ({len(xs)} values), fewer than "
                       f"min_decades = {min_decades:g}")
    if at_floor:
        reasons.append(f"{metric} at the floor (<= {floor:g}) at {axis} = {', '.join(f'{x:g}' for x in at_floor)} "
                       f"inside the fit window: a fit before a wall, not an exponent")
    return {"valid": not reasons, "invalid_reasons": reasons, "span_decades": span}


def _status_counts(sel, axis: str, accepted) -> dict:
    """Rows per status in the slice and the flagged runs (accepted, but not ``ok``)."""
    counts = sel["status"].value_counts().to_dict()
    flagged = sel[sel["status"].isin([st for st in accepted if st != OK.name])]
    return {"n_runs": int(len(sel)), "status_counts": {k: int(v) for k, v in counts.items()},
            "n_flagged": int(len(flagged)),
            "flagged_runs": [{axis: decode(r[axis]), "seed": int(r["seed"]), "status": r["status"]}
                             for _, r in flagged.iterrows()][:MAX_FLAGGED_LISTED]}


def _verdicts(entry: dict, fit, pred) -> None:
    """Both statements for the theory slope and each alternative: ``|fitted - theory| <=
    tolerance`` (``agrees``) and the theory inside the interval (``theory_in_ci`` / ``in_ci``).
    An invalid fit (``entry["valid"]`` false) gets neither: its slope is not an exponent."""
    if not entry.get("valid", True):
        entry["agrees"] = None
        if pred.slope is not None:
            entry["theory_in_ci"] = None
        entry["reason"] = "invalid fit, no verdict: " + "; ".join(entry["invalid_reasons"])
        if pred.alternatives:
            entry["agrees_with"] = ["none (invalid fit)"]
        return
    if pred.slope is None:
        entry["agrees"] = None
        entry["reason"] = "theory predicts no exponent in this regime: measured slope only"
    else:
        entry["agrees"] = bool(abs(fit.slope - pred.slope) <= entry["tolerance"])
        entry["theory_in_ci"] = bool(fit.ci_low <= pred.slope <= fit.ci_high)
    if pred.alternatives:  # competing predictions: which one(s) the fit agrees with, or none
        for a in entry["alternatives"]:
            a.update(agrees=bool(abs(fit.slope - a["slope"]) <= entry["tolerance"]),
                     in_ci=bool(fit.ci_low <= a["slope"] <= fit.ci_high))
        entry["agrees_with"] = [a["label"] for a in entry["alternatives"] if a["agrees"]] or ["none"]
