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
#: Frequency laws of the model's ``freq_law`` (Liu, Liu & Gore 2025 use all three in their large runs).
FREQ_LAWS = ("power", "exponential", "linear")
#: Rank bins of the stored interference profile, in units of the width ``m``: bin ``j`` holds the
#: ranks ``INTERFERENCE_BINS[j] m < k <= INTERFERENCE_BINS[j + 1] m``. The top-K construction puts
#: its ``K* <= m/2`` orthogonal features in the first three bins.
INTERFERENCE_BINS = (0.0, 0.125, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, float("inf"))
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


def feature_probs(n: int, alpha: float, law: str = "power", scale: float = 1000.0) -> np.ndarray:
    """Activation probabilities ``p_i = i^-(1+alpha) / sum_{j<=n} j^-(1+alpha)``, ``i = 1..n``.

    ``alpha`` is the code's ``a >= -1`` (``a = -1``: uniform ``1/n``); see :func:`alpha_paper`.
    Other ``law`` values (:data:`FREQ_LAWS`): ``"exponential"`` ``p_i ~ exp(-(i-1)/scale)`` and
    ``"linear"`` ``p_i ~ n + 1 - i`` (``alpha`` unused), normalised.

    >>> round(float(feature_probs(4, 0.0).sum()), 12)
    1.0
    >>> feature_probs(3, 0.0, "linear").tolist()
    [0.5, 0.3333333333333333, 0.16666666666666666]
    """
    i = np.arange(1, int(n) + 1, dtype=np.float64)
    if law == "power":
        p = i ** (-(1.0 + float(alpha)))
    elif law == "exponential":
        p = np.exp(-(i - 1.0) / float(scale))
    elif law == "linear":
        p = int(n) + 1.0 - i
    else:
        raise ValueError(f"law {law!r}; allowed: {', '.join(FREQ_LAWS)}")
    return p / p.sum()


def _law(params) -> tuple[str, float]:
    """``(freq_law, freq_scale)`` of a slice's parameters (defaults: power law)."""
    return str(params.get("freq_law", "power")), float(params.get("freq_scale", 1000.0))


def tail_sum(m, n: int, alpha: float, law: str = "power", scale: float = 1000.0) -> np.ndarray:
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
    c = np.concatenate([[0.0], np.cumsum(feature_probs(n, alpha, law, scale))])
    k = np.clip(np.floor(np.asarray(m, dtype=np.float64)).astype(int), 0, int(n))
    return 1.0 - c[k]


def tail_slope(xs: Sequence[float], n: int, alpha: float, law: str = "power", scale: float = 1000.0) -> float:
    """Least-squares log-log slope of :func:`tail_sum` over the widths ``xs`` (finite-n prediction).

    >>> round(tail_slope([10, 16, 25, 40, 63, 100], 1000, 0.2), 2)
    -0.4
    """
    from toyscale.fit import fit_power_law

    xs = np.asarray(xs, dtype=float)
    return fit_power_law(xs, tail_sum(xs, n, alpha, law, scale))[0]


def construction_K(m, n: int, alpha: float, law: str = "power", scale: float = 1000.0) -> np.ndarray:
    """``K*``: the number of features the best top-K construction keeps orthogonal at width ``m``
    (the minimiser of :func:`construction_loss`; ``~ a m / (1 + a)`` for a power law, ``a > 0``).

    >>> int(construction_K(32, 512, 1.0))  # a m / (1 + a) = 16
    16
    """
    out = []
    for mm in np.atleast_1d(np.asarray(m, dtype=float)):
        mm = int(np.floor(mm))
        K = np.arange(0, max(mm, 1))
        vals = tail_sum(K, n, alpha, law, scale) * np.maximum((n - K) / (mm - K) - 1.0, 0.0)
        out.append(int(np.argmin(vals)))
    return np.asarray(out).reshape(np.shape(m))


def construction_loss(m, n: int, alpha: float, law: str = "power", scale: float = 1000.0) -> np.ndarray:
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
        vals = tail_sum(K, n, alpha, law, scale) * np.maximum((n - K) / (mm - K) - 1.0, 0.0) / (n - 1.0)
        out.append(vals.min())
    return np.asarray(out).reshape(np.shape(m))


