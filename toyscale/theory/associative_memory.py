"""Theory for associative memories (docs/theory.md §4).

Cabannes, Dohmatob & Bietti 2024, *Scaling Laws for Associative Memories* (ICLR 2024).

Tokens ``x = 0 .. N-1`` with Zipf probabilities ``p(x) ∝ (x + 1)^-alpha`` (the reference code's
indexing), labels ``y(x) = x mod M``. A memory ``W = Σ_x q(x) e_x u_y(x)^T`` in ``R^(d x d)`` with
random embeddings predicts ``ŷ(x) = argmax_y e_x^T W u_y``; its error is
``Σ_x p(x) 1{ŷ(x) != y(x)}``. With ``T`` samples and memory size ``d`` (``alpha > 1``):

==========================  ==============================  =====================================
scheme                      error                           why
==========================  ==============================  =====================================
thresholding (top d/8)      d^-(alpha-1) + T^-(1-1/alpha)   the d/8 stored tokens are recalled
                                                            (little interference); the rest is
                                                            the Zipf tail sum_(x > d/8) p(x)
q = p^rho (rho > 1/(2a))    d^-(alpha-1)/(2 alpha rho)      token x is recalled when its weight
                                                            x^(-alpha rho) beats the interference
                                                            noise ~ d^-1/2: x* ~ d^(1/(2 alpha rho))
q = p (rho = 1)             d^-(alpha-1)/(2 alpha)          the case rho = 1 (d^-1/4 at alpha = 2)
store all seen, d = inf     Σ p (1-p)^T ~ T^-(1-1/alpha)    a token is lost iff it was never seen
q = 1 on all N >> d         does not improve with d         the interference of all N tokens
==========================  ==============================  =====================================

The store-all-seen expectation is exact (:func:`store_all_seen_error`); the thresholding curve
(:func:`threshold_error`) is the tail sum times ``1 - 1/M`` (an unstored token is right by chance
with probability ``1/M``), exact when every stored token is recalled. Trained memories have no
closed-form theory: their exponents are measured only, and shown against the thresholding law.
"""

from __future__ import annotations

import math


import numpy as np

from toyscale.theory.base import Prediction, Slice, Theory



def zipf_probs(n: int, alpha: float) -> np.ndarray:
    """``p(x) = (x + 1)^-alpha / Σ_(x' < n) (x' + 1)^-alpha`` for ``x = 0 .. n-1`` (float64).

    >>> round(float(zipf_probs(5, 2.0).sum()), 12)
    1.0
    """
    p = np.arange(1, int(n) + 1, dtype=np.float64) ** (-float(alpha))
    return p / p.sum()


def d_exponent(scheme: str, alpha: float, rho: float = 1.0) -> float | None:
    """Predicted slope of log(error) vs log(d) at ``T = inf`` (negative), or ``None``.

    * ``threshold``: ``-(alpha - 1)`` (Cabannes et al. 2024, Theorem 1 and Fig. 2);
    * ``true`` (q = p): ``-(alpha - 1) / (2 alpha)`` (their q = p result);
    * ``frequency`` at ``T = inf`` (q = p^rho): ``-(alpha - 1) / (2 alpha rho)`` for
      ``rho > 1 / (2 alpha)`` (the same signal-vs-noise argument; rho = 1 is q = p); no exponent
      for smaller rho, where the interference of the whole vocabulary does not fall with d;
    * ``learned``: ``None`` (empirical only).

    >>> d_exponent("threshold", 2.0), d_exponent("true", 2.0)
    (-1.0, -0.25)
    """
    if alpha <= 1:
        return None
    if scheme == "threshold":
        return -(alpha - 1.0)
    if scheme == "true":
        return -(alpha - 1.0) / (2.0 * alpha)
    if scheme == "frequency" and rho > 1.0 / (2.0 * alpha):
        return -(alpha - 1.0) / (2.0 * alpha * rho)
    return None


def t_exponent(alpha: float) -> float | None:
    """Predicted slope of log(error) vs log(T) when only data limits the memory (d = inf, or
    thresholding with d large): ``-(1 - 1/alpha)`` (the mass of the unseen tokens).

    >>> t_exponent(2.0)
    -0.5
    """
    return -(1.0 - 1.0 / alpha) if alpha > 1 else None


