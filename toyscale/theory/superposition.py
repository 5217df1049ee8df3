"""Theory for the toy model of superposition (docs/theory.md §2).

Liu, Liu & Gore 2025, *Superposition Yields Robust Neural Scaling*; Elhage et al. 2022, *Toy
Models of Superposition*. Features ``i = 1..n`` are active with probability
``p_i = i^-(1+alpha) / sum_j j^-(1+alpha)``; a width-``m`` network ``y = ReLU(x W W^T + b)``
reconstructs them.

Exponents are written in the code's ``a`` (``alpha``); the paper's is ``alpha_paper = 1 + a``.

==========================  ======================================  ==============================
regime (represented frac.)  width exponent of the final loss L(m)   status
==========================  ======================================  ==============================
weak  (about m / n)         tail law: -a = -(alpha_paper - 1)        derived; finite-n tail slope
                            (L ~ sum_{i>m} p_i)                      over the run's widths
strong (about 1)            geometric branch: -1 (n unit vectors     derived (overlap -> loss is
                            in R^m: mean squared overlap ~ 1/m)      heuristic); the check's slope
                            top-K construction: -(1 + a) for a > 0   derived here: an achievable
                            (top K ~ a m/(1+a) features orthogonal,  packing, so the *best*
                            the tail Welch-packed in m - K dims)     exponent is at least this
                            paper's line: -2a = -2(alpha_paper - 1)  empirical (the paper's panel),
                                                                     not derived
decayed (below m / (5 n))   no prediction                            —
==========================  ======================================  ==============================

Which strong branch a trained model follows, and where it leaves the geometric one, is measured
(``experiments/superposition_grid.toml``, ``experiments/superposition_phase.py grid``), not
assumed: :func:`predict` scores the geometric -1 and carries every branch in
``Prediction.alternatives``.

At finite ``n`` the tail sum bends away from ``m^-alpha`` (it vanishes at ``m = n``), so the
weak-regime prediction for a finite width range is the fitted slope of the *finite-n* tail sum
over the same widths, with ``-alpha`` as its asymptote.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from toyscale.theory.base import Prediction, Slice, Theory

#: Represented fraction at or above which a width sweep is in the strong regime.
STRONG_FRACTION = 0.9
#: A sweep is weak when between these many features per dimension are represented (``frac n / m``);
#: below the lower bound the decay wins and even the frequent features are switched off.
WEAK_PER_DIM = (0.2, 1.5)
#: Second moment E[v^2] of an active feature's value, per ``value_dist``.
VALUE_SECOND_MOMENT = {"uniform02": 4.0 / 3.0, "uniform01": 1.0 / 3.0}


def alpha_paper(a: float) -> float:
    """The paper's frequency exponent ``alpha_paper = 1 + a`` of the code's ``a``.

    The reference code (and toyscale's ``alpha``) draws ``p_i ~ i^-(1+a)``; Liu, Liu & Gore
    2025 write ``p_i ~ i^-alpha_paper``. ``a in [-1, 1]`` is ``alpha_paper in [0, 2]``.

    >>> alpha_paper(-0.5)
    0.5
    """
    return 1.0 + float(a)


def feature_probs(n: int, alpha: float) -> np.ndarray:
    """Activation probabilities ``p_i = i^-(1+alpha) / sum_{j<=n} j^-(1+alpha)``, ``i = 1..n``.

    ``alpha`` is the code's ``a >= -1`` (``a = -1``: uniform ``1/n``); see :func:`alpha_paper`.

    >>> round(float(feature_probs(4, 0.0).sum()), 12)
    1.0
    """
    p = np.arange(1, int(n) + 1, dtype=np.float64) ** (-(1.0 + float(alpha)))
    return p / p.sum()


def tail_sum(m, n: int, alpha: float) -> np.ndarray:
    """Weak-regime loss proxy ``T(m) = sum_{i>m} p_i`` at finite ``n`` (Liu, Liu & Gore 2025).

    The expected number of active features a width-``m`` network in weak superposition cannot
    represent (it keeps the ``m`` most frequent). ``T(m) ~ m^-alpha / (alpha zeta(1+alpha))``
    for ``1 << m << n``; ``T(n) = 0``.

    Args:
      m: width(s), array-like of numbers in ``[0, n]`` (rounded down).
      n: number of features.
      alpha: frequency exponent.

    Returns:
      array shaped like ``m``.

    >>> round(float(tail_sum(0, 10, 0.5)), 12)
    1.0
    """
    c = np.concatenate([[0.0], np.cumsum(feature_probs(n, alpha))])
    k = np.clip(np.floor(np.asarray(m, dtype=np.float64)).astype(int), 0, int(n))
    return 1.0 - c[k]


def tail_slope(xs: Sequence[float], n: int, alpha: float) -> float:
    """Least-squares log-log slope of :func:`tail_sum` over the widths ``xs`` (finite-n prediction).

    >>> round(tail_slope([10, 16, 25, 40, 63, 100], 1000, 0.2), 2)
    -0.4
    """
    from toyscale.fit import fit_power_law

    xs = np.asarray(xs, dtype=float)
    return fit_power_law(xs, tail_sum(xs, n, alpha))[0]


def construction_loss(m, n: int, alpha: float) -> np.ndarray:
    """Interference of the best "top-K orthogonal" packing, relative units (strong regime).

    Heuristic loss of §2.3: ``L ~ (1/n) sum_k p_k sum_{i != k} cos^2(w_i, w_k)`` (feature ``k``
    leaks into every other output in proportion to its squared overlap). Construction: the
    ``K`` most frequent features take ``K`` orthogonal directions of their own; the other
    ``N = n - K`` fill the remaining ``d = m - K`` dimensions as a tight frame (Welch-optimal,
    ``sum_{i != k} cos^2 = N/d - 1`` each). Then ``L(K) ~ T(K) (N/d - 1)`` and this returns
    ``min_{0 <= K < m} T(K) ((n - K)/(m - K) - 1) / (n - 1)`` -- at ``K = 0`` exactly the Welch
    bound (:func:`welch_bound`). For ``a > 0`` and ``1 << m << n``,
    ``T(K) ~ K^-a`` gives ``K* = a m / (1 + a)`` and ``L ~ m^-(1+a) = m^-alpha_paper``: an
    achievable loss, so a model that found the best packing would scale at least this fast.
    For ``a <= 0`` the minimum is at ``K = 0`` up to finite-n corrections: the geometric 1/m.
    Derived here (not in Liu, Liu & Gore 2025); the bias and the ReLU are ignored.

    >>> bool(np.isclose(construction_loss(10, 1000, -1.0), welch_bound(1000, 10)))
    True
    """
    out = []
    for mm in np.atleast_1d(np.asarray(m, dtype=float)):
        mm = int(np.floor(mm))
        K = np.arange(0, max(mm, 1))
        vals = tail_sum(K, n, alpha) * np.maximum((n - K) / (mm - K) - 1.0, 0.0) / (n - 1.0)
        out.append(vals.min())
    return np.asarray(out).reshape(np.shape(m))


def strong_branches(xs: Sequence[float], n: int, alpha: float) -> dict:
    """Width exponents of the strong-regime loss, one per branch (negative slopes).

    * ``geometric (1/m)``: ``-1`` (mean squared overlap of random or Welch-optimal unit vectors);
    * ``Welch bound, finite n``: slope of :func:`welch_bound` over ``xs`` (``-1.04`` for
      ``n = 1000``, ``m = 10..100``);
    * ``top-K construction, finite n``: slope of :func:`construction_loss` over ``xs``
      (asymptote ``-(1 + a)`` for ``a > 0``, ``-1`` for ``a <= 0``);
    * ``paper 2(alpha_paper-1)``: ``-2a``, only for ``a > 0`` -- the second line of the paper's
      "model exponent vs data exponent" panel, an empirical line (not derived by the paper or here).

    >>> strong_branches([10, 100], 1000, 0.5)["paper 2(alpha_paper-1)"]
    -1.0
    """
    from toyscale.fit import fit_power_law

    xs = np.asarray([x for x in xs if x >= 1], dtype=float)
    out = {"geometric (1/m)": -1.0}
    if len(xs) >= 2:
        out["Welch bound, finite n"] = float(fit_power_law(xs, welch_bound(n, xs))[0])
        out["top-K construction, finite n"] = float(fit_power_law(xs, construction_loss(xs, n, alpha))[0])
    if alpha > 0:
        out["paper 2(alpha_paper-1)"] = -2.0 * float(alpha)
    return out


def weak_loss(m, n: int, alpha: float, value_dist: str = "uniform02") -> np.ndarray:
    """Weak-regime loss curve ``L(m) ~= E[v^2] T(m) / n``: each dropped feature ``i`` costs
    its variance ``p_i E[v^2] - p_i^2 E[v]^2 ~= p_i E[v^2]``, averaged over the ``n`` outputs.

    A finite-size *shape* for the figure; the prefactor ignores the interference of the
    represented features and the importance weights.
    """
    return VALUE_SECOND_MOMENT.get(value_dist, 4.0 / 3.0) * tail_sum(m, n, alpha) / float(n)


def classify(fraction: Sequence[float], widths: Sequence[float], n: int) -> str:
    """Regime of a width sweep from its measured represented fractions.

    ``"strong"`` when every fraction is at least :data:`STRONG_FRACTION`; ``"weak"`` when at
    every width between ``0.2 m`` and ``1.5 m`` features are represented (``fraction ~ m / n``,
    :data:`WEAK_PER_DIM`); ``"decayed"`` when fewer than ``0.2 m`` are at some width (the weight
    decay switches off features the width could hold); ``"intermediate"`` otherwise (including
    missing values).
    """
    f = np.asarray(fraction, dtype=float)
    m = np.asarray(widths, dtype=float)
    if f.size == 0 or not np.all(np.isfinite(f)):
        return "intermediate"
    if np.all(f >= STRONG_FRACTION):
        return "strong"
    lo, hi = WEAK_PER_DIM
    if np.all(f * n <= hi * m):
        return "weak" if np.all(f * n >= lo * m) else "decayed"
    return "intermediate"


def predict(axis: str, s: Slice) -> Prediction:
    """Predicted width exponent of ``loss`` (or of ``mean_sq_overlap``) for one slice.

    The regime is read off the measured represented fraction (``stats``, the seed-mean at each
    width) with :func:`classify`; without stats, from the sign of the weight decay (``wd < 0``:
    the row-norm growth term drives strong superposition; ``wd > 0``: weak). The metric is
    ``s.metric`` (default ``loss``).

    * weak, ``loss``: slope of :func:`tail_sum` over ``xs`` at the actual ``n`` (asymptote
      ``-alpha``, i.e. ``-(alpha_paper - 1)``), with the curve :func:`weak_loss`; branches: the
      finite-n slope and the asymptote;
    * strong, ``loss``: ``-1`` (the geometric branch), with every branch of
      :func:`strong_branches` in ``Prediction.alternatives`` -- for ``a > 0`` they disagree, and
      which one holds is measured; ``mean_sq_overlap``: ``-1`` (a property of the packing, not of
      the frequencies); ``overlap_times_m``: ``0``;
    * otherwise: no exponent.
    """
    params, xs, stats = s.params, s.xs, s.stats
    metric = s.metric or "loss"
    if axis != "width":
        return Prediction(f"no theory for axis {axis!r}", None, metric=metric)
    n, alpha = int(params["n_features"]), float(params["alpha"])
    wd = float(params.get("weight_decay", 0.0))
    dist = params.get("value_dist", "uniform02")
    xs = [float(x) for x in xs if math.isfinite(float(x))]
    valid = (1.0, n / 2.0)
    frac = None if not stats else stats.get("represented_fraction")
    if frac is not None and len(frac) == len(xs):
        regime = classify(frac, xs, n)
        source = f"represented fraction {np.nanmin(frac):.2f}..{np.nanmax(frac):.2f}"
    else:
        regime = "strong" if wd < 0 else ("weak" if wd > 0 else "intermediate")
        source = f"assumed from weight_decay = {wd:g} (no measured represented fraction)"
    if regime == "strong":
        name = "strong superposition"
        if metric in ("loss", "mean_sq_overlap"):
            why = "squared overlaps of n unit vectors in R^m ~ 1/m" if metric == "mean_sq_overlap" else \
                "interference of all n features packed into R^m ~ 1/m"
            if metric == "mean_sq_overlap":
                return Prediction(name, -1.0, metric=metric, valid=valid,
                                  note=f"{metric} ~ m^-1: {why} (Liu, Liu & Gore 2025); {source}",
                                  alternatives={k: v for k, v in strong_branches(xs, n, alpha).items()
                                            if k in ("geometric (1/m)", "Welch bound, finite n")})
            br = strong_branches(xs, n, alpha)
            comp = "" if alpha <= 0 else (f"; for a = {alpha:g} (alpha_paper = {alpha_paper(alpha):g}) the "
                                          f"frequency-dominated branches compete (see alternatives): measured, not assumed")
            return Prediction(name, -1.0, metric=metric, valid=valid, alternatives=br,
                              note=f"{metric} ~ m^-1: {why} (Liu, Liu & Gore 2025){comp}; {source}")
        if metric == "overlap_times_m":
            return Prediction(name, 0.0, metric=metric, valid=valid, note=f"overlap * m ~ const; {source}")
        return Prediction(name, None, metric=metric, note=f"no prediction for {metric}; {source}")
    if regime == "weak":
        name = "weak superposition"
        if metric == "loss":
            if len(xs) < 2:
                return Prediction(name, None, metric=metric, note=f"one width: no slope; {source}")
            s = tail_slope(xs, n, alpha)
            asym = f"m^{-alpha:g}" if alpha > 0 else "1 - ln(m)/ln(n) (no power law at alpha = 0)"
            br = {"finite-n tail sum": s, **({"tail law -(alpha_paper-1)": -alpha} if alpha > 0 else {})}
            return Prediction(name, s, metric=metric, valid=valid, alternatives=br,
                              curve=lambda x: weak_loss(x, n, alpha, dist),
                              note=f"slope of the finite-n tail sum sum_(i>m) p_i over these widths "
                                   f"(n = {n}); asymptotically {asym}; {source}")
        return Prediction(name, None, metric=metric, note=f"represented rows nearly orthogonal; {source}")
    if regime == "decayed":
        return Prediction("decay-dominated (fewer than m/5 features represented)", None, metric=metric,
                          note=f"weight decay switches off features the width could hold; measured only; {source}")
    return Prediction("intermediate superposition", None, metric=metric,
                      note=f"neither all features nor about m represented; measured only; {source}")


# ----------------------------------------------------------------------------- overlap references


def welch_bound(n: int, m) -> np.ndarray:
    """Least mean squared overlap of ``n`` unit vectors in ``R^m`` (Welch 1974): ``(n/m - 1)/(n - 1)``.

    The Gram matrix ``G`` of ``n`` unit rows has rank ``<= m`` and trace ``n``, so
    ``||G||_F^2 >= n^2 / m``; subtract the diagonal and divide by the ``n (n - 1)`` off-diagonal
    entries (docs/theory.md §2.3). 0 when ``m >= n``.

    >>> round(float(welch_bound(1000, 10)), 4)
    0.0991
    """
    m = np.asarray(m, dtype=float)
    return np.maximum((n / m - 1.0) / (n - 1.0), 0.0)


def random_sq_overlap_quantile(q, m) -> np.ndarray:
    """Quantile ``q`` of ``cos^2`` between two independent uniform unit vectors in ``R^m``.

    ``cos^2 ~ Beta(1/2, (m - 1)/2)`` (the squared first coordinate of a uniform point on the
    sphere), mean ``1/m``. The reference the measured ``sq_overlap_*`` metrics are compared with.

    >>> round(float(random_sq_overlap_quantile(0.5, 2)), 4)  # cos^2 of a uniform angle: 1/2
    0.5
    """
    from scipy import stats

    m = np.asarray(m, dtype=float)
    return stats.beta.ppf(q, 0.5, (m - 1.0) / 2.0)


def random_antipodal_fraction(m, c: float = 0.9) -> np.ndarray:
    """``P(cos <= -c)`` for two independent uniform unit vectors in ``R^m``: half of ``P(cos^2 >= c^2)``.

    >>> round(float(random_antipodal_fraction(2, 0.0)), 4)
    0.5
    """
    from scipy import stats

    m = np.asarray(m, dtype=float)
    return 0.5 * stats.beta.sf(c * c, 0.5, (m - 1.0) / 2.0)


#: The theory the model declares.
THEORY = Theory(predict=predict)
