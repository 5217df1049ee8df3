"""Validation of a fitted law: held-out extrapolation error, goodness of fit, range sensitivity."""

from __future__ import annotations

import numpy as np

from toyscale.fit._basic import offset_fit, fit_offset_power_law, fit_power_law

#: number of fitted parameters of each law
N_PARAMS = {"power": 2, "offset": 3}


def _curve(x, y):
    """Sort by ``x`` and average ``y`` over repeated ``x`` (a long table of seeds, say)."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    ux, inv = np.unique(x, return_inverse=True)
    if len(ux) == len(x):
        o = np.argsort(x)
        return x[o], y[o]
    return ux, np.bincount(inv, weights=y) / np.bincount(inv)


def _fit_predict(law, x, y, x_new):
    if law == "power":
        s, A = fit_power_law(x, y)
        return A * np.asarray(x_new, float) ** s
    s, A, E = fit_offset_power_law(x, y)
    return E + A * np.asarray(x_new, float) ** s


def heldout_error(x, y, law: str = "power", n_holdout: int = 1) -> dict:
    """Fit on all but the ``n_holdout`` largest x, report the relative error on the held-out points.

    ``rel_error = |prediction - y| / y`` per held-out point and its maximum. This is the
    extrapolation check of Caballero et al. 2022 ("Broken Neural Scaling Laws"): a law that
    only interpolates fails it. Repeated x values are averaged first (so every row at a held-out
    x is held out). Needs at least ``n_holdout + 3`` distinct x (else ``None``).
    """
    x, y = _curve(x, y)
    if len(x) < n_holdout + 3:
        return {"heldout_x": [], "heldout_rel_error": None}
    pred = _fit_predict(law, x[:-n_holdout], y[:-n_holdout], x[-n_holdout:])
    err = np.abs(pred - y[-n_holdout:]) / np.abs(y[-n_holdout:])
    return {"heldout_x": x[-n_holdout:].tolist(), "heldout_rel_error": float(err.max())}


def goodness_of_fit(y, y_hat) -> dict:
    """RMS of log residuals and R^2 in log space (the scale the slope lives on)."""
    r = np.log(np.asarray(y, float)) - np.log(np.asarray(y_hat, float))
    ly = np.log(np.asarray(y, float))
    ss = np.sum((ly - ly.mean()) ** 2)
    return {"rms_log_residual": float(np.sqrt(np.mean(r**2))), "r2_log": float(1 - np.sum(r**2) / ss) if ss > 0 else None}


def local_slopes(x, y, window: int = 3) -> list:
    """Log-log least-squares slope over each run of ``window`` consecutive distinct x values.

    Repeated x values are averaged first, so no window is a vertical stack of points.
    """
    x, y = _curve(x, y)
    return [fit_power_law(x[i:i + window], y[i:i + window])[0] for i in range(len(x) - window + 1)]


def _half_fit(law, x, y):
    """Slope of ``law`` on one half range and its standard error, or ``(None, None, reason)``.

    A half fit is identified only when it has at least two more distinct points than the law
    has parameters, its exponent is not on an end of the search interval, the power term is
    present (A > 0), and the Gauss-Newton covariance of the fit is finite. The standard error
    returned includes any misfit of the law to the half (it is estimated from the residuals).
    """
    n, p = len(x), N_PARAMS[law]
    if n < p + 2:
        return None, None, f"{n} points for a {p}-parameter law"
    lx = np.log(x)
    if law == "power":
        s, A = fit_power_law(x, y)
        r = np.log(y) - np.log(A) - s * lx
        se = float(np.sqrt(np.sum(r**2) / (n - 2) / np.sum((lx - lx.mean()) ** 2)))
        return s, se, None
    a, A, E, at_bound = offset_fit(x, y)
    if at_bound:
        return None, None, f"exponent on the search bound ({-a:.3g})"
    if not A > 0:
        return None, None, "no power-law term (A = 0)"
    f = x ** (-a)
    r = (E + A * f) / y - 1.0
    J = np.stack([1.0 / y, f / y, -A * lx * f / y], axis=1)  # d r / d (E, A, a)
    with np.errstate(all="ignore"):
        try:
            cov = np.linalg.inv(J.T @ J) * (np.sum(r**2) / (n - 3))
        except np.linalg.LinAlgError:
            cov = np.full((3, 3), np.nan)
    if not (np.isfinite(cov[2, 2]) and cov[2, 2] >= 0):
        return None, None, "exponent not identified (singular fit)"
    return -a, float(np.sqrt(cov[2, 2])), None


def range_sensitivity(x, y, law: str = "power", threshold: float = 0.1) -> dict:
    """Does the fitted exponent depend on the fit range? Fit the lower and upper halves apart.

    Returns the two half-range slopes (``slope_lower``, ``slope_upper``) with Gauss-Newton
    standard errors (``slope_lower_se``, ``slope_upper_se``), the windowed local slopes across
    the range, and ``range_sensitive = |slope_upper - slope_lower| > threshold``. A
    pre-asymptotic curve (a crossover, a plateau) shows up here before it shows up in the CI.

    Repeated x values are averaged first. A half whose fit is not identified (fewer than
    parameters + 2 distinct points, exponent on the search bound, no power term) gives ``None``
    for its slope and a reason in ``range_note``; ``range_sensitive`` is then ``None`` (not
    determined), never a flag raised by an estimate the data do not support.
    """
    if law not in N_PARAMS:
        raise ValueError(f"law must be 'power' or 'offset', got {law!r}")
    x, y = _curve(x, y)
    out = {"local_slopes": local_slopes(x, y) if len(x) >= 3 else []}
    none = dict(slope_lower=None, slope_upper=None, slope_lower_se=None, slope_upper_se=None, range_sensitive=None)
    if len(x) < 6:
        out.update(none, range_note=f"{len(x)} distinct x values; at least 6 needed")
        return out
    h = len(x) // 2
    lo, lo_se, why_lo = _half_fit(law, x[: h + 1], y[: h + 1])
    hi, hi_se, why_hi = _half_fit(law, x[h - 1:], y[h - 1:])
    out.update(none, slope_lower=lo, slope_upper=hi, slope_lower_se=lo_se, slope_upper_se=hi_se)
    if lo is None or hi is None:
        notes = [f"{k} half not determined: {w}" for k, w in (("lower", why_lo), ("upper", why_hi)) if w]
        out["range_note"] = "; ".join(notes)
        return out
    out["range_sensitive"] = bool(abs(hi - lo) > threshold)
    return out