def store_all_seen_error(T, n: int, alpha: float) -> np.ndarray:
    """Exact expected error of the store-all-seen memory at ``d = inf``:
    ``E err(T) = Σ_x p(x) (1 - p(x))^T`` (a token is an error iff none of the T i.i.d. samples
    is it; Cabannes et al. 2024, the ``T^-(1-1/alpha)`` law). ``T = inf`` gives 0.

    >>> round(float(store_all_seen_error(0, 10, 2.0)), 12)
    1.0
    """
    p = zipf_probs(n, alpha)
    T = np.asarray(T, dtype=np.float64)
    flat = np.atleast_1d(T).ravel()
    log1m = np.log1p(-p)
    out = np.array([0.0 if math.isinf(t) else float(np.sum(p * np.exp(t * log1m))) for t in flat])
    return out.reshape(T.shape)


def threshold_error(d, n: int, alpha: float, ratio: float = 0.125, classes: int = 5) -> np.ndarray:
    """Thresholding at ``T = inf``: ``(1 - 1/M) Σ_(x >= k) p(x)`` with ``k = floor(ratio d)``
    stored tokens: every stored token recalled, an unstored one right with probability ``1/M``
    (its scores are random). Interference makes the true error slightly larger.

    >>> round(float(threshold_error(0, 10, 2.0, classes=1)), 12)
    0.0
    """
    p = zipf_probs(n, alpha)
    c = np.concatenate([[0.0], np.cumsum(p)])
    k = np.clip(np.floor(float(ratio) * np.asarray(d, dtype=np.float64) + 1e-9).astype(int), 0, int(n))
    return (1.0 - 1.0 / classes) * (1.0 - c[k])


def random_embedding_bound(d, n: int, alpha: float, classes: int = 5, T: float = math.inf) -> np.ndarray:
    """Capacity bound of a memory with FIXED random input embeddings (heuristic, for comparison):
    ``(1 - 1/M) [Σ_(x < K) p(x)(1 - p(x))^T + Σ_(x >= K) p(x)]``, ``K = d (M - 1)``.

    With ``E`` fixed, the ``matrix`` memory's logits ``e_x^T W U^T = e_x^T V`` are an M-class
    linear read-out of random points ``e_x`` in ``R^d``; such a read-out realises arbitrary
    labels on at most about ``d (M - 1)`` points (the Natarajan dimension of M-class linear
    classifiers; Cover 1965 for M = 2: 2d random points). So at best the ``K`` most frequent
    tokens -- if seen among the ``T`` samples -- are recalled, and every other token is right by
    chance ``1/M``. A memory that learns its embeddings (``learnable``, ``exponential``) is not
    bound by it: only the seen-token floor ``(1 - 1/M) Σ p(1 - p)^T`` remains. The constant
    ``K = d (M - 1)`` is a counting argument, not a theorem for these labels.

    >>> bool(abs(random_embedding_bound(1, 10, 2.0, classes=2) - 0.5 * (1 - zipf_probs(10, 2.0)[0])) < 1e-12)
    True
    """
    p = zipf_probs(n, alpha)
    unseen = np.zeros_like(p) if math.isinf(float(T)) else np.exp(float(T) * np.log1p(-p))
    cs = np.concatenate([[0.0], np.cumsum(p * unseen)])
    ct = np.concatenate([[0.0], np.cumsum(p)])
    K = np.clip(np.asarray(d, dtype=np.float64) * (int(classes) - 1), 0, n).astype(int)
    return (1.0 - 1.0 / classes) * (cs[K] + 1.0 - ct[K])


def threshold_slope(ds, n: int, alpha: float, ratio: float = 0.125, classes: int = 5) -> float | None:
    """Log-log least-squares slope of the exact thresholding curve :func:`threshold_error` over
    the widths ``ds`` (finite ``k = floor(ratio d)``), or ``None`` (fewer than two widths with
    ``k >= 1`` and a positive tail). At alpha = 2 the tail mass is ~ 1/(zeta(2)(k + 1/2)), whose
    slope over k = 2...125 is about -0.95, not the asymptotic -1.

    >>> round(threshold_slope([16, 32, 64, 128, 256, 512, 1000], 10**5, 2.0), 3)
    -0.95
    """
    ds = np.array([float(d) for d in ds if math.isfinite(float(d)) and math.floor(ratio * float(d) + 1e-9) >= 1])
    if len(ds) < 2 or len(set(ds)) < 2:
        return None
    e = threshold_error(ds, n, alpha, ratio, classes)
    if not np.all(e > 0):
        return None
    return float(np.polyfit(np.log(ds), np.log(e), 1)[0])


