"""Smoothly broken power laws (Caballero, Gupta, Rish & Krueger 2022, "Broken Neural Scaling Laws").

    y = c + b x^(-c0) prod_i (1 + (x / d_i)^(1 / f_i))^(-c_i f_i)

Each break i at scale d_i changes the log-log slope by -c_i over a transition of sharpness f_i;
far past the last break the slope is -(c0 + sum c_i). With ``offset=True`` the constant c is fitted
(a plateau); otherwise c = 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import least_squares


@dataclass(frozen=True)
class BrokenFit:
    """Fitted broken power law. ``slopes`` are the asymptotic log-log slopes of each segment."""

    c: float
    b: float
    c0: float
    breaks: tuple  # ((d_i, c_i, f_i), ...)
    cost: float

    @property
    def slopes(self) -> list:
        out, s = [-self.c0], -self.c0
        for _, ci, _ in self.breaks:
            s -= ci
            out.append(s)
        return out

    def predict(self, x):
        return broken_power_law(x, self.c, self.b, self.c0, self.breaks)


def broken_power_law(x, c, b, c0, breaks):
    """Evaluate the smoothly broken power law at ``x``."""
    x = np.asarray(x, float)
    logy = np.log(b) - c0 * np.log(x)
    for d, ci, f in breaks:  # log(1 + (x/d)^(1/f)) = softplus(log(x/d) / f), overflow-free
        logy = logy - ci * f * np.logaddexp(0.0, np.log(x / d) / f)
    return c + np.exp(np.clip(logy, -700, 700))


def fit_broken_power_law(x, y, n_breaks: int = 1, offset: bool = False, n_starts: int = 8, seed: int = 0) -> BrokenFit:
    """Least squares on log y over (log b, c0, log d_i, c_i, log f_i [, log c]), several starts.

    Break positions start at quantiles of log x; the best of ``n_starts`` trust-region fits wins.
    """
    x, y = np.asarray(x, float), np.asarray(y, float)
    lx, ly = np.log(x), np.log(y)
    rng = np.random.default_rng(seed)

    def unpack(p):
        lb, c0 = p[0], p[1]
        br = tuple((np.exp(p[2 + 3 * i]), p[3 + 3 * i], np.exp(p[4 + 3 * i])) for i in range(n_breaks))
        c = np.exp(p[-1]) if offset else 0.0
        return c, np.exp(lb), c0, br

    def resid(p):
        c, b, c0, br = unpack(p)
        pred = broken_power_law(x, c, b, c0, br)
        return np.log(np.maximum(pred, 1e-300)) - ly

    best = None
    s0 = np.polyfit(lx, ly, 1)[0]
    for k in range(n_starts):
        p = [0.0, -s0 * (1.0 if k == 0 else rng.uniform(0.5, 1.5))]
        qs = np.sort(rng.uniform(0.2, 0.8, n_breaks)) if k else np.linspace(0.3, 0.7, n_breaks)
        for q in qs:
            p += [np.quantile(lx, q), rng.normal(0, 0.5), np.log(rng.uniform(0.05, 1.0))]
        if offset:
            p += [np.log(max(y.min() * 0.5, 1e-12))]
        p[0] = ly[0] + p[1] * lx[0]  # log b: pass through the first point
        r = least_squares(resid, np.array(p, float), method="trf", max_nfev=4000)
        if best is None or r.cost < best.cost:
            best = r
    c, b, c0, br = unpack(best.x)
    return BrokenFit(c=float(c), b=float(b), c0=float(c0), breaks=tuple(tuple(float(v) for v in t) for t in br),
                     cost=float(best.cost))