def strong_branches(xs: Sequence[float], n: int, alpha: float, law: str = "power", scale: float = 1000.0) -> dict:
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
        out["top-K construction, finite n"] = float(fit_power_law(xs, construction_loss(xs, n, alpha, law, scale))[0])
    if alpha > 0 and law == "power":
        out["-alpha_paper"] = -(1.0 + float(alpha))
        out["paper 2(alpha_paper-1)"] = -2.0 * float(alpha)
    return out


def weak_loss(m, n: int, alpha: float, value_dist: str = "uniform02", law: str = "power",
              scale: float = 1000.0) -> np.ndarray:
    """Weak-regime loss curve ``L(m) ~= E[v^2] T(m) / n``: each dropped feature ``i`` costs
    its variance ``p_i E[v^2] - p_i^2 E[v]^2 ~= p_i E[v^2]``, averaged over the ``n`` outputs.

    A finite-size *shape* for the figure; the prefactor ignores the interference of the
    represented features and the importance weights.
    """
    return VALUE_SECOND_MOMENT.get(value_dist, 4.0 / 3.0) * tail_sum(m, n, alpha, law, scale) / float(n)


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


def profile_prediction(picture: str, m: float, n: int, alpha: float, law: str = "power",
                       scale: float = 1000.0) -> np.ndarray:
    """Predicted interference profile ``I_k = sum_{i != k} cos^2(w_i, w_k)``, ``k = 1..n`` (n,).

    * ``"top-K"``: the construction of :func:`construction_loss` -- the ``K*``
      (:func:`construction_K`) most frequent features orthogonal to every other (``I_k = 0``),
      the other ``n - K*`` a tight frame in the remaining ``m - K*`` dimensions
      (``I_k = (n - K*)/(m - K*) - 1``): a step at ``K*``;
    * ``"flat"``: the geometric picture -- all ``n`` rows packed alike, a tight frame in
      ``R^m``: ``I_k = n/m - 1`` for every ``k`` (random unit vectors: ``(n - 1)/m``, the same
      to ``O(1/m)``).

    Derived here from the packing heuristic of docs/theory.md §2.3 (Liu, Liu & Gore 2025 state
    the flat 1/m picture; the step is the construction's).

    >>> profile_prediction("top-K", 4, 6, 1.0)[:3].tolist()
    [0.0, 0.0, 1.0]
    """
    k = np.arange(1, int(n) + 1, dtype=float)
    if picture == "flat":
        return np.full(int(n), max(n / float(m) - 1.0, 0.0))
    if picture == "top-K":
        K = int(construction_K(m, n, alpha, law, scale))
        return np.where(k <= K, 0.0, max((n - K) / (float(m) - K) - 1.0, 0.0))
    raise ValueError(f"picture {picture!r}; allowed: 'top-K', 'flat'")


PROFILE_PICTURES = ("top-K", "flat")


def bin_profile(I, m: float) -> np.ndarray:
    """Means of a profile ``I`` (n,) over the rank bins :data:`INTERFERENCE_BINS` (NaN where empty):
    the same bins as the model's ``interference_b0..7``."""
    I = np.asarray(I, float)
    k = np.arange(1, I.shape[0] + 1)
    out = []
    for lo, hi in zip(INTERFERENCE_BINS[:-1], INTERFERENCE_BINS[1:]):
        sel = (k > lo * m) & (k <= hi * m)
        out.append(float(I[sel].mean()) if sel.any() else np.nan)
    return np.asarray(out)