def predict(axis: str, s: Slice) -> Prediction:
    """Predicted slope of ``error`` along ``width`` (d) or ``samples`` (T) for one slice.

    ``width`` (needs ``samples = inf`` for the closed-form exponents): thresholding is scored
    against its exact finite-k curve :func:`threshold_error`: the predicted slope is that
    curve's least-squares slope over the fitted widths (:func:`threshold_slope`), the asymptote
    ``-(alpha-1)`` an alternative; q = p and q = p^rho as
    :func:`d_exponent`; learned memories: the thresholding law as a *reference line*, not a
    prediction (their scaling is empirical). ``samples`` at ``width = inf``: every scheme stores
    exactly the seen tokens, so the exact curve :func:`store_all_seen_error` and the slope
    ``-(1-1/alpha)``; at finite width the data term sits on a d-floor (law ``offset``).
    """
    params, xs, stats, fit_range = s.params, s.xs, s.stats, s.fit_range
    metric = s.metric or "error"
    scheme = params.get("scheme", "threshold")
    alpha = float(params.get("zipf", 2.0))
    n = int(params.get("vocab", 1000))
    M = int(params.get("classes", 5))
    ratio = float(params.get("threshold_ratio", 0.125))
    rho = float(params.get("rho", 0.0))
    xs = [float(x) for x in xs if math.isfinite(float(x))]
    if metric != "error":
        return Prediction(f"no theory for {metric}", None, metric=metric)
    if axis == "width":
        T = float(params.get("samples", math.inf))
        if scheme == "learned":
            s = d_exponent("threshold", alpha)
            return Prediction("trained memory (empirical) vs thresholding law", s, metric=metric,
                              note=f"no theory for trained memories; reference line d^-(alpha-1) = d^{s} "
                                   f"(thresholding); the fitted exponent is a measurement")
        if math.isfinite(T):
            return Prediction(f"{scheme}, finite T (d and T terms mixed)", None, metric=metric,
                              note="the d-exponents hold at T = inf; at finite T the error floors at the T term")
        s = d_exponent(scheme, alpha, rho if scheme == "frequency" else 1.0)
        if scheme == "threshold":
            hi = 0.1 * n / ratio  # k = ratio d stays well below the vocabulary: the tail does not bend
            if s is None:
                return Prediction("thresholding (alpha <= 1: no power law)", None, metric=metric)
            curve = lambda x: threshold_error(x, n, alpha, ratio, M)  # noqa: E731
            lo_, hi_ = fit_range or (1.0 / ratio, hi)
            sw = threshold_slope([x for x in xs if lo_ <= x <= hi_], n, alpha, ratio, M)
            if sw is None:
                return Prediction("thresholding (store the top ratio*d tokens)", s, metric=metric,
                                  valid=(1.0 / ratio, hi), curve=curve,
                                  note=f"tail sum beyond the k = d*{ratio:g} stored tokens ~ d^-(alpha-1)")
            return Prediction("thresholding: exact finite-k tail sum", sw, metric=metric, valid=(1.0 / ratio, hi),
                              curve=curve, alternatives={"asymptote d^-(alpha-1)": s},
                              note=f"(1-1/M) sum_(x>=k) p(x) with k = floor({ratio:g} d) stored tokens; theory slope = "
                                   f"log-log least-squares slope of that exact curve over the fitted d "
                                   f"(finite k); asymptote d^{s:g} (Cabannes et al. 2024) as the alternative")
        if s is None:
            why = "q = 1 on all N tokens: interference of the whole vocabulary does not fall with d" \
                if scheme == "frequency" and rho == 0 else f"rho = {rho:g} <= 1/(2 alpha) or alpha <= 1"
            return Prediction(f"{scheme} (no power law in d)", None, metric=metric, note=why)
        name = "q = p" if scheme == "true" else f"q = p^{rho:g}"
        return Prediction(name, s, metric=metric, valid=(1.0, math.inf),
                          note="recalled iff the weight x^(-alpha rho) beats the interference ~ d^-1/2 "
                               "(Cabannes et al. 2024)")
    if axis == "samples":
        d = float(params.get("width", math.inf))
        s = t_exponent(alpha)
        if scheme == "true":
            return Prediction("q = p (no dependence on T)", None, metric=metric, note="q = p uses the true law")
        if scheme == "learned":
            return Prediction("trained memory (empirical)", None, metric=metric, note="measured only")
        if math.isinf(d):
            curve = lambda x: store_all_seen_error(x, n, alpha)  # noqa: E731
            return Prediction("store all seen tokens (d = inf)", s, metric=metric, curve=curve,
                              note=f"exact E err = sum_x p(x)(1-p(x))^T (N = {n}); asymptotically T^{s:.3g}")
        return Prediction(f"{scheme}, finite d: T term on a d floor", s, metric=metric, law="offset",
                          note="error ~ E_d + A T^-(1-1/alpha)")
    return Prediction(f"no theory for axis {axis!r}", None, metric=metric)


#: The theory the model declares.
THEORY = Theory(predict=predict)
