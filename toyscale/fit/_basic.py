"""Core fits used by the report: pure power law, power law with offset, seed bootstrap."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import minimize_scalar, nnls


@dataclass(frozen=True)
class SlopeFit:
    """A fitted scaling law along one axis.

    Attributes:
      law: ``"power"`` (y = A x^slope) or ``"offset"`` (y = E + A x^slope).
      slope: fitted log-log exponent (negative for a decaying loss).
      ci_low, ci_high: bootstrap interval of ``slope`` at ``level``: with s >= 2 seeds,
        slope ± t_{s-1} · SE_boot · sqrt(s/(s-1)); with one seed, the percentile interval of
        a bootstrap over points.
      params: ``{"A": ..., "E": ...}`` (``E`` only for the offset law).
      params_ci: ``{name: (low, high)}`` bootstrap intervals of every entry of ``params`` at
        ``level``, by the same rule as the slope's (t interval with seeds, percentile with
        points), the lower end clipped at 0 (both coefficients are fitted as non-negative).
      n_points: number of x values fitted; ``fit_range``: (min x, max x) fitted.
      n_boot: bootstrap replicates; ``resampled``: ``"seeds"`` or ``"points"``.
      n_boot_at_bound: offset law: replicates whose exponent landed on an end of the search
        interval (not identified on that resample); when > 0 the slope interval reaches the
        bound only because the search stops there, so its end there is not determined.
    """

    law: str
    slope: float
    ci_low: float
    ci_high: float
    params: dict = field(default_factory=dict)
    n_points: int = 0
    fit_range: tuple = (np.nan, np.nan)
    level: float = 0.95
    n_boot: int = 0
    resampled: str = "seeds"
    boot: tuple = field(default=(), repr=False)  # bootstrap replicates (slope, params) for intervals
    params_ci: dict = field(default_factory=dict)
    n_boot_at_bound: int = 0

    def predict(self, x):
        """Evaluate the fitted law at ``x``."""
        x = np.asarray(x, dtype=float)
        return self.params.get("E", 0.0) + self.params["A"] * x**self.slope

    def prediction_interval(self, x, level: float | None = None):
        """Bootstrap interval of the fitted curve at ``x`` (e.g. extrapolated sizes).

        This is the interval of the *predicted seed-mean* value, from refitting on each
        bootstrap resample -- distinct from the parameter interval (``ci_low``, ``ci_high``).
        """
        level = self.level if level is None else level
        x = np.asarray(x, dtype=float)
        preds = np.array([p.get("E", 0.0) + p["A"] * x**s for s, p in self.boot])
        q = (1 - level) / 2
        return np.quantile(preds, q, axis=0), np.quantile(preds, 1 - q, axis=0)


def fit_power_law(x, y) -> tuple[float, float]:
    """Least squares on ``log y = log A + slope log x``; returns ``(slope, A)``.

    Ordinary least squares in log-log space (the maximum-likelihood fit under multiplicative
    log-normal noise). Requires ``y > 0`` and at least two distinct ``x`` (else ``ValueError``:
    a line through points at one abscissa has no slope).
    """
    lx, ly = np.log(np.asarray(x, float)), np.log(np.asarray(y, float))
    if len(np.unique(lx)) < 2:
        raise ValueError("fit_power_law needs at least 2 distinct x values")
    slope, intercept = np.polyfit(lx, ly, 1)
    return float(slope), float(np.exp(intercept))


#: lower end of the exponent search of the offset law (the upper end is ``a_max``)
A_MIN = 0.02


def _vp_residual(a, x, y):
    """Relative residual of the best non-negative (E, A) for exponent ``a`` (variable projection)."""
    M = np.stack([np.ones_like(x), x ** (-a)], axis=1) / y[:, None]
    coef, rnorm = nnls(M, np.ones_like(y))
    return rnorm, coef


def offset_fit(x, y, a_max: float = 6.0) -> tuple[float, float, float, bool]:
    """Variable-projection fit of ``y = E + A x^-a``; returns ``(a, A, E, at_bound)``.

    ``at_bound`` is true when the exponent estimate sits on an end of the search interval
    ``[A_MIN, a_max]`` (within 1e-4, far below the grid step): the data do not identify it.
    """
    x, y = np.asarray(x, float), np.asarray(y, float)
    grid = np.linspace(A_MIN, a_max, 300)
    res = [(_vp_residual(a, x, y)[0], a) for a in grid]
    i = int(np.argmin([r for r, _ in res]))
    lo, hi = grid[max(i - 1, 0)], grid[min(i + 1, len(grid) - 1)]
    opt = minimize_scalar(lambda a: _vp_residual(a, x, y)[0], bounds=(lo, hi), method="bounded",
                          options={"xatol": 1e-8})
    a = float(opt.x)
    E, A = _vp_residual(a, x, y)[1]
    return a, float(A), float(E), _on_bound(a, a_max)


def fit_offset_power_law(x, y, a_max: float = 6.0) -> tuple[float, float, float]:
    """Fit ``y = E + A x^(-a)`` by variable projection; returns ``(slope=-a, A, E)``.

    For each exponent ``a`` the linear coefficients ``(E, A) >= 0`` are the non-negative least
    squares solution of the relative residual ``(E + A x^-a - y) / y`` (a first-order log
    residual); ``a`` is found by a grid search on ``[0.02, a_max]`` then bounded Brent
    refinement. Separating the linear from the nonlinear parameters avoids the badly
    conditioned direct 3-parameter fit (Golub & Pereyra 1973; used for scaling laws by
    Open-Athena/scaling-law-analysis). When the data do not identify the exponent (a nearly
    flat curve, too few points) the estimate lands on an end of the search interval;
    :func:`toyscale.fit.range_sensitivity` reports such fits as not determined.
    """
    a, A, E, _ = offset_fit(x, y, a_max)
    return -a, A, E


def _fit(law, x, y):
    if law == "power":
        s, A = fit_power_law(x, y)
        return s, {"A": A}
    if law == "offset":
        s, A, E = fit_offset_power_law(x, y)
        return s, {"A": A, "E": E}
    raise ValueError(f"law must be 'power' or 'offset', got {law!r}")


STATISTICS = ("mean", "median")


def seed_center(Y, statistic: str = "mean") -> np.ndarray:
    """The curve fitted from an ``(n, s)`` table: mean or median over seeds of each row (NaN ignored)."""
    if statistic not in STATISTICS:
        raise ValueError(f"statistic must be one of {STATISTICS}, got {statistic!r}")
    return (np.nanmedian if statistic == "median" else np.nanmean)(np.asarray(Y, float), axis=1)


def fit_scaling(x, Y, law: str = "power", *, n_boot: int = 1000, level: float = 0.95, seed: int = 0,
                statistic: str = "mean") -> SlopeFit:
    """Fit a scaling law to the seed-mean (or seed-median) of ``Y`` and bootstrap its slope over seeds.

    Args:
      x: (n,) positive axis values.
      Y: (n, s) metric per axis value and seed (NaN where missing); the curve fitted is the
        mean over seeds of each row.
      law: ``"power"`` or ``"offset"``.
      n_boot: bootstrap replicates. With s >= 2 seeds the seeds (columns) are resampled with
        replacement -- each seed is one independent draw of the whole curve, so this keeps
        the correlation along x; with one seed the points are resampled instead.
      level: confidence level of the percentile interval.
      statistic: ``"mean"`` (default) or ``"median"`` over seeds, in the fit and in every
        bootstrap replicate. The median is the robust choice when a few seeds land in much worse
        states than the rest (e.g. bad local minima of a trained network): one such seed can
        move the mean by orders of magnitude. (Efron & Tibshirani 1993, *An Introduction to the
        Bootstrap*, ch. 6: bootstrap of any statistic, here resampling whole seeds.)

    Returns:
      :class:`SlopeFit`.
    """
    x = np.asarray(x, float)
    Y = np.asarray(Y, float).reshape(len(x), -1)
    order = np.argsort(x)
    x, Y = x[order], Y[order]
    y = seed_center(Y, statistic)
    slope, params = _fit(law, x, y)
    rng = np.random.default_rng(seed)
    s = Y.shape[1]
    boots = []
    if n_boot > 0:
        for _ in range(n_boot):
            if s >= 2:
                yb = seed_center(Y[:, rng.integers(0, s, s)], statistic)
                xb = x
            else:
                idx = np.sort(rng.integers(0, len(x), len(x)))
                xb, yb = x[idx], y[idx]
                if len(np.unique(xb)) < 3:  # distinct x, not rows: a table may repeat x values
                    continue
            if np.all(np.isfinite(yb)) and np.all(yb > 0):
                boots.append(_fit(law, xb, yb))
    lo, hi = seed_interval(slope, [b[0] for b in boots], s, level)
    params_ci = {}
    for k, v in params.items():
        plo, phi = seed_interval(v, [b[1][k] for b in boots], s, level)
        params_ci[k] = (max(plo, 0.0), phi)
    return SlopeFit(law=law, slope=slope, ci_low=lo, ci_high=hi, params=params, n_points=len(x),
                    fit_range=(float(x[0]), float(x[-1])), level=level, n_boot=len(boots),
                    resampled="seeds" if s >= 2 else "points", boot=tuple(boots), params_ci=params_ci,
                    n_boot_at_bound=sum(law == "offset" and _on_bound(-b[0]) for b in boots))


def _on_bound(a, a_max: float = 6.0) -> bool:
    return bool(a - A_MIN < 1e-4 or a_max - a < 1e-4)


def seed_interval(estimate, reps, s: int, level: float = 0.95) -> tuple[float, float]:
    """Bootstrap interval of one quantity from its replicates ``reps``.

    With ``s >= 2`` seeds (seeds resampled): ``estimate +- t_{s-1, (1+level)/2} * SE_boot *
    sqrt(s / (s - 1))`` (Efron & Tibshirani 1993, ch. 5 and 13: the bootstrap standard error of a
    mean of s draws is ``sqrt((s-1)/s)`` of the unbiased one; Student-t quantiles for few seeds).
    With ``s = 1`` (points resampled): the percentile interval. NaN with fewer than 2 replicates.
    """
    q = (1 - level) / 2
    if len(reps) < 2:
        return float("nan"), float("nan")
    if s >= 2:
        # Few seeds: a percentile interval under-covers (87.5 % at s = 8 in 200 replicates).
        # Use the bootstrap standard error, rescaled by sqrt(s/(s-1)) (the resampled mean's
        # variance is (s-1)/s of the unbiased one), with Student-t quantiles on s-1 dof.
        from scipy.stats import t as student_t

        se = np.std(reps, ddof=1) * np.sqrt(s / (s - 1))
        half = student_t.ppf(1 - q, s - 1) * se
        return float(estimate - half), float(estimate + half)
    lo, hi = np.quantile(reps, [q, 1 - q])
    return float(lo), float(hi)