def profile_errors(measured, m: float, n: int, alpha: float, law: str = "power", scale: float = 1000.0) -> dict:
    """Relative RMS distance of a measured binned profile (``interference_b0..7``) from each
    picture of :func:`profile_prediction`, binned alike:
    ``sqrt(sum_b (I_b - P_b)^2 / sum_b I_b^2)`` over the bins where both are finite. 0 is a
    perfect match; a flat prediction against a measured step (or the reverse) scores near 1.

    >>> e = profile_errors(bin_profile(profile_prediction("flat", 8, 64, 0.5), 8), 8, 64, 0.5)
    >>> e["flat"], round(e["top-K"], 2) > 0.3
    (0.0, True)
    """
    meas = np.asarray(measured, float)
    out = {}
    for pic in PROFILE_PICTURES:
        pred = bin_profile(profile_prediction(pic, m, n, alpha, law, scale), m)
        ok = np.isfinite(meas) & np.isfinite(pred)
        den = float(np.sum(meas[ok] ** 2))
        out[pic] = float(np.sqrt(np.sum((meas[ok] - pred[ok]) ** 2) / den)) if ok.any() and den > 0 else float("nan")
    return out


def profile_verdict(stats, xs, n: int, alpha: float, law: str = "power", scale: float = 1000.0,
                    axis: str = "width", width: float | None = None) -> tuple[str, str]:
    """``(picture, text)``: which picture the measured binned profiles of a slice follow and one
    line with the numbers at each axis value.

    Along ``width`` each value is scored at its own ``m`` and the verdict is the smaller summed
    :func:`profile_errors`; along another axis (``steps``: the profile as training proceeds) the
    width is ``width`` and the verdict is the one at the last value (the end of training).
    """
    nb = len(INTERFERENCE_BINS) - 1
    cols = [stats.get(f"interference_b{j}") for j in range(nb)]
    if any(c is None or len(c) != len(xs) for c in cols) or (axis != "width" and width is None):
        return "", "no measured interference profile in this slice"
    tot = {p: 0.0 for p in PROFILE_PICTURES}
    parts = []
    ratio = stats.get("interference_top_ratio")
    for i, x in enumerate(xs):
        m = x if axis == "width" else float(width)
        e = profile_errors([c[i] for c in cols], m, n, alpha, law, scale)
        r = f", top ratio {ratio[i]:.2f}" if ratio is not None and np.isfinite(ratio[i]) else ""
        K = int(construction_K(m, n, alpha, law, scale))
        parts.append(f"{axis}={x:g}: rel. error top-K (K*={K}) {e['top-K']:.2f}, flat {e['flat']:.2f}{r}")
        if axis == "width" or i == len(xs) - 1:
            for p in PROFILE_PICTURES:
                tot[p] += e[p] if np.isfinite(e[p]) else 0.0
    where = "" if axis == "width" else f" at {axis}={xs[-1]:g}"
    if abs(tot["top-K"] - tot["flat"]) <= 1e-9 * max(1.0, tot["flat"]):  # K* = 0: the two pictures are one
        return "flat", f"profile scored against the flat picture{where} (K* = 0: the top-K picture is the flat one; " \
                       f"{'; '.join(parts)})"
    best = min(tot, key=tot.get)
    return best, f"profile follows the {best} picture{where} ({'; '.join(parts)})"


def time_exponent(alpha: float, law: str = "power") -> float | None:
    """Data-dependent time exponent of the loss without superposition, before its plateau:
    ``-a/(1 + a)`` for ``p_i ~ i^-(1+a)``, ``a > 0`` (``None`` otherwise).

    Sequential learning: feature ``i`` is learned after ``t_i ~ 1/p_i`` steps (its gradient is
    proportional to how often it is active), so by step ``t`` the first ``k(t) ~ t^(1/(1+a))`` are
    learned and the loss is the tail ``sum_{i>k(t)} p_i ~ k^-a ~ t^(-a/(1+a))`` (until ``k(t)``
    reaches the ~m features the width holds: then the plateau ``sum_{i>m} p_i``). Derived here in
    the spirit of the no-superposition theory of Chen, Chen, Liu & Gore 2026 (*Superposition
    unifies power-law training dynamics*, arXiv 2602.01045), which finds a data-dependent exponent
    without superposition and ``t^-1`` with it; Adam's normalisation can change the rate.

    >>> time_exponent(1.0)
    -0.5
    """
    if law != "power" or alpha <= 0:
        return None
    return -float(alpha) / (1.0 + float(alpha))


