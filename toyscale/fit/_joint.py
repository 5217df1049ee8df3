"""Joint law L(N, D) = E + A N^-a + B D^-b (Hoffmann et al. 2022, "Chinchilla", approach 3).

Two estimators, both in float64:

* :func:`fit_joint_huber` -- the Chinchilla recipe as replicated by Besiroglu et al. 2024
  (epoch-research/analyzing-chinchilla): minimise the **sum** of Huber losses (delta = 1e-3) of
  ``log L_hat - log L`` with ``log L_hat = LSE(a' - a log N, b' - b log D, e')``, L-BFGS-B from a
  grid of 4 500 starts, keep the best.
* :func:`fit_joint_vp` -- variable projection (Golub & Pereyra 1973): for fixed exponents (a, b)
  the coefficients (E, A, B) >= 0 are a non-negative least-squares problem in the relative
  residual ``(L_hat - L) / L``; the two exponents are searched on a grid and refined. Separating
  the linear from the nonlinear parameters avoids the badly conditioned 5-parameter search.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import minimize, nnls
from scipy.special import logsumexp


@dataclass(frozen=True)
class JointFit:
    """Fitted ``L = E + A N^-a + B D^-b``.

    Attributes:
      E, A, B, a, b: the law's parameters.
      objective: the estimator's final objective (Huber sum, or NNLS residual norm).
      method: ``"huber"`` or ``"vp"``.
      ci: ``{name: (low, high)}`` bootstrap intervals of the parameters (empty unless
        bootstrapped; see :func:`bootstrap_joint`).
      n_points: number of data points.
      n_boot: bootstrap resamples behind ``ci`` (0: none).
      interval: how ``ci`` was formed (``"t"`` or ``"percentile"``; empty without bootstrap).
    """

    E: float
    A: float
    B: float
    a: float
    b: float
    objective: float
    method: str
    ci: dict = field(default_factory=dict)
    n_points: int = 0
    n_boot: int = 0
    interval: str = ""

    def predict(self, N, D):
        """Evaluate the law at (N, D)."""
        N, D = np.asarray(N, float), np.asarray(D, float)
        return self.E + self.A * N ** (-self.a) + self.B * D ** (-self.b)

    def as_dict(self) -> dict:
        return {"E": self.E, "A": self.A, "B": self.B, "a": self.a, "b": self.b}


def chinchilla_starts() -> np.ndarray:
    """The 4 500-point start grid of the Chinchilla replication: (a', b', e', a, b).

    a', b' in {0, 5, ..., 25}; e' in {-1, -0.5, ..., 1}; exponents a, b in {0, 0.5, ..., 2}.
    """
    grid = itertools.product(np.arange(0, 30, 5.0), np.arange(0, 30, 5.0), np.arange(-1, 1.5, 0.5),
                             np.arange(0, 2.5, 0.5), np.arange(0, 2.5, 0.5))
    return np.array(list(grid), dtype=np.float64)


def huber(r, delta):
    """Huber function: r^2/2 for |r| <= delta, delta (|r| - delta/2) beyond."""
    ar = np.abs(r)
    return np.where(ar <= delta, 0.5 * r * r, delta * (ar - 0.5 * delta))


def huber_objective(theta, logN, logD, logL, delta=1e-3):
    """Sum of Huber terms of log L_hat - log L and its gradient, theta = (a', b', e', a, b)."""
    ap, bp, ep, a, b = theta
    t = np.stack([ap - a * logN, bp - b * logD, np.full_like(logN, ep)])
    lse = logsumexp(t, axis=0)
    r = lse - logL
    w = np.exp(t - lse)  # softmax weights: d lse / d t
    dh = np.clip(r, -delta, delta)  # Huber derivative
    g = np.array([np.sum(dh * w[0]), np.sum(dh * w[1]), np.sum(dh * w[2]),
                  np.sum(dh * w[0] * -logN), np.sum(dh * w[1] * -logD)])
    return float(np.sum(huber(r, delta))), g


def _theta_to_fit(theta, obj, n, method="huber"):
    ap, bp, ep, a, b = theta
    return JointFit(E=float(np.exp(ep)), A=float(np.exp(ap)), B=float(np.exp(bp)), a=float(a), b=float(b),
                    objective=float(obj), method=method, n_points=n)


def fit_joint_huber(N, D, L, *, delta: float = 1e-3, starts: np.ndarray | None = None,
                    maxiter: int = 1000) -> JointFit:
    """Chinchilla approach-3 fit: Huber(delta) on log-loss, L-BFGS-B from a grid of starts.

    Args:
      N, D, L: model sizes, training tokens, losses (1-D arrays).
      delta: Huber threshold on the log residual (1e-3 as in Hoffmann et al. 2022).
      starts: (k, 5) starting points (a', b', e', a, b); default :func:`chinchilla_starts`.
      maxiter: L-BFGS-B iteration cap per start.

    Returns:
      :class:`JointFit` of the best start (lowest summed Huber loss).
    """
    logN, logD, logL = np.log(N), np.log(D), np.log(L)
    starts = chinchilla_starts() if starts is None else np.asarray(starts, float)
    best = (np.inf, None)
    for s in starts:
        res = minimize(huber_objective, s, args=(logN, logD, logL, delta), jac=True, method="L-BFGS-B",
                       options={"maxiter": maxiter})
        if res.fun < best[0]:
            best = (res.fun, res.x)
    return _theta_to_fit(best[1], best[0], len(L))


def _vp_joint_residual(ab, N, D, L):
    a, b = ab
    M = np.stack([np.ones_like(N), N ** (-a), D ** (-b)], axis=1) / L[:, None]
    coef, rnorm = nnls(M, np.ones_like(L))
    return rnorm, coef


def fit_joint_vp(N, D, L, *, a_grid=None, b_grid=None, start=None) -> JointFit:
    """Joint law by variable projection: grid over (a, b), NNLS for (E, A, B), Nelder-Mead polish.

    Args:
      N, D, L: model sizes, training tokens, losses.
      a_grid, b_grid: exponent grids (default 0.05 ... 1.5, 59 points each).
      start: ``(a, b)`` to polish from instead of searching the grids (a bootstrap refit starts
        from the full-data estimate: a resample's optimum lies near it).

    Returns:
      :class:`JointFit` with ``objective`` the NNLS residual norm of the relative residual.
    """
    N, D, L = (np.asarray(v, float) for v in (N, D, L))
    a_grid = np.linspace(0.05, 1.5, 59) if a_grid is None else a_grid
    b_grid = np.linspace(0.05, 1.5, 59) if b_grid is None else b_grid
    # Scale N, D to order one so the coefficients are well conditioned (undone below).
    sN, sD = np.exp(np.mean(np.log(N))), np.exp(np.mean(np.log(D)))
    n, d = N / sN, D / sD
    if start is None:
        best = min(((_vp_joint_residual((a, b), n, d, L)[0], a, b) for a in a_grid for b in b_grid))[1:]
    else:
        best = tuple(float(v) for v in start)
    res = minimize(lambda ab: _vp_joint_residual(ab, n, d, L)[0], best, method="Nelder-Mead",
                   options={"xatol": 1e-9, "fatol": 1e-14, "maxiter": 4000})
    a, b = res.x
    rnorm, (E, A, B) = _vp_joint_residual((a, b), n, d, L)
    return JointFit(E=float(E), A=float(A * sN**a), B=float(B * sD**b), a=float(a), b=float(b),
                    objective=float(rnorm), method="vp", n_points=len(L))


#: Interval kinds of :func:`bootstrap_joint`.
JOINT_INTERVALS = ("t", "percentile")


def warm_refit(fit_fn, base: JointFit):
    """A refit for bootstrap resamples that starts from the full-data estimate ``base``.

    Variable projection polishes (a, b) from ``base``'s exponents instead of searching its
    59 x 59 grid; Huber runs L-BFGS-B from ``base``'s point alone instead of 4 500 starts. A
    resample's optimum lies near the full-data one, so this is the same estimator at a
    fraction of the cost (about 4 ms per variable-projection refit of 48 points). Any other
    ``fit_fn`` is used as it is.
    """
    if fit_fn is fit_joint_vp:
        return lambda N, D, L: fit_joint_vp(N, D, L, start=(base.a, base.b))
    if fit_fn is fit_joint_huber or base.method == "huber":
        theta = np.array([np.log(max(base.A, 1e-300)), np.log(max(base.B, 1e-300)), np.log(max(base.E, 1e-300)),
                          base.a, base.b])
        return lambda N, D, L: fit_joint_huber(N, D, L, starts=theta[None, :])
    return fit_fn


def bootstrap_joint(fit_fn, N, D, L, *, n_boot: int = 200, level: float = 0.95, seed: int = 0,
                    interval: str = "t", warm: bool = True, **kw) -> JointFit:
    """Refit on ``n_boot`` resamples of the points (with replacement); attach intervals.

    Points are the unit of resampling here: a joint (N, D) table usually has one loss per
    configuration and no seeds. Refits start from the full-data estimate (:func:`warm_refit`)
    unless ``warm=False``.

    ``interval``:

    * ``"t"`` (default): theta_hat +- t_{n-5, (1+level)/2} SE_boot sqrt(n / (n - 5)), with
      SE_boot the standard deviation of the refits and n the number of points. Resampling n
      points of a 5-parameter fit reproduces the estimator's variance only up to (n - 5)/n
      (the residuals of a least-squares fit are smaller than the errors by that factor), and
      the SE is itself estimated: the rescaled SE with Student-t quantiles corrects both, as the
      seed bootstrap of :func:`~toyscale.fit.fit_scaling` does.
    * ``"percentile"``: the (1-level)/2 and (1+level)/2 quantiles of the refits (Efron 1979).

    Coverage of the true exponents (a, b) on synthetic joint laws is in docs/fitting.md.
    """
    from scipy.stats import t as student_t

    if interval not in JOINT_INTERVALS:
        raise ValueError(f"interval must be one of {JOINT_INTERVALS}, got {interval!r}")
    N, D, L = (np.asarray(v, float) for v in (N, D, L))
    base = fit_fn(N, D, L, **kw)
    refit = warm_refit(fit_fn, base) if warm else (lambda n, d, l: fit_fn(n, d, l, **kw))
    rng = np.random.default_rng(seed)
    reps = []
    for _ in range(n_boot):
        i = rng.integers(0, len(L), len(L))
        reps.append(refit(N[i], D[i], L[i]).as_dict())
    q = (1 - level) / 2
    n, est = len(L), base.as_dict()
    ci = {}
    for k in est:
        v = np.array([r[k] for r in reps], float)
        v = v[np.isfinite(v)]
        if len(v) < 2:
            ci[k] = (float("nan"), float("nan"))
        elif interval == "percentile":
            ci[k] = tuple(float(x) for x in np.quantile(v, [q, 1 - q]))
        else:
            scale = student_t.ppf(1 - q, max(n - 5, 1)) * np.sqrt(n / max(n - 5, 1))
            if k in ("A", "B") and est[k] > 0 and np.all(v > 0):  # positive scale factors: on log scale
                half = scale * np.log(v).std(ddof=1)
                ci[k] = (float(est[k] * np.exp(-half)), float(est[k] * np.exp(half)))
            else:
                half = scale * v.std(ddof=1)
                ci[k] = (float(est[k] - half), float(est[k] + half))
    return JointFit(**{**base.__dict__, "ci": ci, "n_boot": n_boot, "interval": interval})
