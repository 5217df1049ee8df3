"""Validation of a fitted law: held-out extrapolation error, goodness of fit, range sensitivity."""

from __future__ import annotations

import numpy as np

from toyscale.fit._basic import fit_offset_power_law, fit_power_law


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
    only interpolates fails it. Needs at least ``n_holdout + 3`` points (else ``None``).
    """
    x, y = np.asarray(x, float), np.asarray(y, float)
    o = np.argsort(x)
    x, y = x[o], y[o]
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
    """Log-log least-squares slope over each run of ``window`` consecutive points."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    o = np.argsort(x)
    x, y = x[o], y[o]
    return [fit_power_law(x[i:i + window], y[i:i + window])[0] for i in range(len(x) - window + 1)]


def range_sensitivity(x, y, law: str = "power", threshold: float = 0.1) -> dict:
    """Does the fitted exponent depend on the fit range? Fit the lower and upper halves apart.

    Returns the two half-range slopes, the windowed local slopes across the range, and
    ``range_sensitive = |slope_upper - slope_lower| > threshold``. A pre-asymptotic curve (a
    crossover, a plateau) shows up here before it shows up in the CI.
    """
    x, y = np.asarray(x, float), np.asarray(y, float)
    o = np.argsort(x)
    x, y = x[o], y[o]
    out = {"local_slopes": local_slopes(x, y) if len(x) >= 3 else []}
    if len(x) < 6:
        out.update(slope_lower=None, slope_upper=None, range_sensitive=None)
        return out
    h = len(x) // 2
    fit = (lambda xx, yy: fit_power_law(xx, yy)[0]) if law == "power" else (lambda xx, yy: fit_offset_power_law(xx, yy)[0])
    lo, hi = fit(x[: h + 1], y[: h + 1]), fit(x[h - 1:], y[h - 1:])
    out.update(slope_lower=lo, slope_upper=hi, range_sensitive=bool(abs(hi - lo) > threshold))
    return out