def _predict_time(s: Slice) -> Prediction:
    """Time exponent of the loss along the recorded ``steps``: power law ``L ~ t^c`` over the
    window after the warm-up's transient and before the cosine decay's second half.

    The loss itself, not its excess over a fitted plateau: within a few thousand steps the
    plateau ``L_inf`` is not reached and an offset fit does not identify it (measured,
    docs/superposition.md); the offset fit is in ``experiments/superposition_dynamics.py``."""
    params, stats = s.params, s.stats
    metric = s.metric or "loss"
    if metric != "loss":
        return Prediction(f"no time theory for {metric}", None, metric=metric)
    alpha = float(params.get("alpha", 0.0))
    law, _ = _law(params)
    wd = float(params.get("weight_decay", 0.0))
    warm, hor = float(params.get("warmup", 0)), float(params.get("horizon", max(s.xs or (1,))))
    valid = (1.25 * warm, 0.5 * hor)
    frac = stats.get("represented_fraction") if stats else None
    last = float(frac[-1]) if frac is not None and len(frac) and np.isfinite(frac[-1]) else None
    strong = (last >= STRONG_FRACTION) if last is not None else wd < 0
    data = time_exponent(alpha, law)
    alts = {"t^-1 (superposition, Chen et al. 2026)": -1.0}
    if data is not None:
        alts["data-dependent -a/(1+a) (sequential learning)"] = data
    why = (f"fit window {valid[0]:g}..{valid[1]:g} steps: after the warm-up's transient, before the cosine "
           f"decay's second half; represented fraction at the end {last:.2f}" if last is not None else
           f"fit window {valid[0]:g}..{valid[1]:g} steps; regime assumed from weight_decay = {wd:g}")
    if strong:
        return Prediction("strong superposition (time axis)", -1.0, metric=metric, valid=valid,
                          alternatives=alts, note=f"loss ~ t^-1 whatever the data statistics "
                                                  f"(Chen, Chen, Liu & Gore 2026); {why}")
    return Prediction("weak superposition (time axis)", data, metric=metric, valid=valid,
                      alternatives=alts, note=f"loss ~ t^(-a/(1+a)) before its plateau: sequential learning of features by "
                                              f"frequency (data-dependent law); {why}")


def predict(axis: str, s: Slice) -> Prediction:
    """Predicted width exponent of ``loss`` (or of ``mean_sq_overlap``) for one slice.

    The regime is read off the measured represented fraction (``stats``, the seed-mean at each
    width) with :func:`classify`; without stats, from the sign of the weight decay (``wd < 0``:
    the row-norm growth term drives strong superposition; ``wd > 0``: weak). The metric is
    ``s.metric`` (default ``loss``). Frequencies follow the slice's ``freq_law``.

    * weak, ``loss``: slope of :func:`tail_sum` over ``xs`` at the actual ``n`` (asymptote
      ``-alpha``, i.e. ``-(alpha_paper - 1)``), with the curve :func:`weak_loss`; branches: the
      finite-n slope and the asymptote;
    * strong, ``loss``: ``-1`` (the geometric branch), with every branch of
      :func:`strong_branches` in ``Prediction.alternatives`` -- for ``a > 0`` they disagree, and
      which one holds is measured; ``mean_sq_overlap``: ``-1`` (a property of the packing, not of
      the frequencies); ``overlap_times_m``: ``0``;
    * ``interference_*`` (the interference profile over frequency rank): the measured binned
      profile at each width is scored against both pictures of :func:`profile_prediction`
      (:func:`profile_verdict`); the regime names the picture it follows and the note gives the
      numbers. ``interference_mean``: slope of the flat picture ``n/m - 1``, the top-K one as
      an alternative; ``interference_top_ratio``: no exponent (flat: 1, top-K: about 0);
    * axis ``steps``: the time exponent of the loss (:func:`_predict_time`): ``-1`` in
      strong superposition (Chen, Chen, Liu & Gore 2026), the data-dependent
      :func:`time_exponent` in weak superposition;
    * otherwise: no exponent.
    """
    params, xs, stats = s.params, s.xs, s.stats
    metric = s.metric or "loss"
    if axis == "steps" and metric.startswith("interference"):
        xs_ = [float(x) for x in xs if math.isfinite(float(x))]
        law, scale = _law(params)
        best, text = profile_verdict(stats or {}, xs_, int(params["n_features"]), float(params["alpha"]), law, scale,
                                     axis="steps", width=params.get("width"))
        return Prediction("interference profile" + (f" follows the {best} picture" if best else ""), None,
                          metric=metric, note=text)
    if axis == "steps":
        return _predict_time(s)
    if axis != "width":
        return Prediction(f"no theory for axis {axis!r}", None, metric=metric)
    n, alpha = int(params["n_features"]), float(params["alpha"])
    law, scale = _law(params)
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
    lawtxt = "" if law == "power" else f"; frequencies: {law} law"
    if metric.startswith("interference"):
        best, text = profile_verdict(stats or {}, xs, n, alpha, law, scale)
        name = f"{regime} superposition" + (f"; interference profile follows the {best} picture" if best else "")
        if metric == "interference_mean" and len(xs) >= 2:
            from toyscale.fit import fit_power_law

            xa = np.asarray(xs, float)
            flat = lambda x: np.maximum(n / np.asarray(x, float) - 1.0, 1e-300)  # noqa: E731
            topk = np.array([profile_prediction("top-K", x, n, alpha, law, scale).mean() for x in xa])
            alts = {"flat n/m - 1": float(fit_power_law(xa, flat(xa))[0])}
            if np.all(topk > 0):
                alts["top-K construction"] = float(fit_power_law(xa, topk)[0])
            return Prediction(name, alts["flat n/m - 1"], metric=metric, valid=valid, alternatives=alts, curve=flat,
                              note=f"flat picture: I_k = n/m - 1 at every rank; {text}; {source}{lawtxt}")
        return Prediction(name, None, metric=metric, note=f"{text}; {source}{lawtxt}")
    if regime == "strong":
        name = "strong superposition"
        if metric in ("loss", "mean_sq_overlap"):
            why = "squared overlaps of n unit vectors in R^m ~ 1/m" if metric == "mean_sq_overlap" else \
                "interference of all n features packed into R^m ~ 1/m"
            if metric == "mean_sq_overlap":
                return Prediction(name, -1.0, metric=metric, valid=valid,
                                  note=f"{metric} ~ m^-1: {why} (Liu, Liu & Gore 2025); {source}",
                                  alternatives={k: v for k, v in strong_branches(xs, n, alpha, law, scale).items()
                                                if k in ("geometric (1/m)", "Welch bound, finite n")})
            br = strong_branches(xs, n, alpha, law, scale)
            comp = "" if alpha <= 0 or law != "power" else (
                f"; for a = {alpha:g} (alpha_paper = {alpha_paper(alpha):g}) the "
                f"frequency-dominated branches compete (see alternatives): measured, not assumed")
            return Prediction(name, -1.0, metric=metric, valid=valid, alternatives=br,
                              note=f"{metric} ~ m^-1: {why} (Liu, Liu & Gore 2025){comp}; {source}{lawtxt}")
        if metric == "overlap_times_m":
            return Prediction(name, 0.0, metric=metric, valid=valid, note=f"overlap * m ~ const; {source}")
        return Prediction(name, None, metric=metric, note=f"no prediction for {metric}; {source}")
    if regime == "weak":
        name = "weak superposition"
        if metric == "loss":
            if len(xs) < 2:
                return Prediction(name, None, metric=metric, note=f"one width: no slope; {source}")
            s = tail_slope(xs, n, alpha, law, scale)
            if law != "power":
                asym = f"the {law} law's tail"
            else:
                asym = f"m^{-alpha:g}" if alpha > 0 else "1 - ln(m)/ln(n) (no power law at alpha = 0)"
            br = {"finite-n tail sum": s, **({"tail law -(alpha_paper-1)": -alpha} if alpha > 0 and law == "power" else {})}
            return Prediction(name, s, metric=metric, valid=valid, alternatives=br,
                              curve=lambda x: weak_loss(x, n, alpha, dist, law, scale),
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
