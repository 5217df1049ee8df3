"""Theory for model collapse from tail-cut data (docs/theory.md, "Model collapse from tail-cut data").

Dohmatob, Feng, Yang, Charton & Kempe 2024, *A tale of tails: model collapse as a change of
scaling laws* (ICML 2024, arXiv:2402.07043); the memory is Hutter's (2021, *Learning curve
theory*) "store every seen token" learner.

Tokens ``i = 1 .. N`` with Zipf probabilities ``p_i ∝ i^-alpha`` (``alpha > 1`` for the laws
below). A memory is trained on ``T`` tokens drawn i.i.d. from a *training law* ``r`` and knows a
token iff it stored it; its test error is the clean mass of what it does not know,
``E = Σ_i p_i 1{i not stored}``.

* Tail-cut data: ``q^(k)_i = p_i 1{i <= k} / Σ_(j <= k) p_j`` (a generator that never emits the
  rare tokens), mixed with a clean fraction ``pi``: ``r = pi p + (1 - pi) q^(k)``.
* The store-all-seen memory loses token ``i`` iff none of the T draws is ``i``, probability
  ``(1 - r_i)^T`` exactly (marginal of a multinomial), so

      E(T, k, pi) = Σ_i p_i (1 - r_i)^T,      pi = 0:  Σ_(i > k) p_i + Σ_(i <= k) p_i (1 - q_i)^T.

  The first term of the ``pi = 0`` form is the floor ``Σ_(i>k) p_i ~ k^-(alpha-1) / ((alpha-1) ζ(alpha))``
  (Dohmatob et al.'s Theorem: ``E ≍ T^-(1-1/alpha) + k^-(alpha-1)``); below it the usual
  ``T^-(1-1/alpha)`` of Hutter's memory.
* Generations: generation ``g + 1`` is trained on ``T`` draws from ``pi p + (1 - pi) q_g``, where
  ``q_g`` is what generation ``g`` *generates*: the empirical frequencies of the tokens it stored
  (counts / their sum). A token's count is then a branching process with immigration; with
  Poisson(1 - pi) offspring per copy and Binomial(T, pi p_i) clean immigrants per generation its
  generating function gives the loss probability (module function :func:`chain_error`).
"""

from __future__ import annotations

import math

import numpy as np

from toyscale.theory.associative_memory import zipf_probs
from toyscale.theory.base import Prediction, Slice, Theory


def tail_cut_law(p: np.ndarray, k) -> np.ndarray:
    """``q^(k)_i = p_i 1{i <= k} / Σ_(j <= k) p_j`` (``k = inf``: ``p`` itself); ``p`` sorted
    decreasing, token ``i`` at index ``i - 1``.

    >>> tail_cut_law(np.array([0.5, 0.3, 0.2]), 2).round(3).tolist()
    [0.625, 0.375, 0.0]
    """
    p = np.asarray(p, np.float64)
    if math.isinf(float(k)):
        return p.copy()
    q = np.where(np.arange(p.shape[0]) < int(k), p, 0.0)
    return q / q.sum()


def tail_mass(n: int, alpha: float, k) -> float:
    """The floor ``Σ_(i > k) p_i`` of a tail cut at rank ``k`` (0 for ``k = inf`` or ``k >= N``).

    >>> round(tail_mass(3, 0.0, 1), 12)
    0.666666666667
    """
    if math.isinf(float(k)) or int(k) >= n:
        return 0.0
    p = zipf_probs(n, alpha)
    return float(p[int(k):].sum())


def floor_exponent(alpha: float) -> float | None:
    """Slope of log(floor) vs log(k): ``-(alpha - 1)`` (``Σ_(i>k) i^-alpha ~ k^(1-alpha)/(alpha-1)``).

    >>> floor_exponent(1.5)
    -0.5
    """
    return -(alpha - 1.0) if alpha > 1 else None


def t_exponent(alpha: float) -> float | None:
    """Slope of log(error) vs log(T) below the floor: ``-(1 - 1/alpha)`` (Hutter 2021).

    >>> t_exponent(2.0)
    -0.5
    """
    return -(1.0 - 1.0 / alpha) if alpha > 1 else None


def _lost_log(r: np.ndarray, T) -> np.ndarray:
    """``log (1 - r)^T`` elementwise (``-inf`` where ``r = 1``; ``T = inf``: 0 where ``r = 0``, else ``-inf``)."""
    with np.errstate(divide="ignore"):
        if math.isinf(float(T)):
            return np.where(r > 0, -np.inf, 0.0)
        return float(T) * np.log1p(-np.minimum(r, 1.0))


def chain_error(T, n: int, alpha: float, k=math.inf, generation: int = 0, clean_fraction: float = 0.0) -> float:
    """Expected error of the store-all-seen memory of generation ``g`` (``g = 0``: trained on
    ``T`` draws of ``r_0 = pi p + (1 - pi) q^(k)``).

    ``g = 0`` is exact: ``Σ_i p_i (1 - r_0,i)^T``. For ``g >= 1`` the count ``c_g`` of token
    ``i`` is, given ``c_(g-1)``, Binomial(T, pi p_i + (1 - pi) c_(g-1)/T) (the memory generates
    its empirical frequencies ``c/T``). Splitting the draws into clean immigrants
    Binomial(T, pi p_i) and copies of the previous generation's tokens, each copy of ``c_(g-1)``
    leaving Poisson(1 - pi) copies (the binomial's Poisson limit, exact to ``O(c/T)``), the
    generating function ``G_g(s) = E s^(c_g)`` obeys ``G_g(s) = B(s) G_(g-1)(φ(s))`` with
    ``B(s) = (1 - pi p_i (1 - s))^T`` and ``φ(s) = exp(-(1 - pi)(1 - s))``, so

        P(token i lost at g) = G_g(0) = Π_(j<g) B(s_j) · (1 - r_0,i (1 - s_g))^T,
        s_0 = 0,  s_(j+1) = φ(s_j).

    ``pi = 0``: ``1 - s_g ≈ 2/g`` (a critical Galton-Watson lineage survives g generations with
    probability ~ 2/g), so generation ``g`` sees an effective sample ``~ 2T/g``: the error grows
    as ``g^(1-1/alpha)``. ``pi > 0``: ``1 - s_j`` falls as ``(1 - pi)^j`` and the loss
    probability tends to ``exp(-T p_i pi S(pi))``, ``S = Σ_j (1 - s_j)``: the clean law at an
    effective sample ``pi S(pi) T`` (recovery). ``T = inf``: the memory stores the support of
    its training law (exact).

    >>> round(chain_error(10, 50, 1.5, 5, 0), 6) == round(float(np.sum(zipf_probs(50, 1.5)[5:])) + float(np.sum(zipf_probs(50, 1.5)[:5] * (1 - tail_cut_law(zipf_probs(50, 1.5), 5)[:5]) ** 10)), 6)
    True
    """
    p = zipf_probs(n, alpha)
    pi = float(clean_fraction)
    r0 = pi * p + (1.0 - pi) * tail_cut_law(p, k)
    g = int(generation)
    if math.isinf(float(T)):
        return float(np.sum(p[r0 <= 0])) if pi == 0 else 0.0
    s = [0.0]
    for _ in range(g):
        s.append(math.exp(-(1.0 - pi) * (1.0 - s[-1])))
    log_lost = _lost_log(r0 * (1.0 - s[g]), T)
    for j in range(g):
        log_lost = log_lost + _lost_log(pi * p * (1.0 - s[j]), T)
    return float(np.sum(p * np.exp(log_lost)))


def chain_errors(Ts, n, alpha, k=math.inf, generation=0, clean_fraction=0.0) -> np.ndarray:
    """:func:`chain_error` at each ``T`` of ``Ts`` (array in, array out)."""
    Ts = np.asarray(Ts, dtype=np.float64)
    flat = [chain_error(t, n, alpha, k, generation, clean_fraction) for t in np.atleast_1d(Ts).ravel()]
    return np.asarray(flat).reshape(Ts.shape)


def survival(g: int, clean_fraction: float = 0.0) -> float:
    """``1 - s_g``: the probability that a single copy's lineage survives ``g`` generations of
    Poisson(1 - pi) offspring (``s_0 = 0``, ``s_(j+1) = exp(-(1 - pi)(1 - s_j))``); ``pi = 0``:
    ``~ 2/g`` (Kolmogorov's estimate for a critical Galton-Watson process of variance 1).

    >>> round(survival(1), 6) == round(1 - math.exp(-1), 6)
    True
    """
    s = 0.0
    for _ in range(int(g)):
        s = math.exp(-(1.0 - float(clean_fraction)) * (1.0 - s))
    return 1.0 - s


def survival_exponent(gs) -> float:
    """Least-squares slope of ``log(1 - s_g)`` against ``log g`` over the generations ``gs``
    (``pi = 0``): the local exponent of a critical lineage's survival, ``-> -1`` as ``g -> inf``
    (about -0.9 over g in [8, 64]).

    >>> -1.0 < survival_exponent([8, 16, 32, 64]) < -0.8
    True
    """
    x = np.log(np.asarray(gs, float))
    y = np.log([survival(int(g)) for g in gs])
    return float(np.polyfit(x, y, 1)[0])


def effective_samples_factor(clean_fraction: float, generations: int = 10_000) -> float:
    """``pi S(pi)``: the stationary chain with clean fraction ``pi`` loses rare token ``i`` with
    probability ``exp(-pi S(pi) T p_i)``, ``S = Σ_(j >= 0) (1 - s_j)`` (:func:`chain_error`), i.e.
    it is the clean memory at ``T_eff = pi S(pi) T`` (``pi = 1``: 1; ``pi -> 0``: ``~ 2 pi log(1/pi)``).

    >>> round(effective_samples_factor(1.0), 12)
    1.0
    """
    pi = float(clean_fraction)
    s, tot = 0.0, 0.0
    for _ in range(int(generations)):
        tot += 1.0 - s
        s = math.exp(-(1.0 - pi) * (1.0 - s))
        if 1.0 - s < 1e-15:
            break
    return pi * tot


def threshold_error(T, n: int, alpha: float, k=math.inf, capacity=math.inf, clean_fraction: float = 0.0) -> float:
    """Approximate error of the capacity-limited (thresholding) memory at generation 0: it stores
    the ``d = capacity`` most frequent seen tokens, so its error is at least the store-all-seen
    error and at least the mass beyond the ``d`` most probable tokens of its training law:
    ``max(E_seen(T, k, pi), Σ_(i > m) p_i)``, ``m = min(k, d)`` (``d`` when ``pi > 0``).
    Dohmatob et al.'s triplet law ``E ≍ T^-(1-1/alpha) + k^-(alpha-1) + d^-(alpha-1)``. Exact at
    ``T = inf``; at finite ``T`` tokens ranked near ``d`` by their counts are swapped (measured:
    docs/theory.md).

    >>> threshold_error(math.inf, 10, 1.0, capacity=10) == 0.0
    True
    """
    m = capacity if clean_fraction > 0 else min(float(k), float(capacity))
    return max(chain_error(T, n, alpha, k, 0, clean_fraction), tail_mass(n, alpha, m))


def crossover_samples(n: int, alpha: float, k, clean_fraction: float = 0.0, generation: int = 0) -> float:
    """The ``T`` at which the data term ``E - floor`` of :func:`chain_error` falls to the floor
    ``Σ_(i>k) p_i`` (``inf`` when there is no floor: ``k = inf`` or ``pi > 0``). Below it the
    error follows ``T^-(1-1/alpha)``; above it, the floor."""
    if math.isinf(float(k)) or clean_fraction > 0 or int(k) >= n:
        return math.inf
    fl = tail_mass(n, alpha, k)
    lo, hi = 1.0, 1e15
    for _ in range(200):
        mid = math.sqrt(lo * hi)
        if chain_error(mid, n, alpha, k, generation, 0.0) - fl > fl:
            lo = mid
        else:
            hi = mid
        if hi / lo < 1.001:
            break
    return math.sqrt(lo * hi)


def _curve(memory, n, alpha, k, g, pi, d):
    if memory == "threshold" and not math.isinf(float(d)):
        if g == 0:
            return lambda x: np.asarray([threshold_error(t, n, alpha, k, d, pi) for t in np.atleast_1d(x)])
        return None
    return lambda x: chain_errors(x, n, alpha, k, g, pi)


def predict(axis: str, s: Slice) -> Prediction:
    """Slope and curve of ``error`` along ``samples`` (T), ``tail_cut`` (k), ``generation`` or
    ``clean_fraction``.

    * ``samples``: ``-(1-1/alpha)`` below the crossover to the floor (valid up to a tenth of
      :func:`crossover_samples`), curve :func:`chain_errors`;
    * ``tail_cut``: the floor's ``-(alpha-1)`` where the data term is negligible (``T`` draws
      see every kept token: ``T q_k >= 20``) and the vocabulary's end is far (``k <= N/1000``);
    * ``generation`` (``pi = 0``, no floor): ``+(1-1/alpha)`` for ``g >= 4`` (effective
      sample ``2T/g``); with ``pi > 0`` no exponent (the chain saturates), curve only;
    * ``clean_fraction``: curve only.
    """
    params = s.params
    metric = s.metric or "error"
    if metric != "error":
        return Prediction(f"no theory for {metric}", None, metric=metric)
    alpha = float(params.get("zipf_exponent", 1.5))
    n = int(params.get("vocab", 100000))
    k = float(params.get("tail_cut", math.inf))
    T = float(params.get("samples", 100000))
    g = int(params.get("generation", 0))
    pi = float(params.get("clean_fraction", 0.0))
    memory = params.get("memory", "seen")
    d = float(params.get("capacity", math.inf))
    limited = memory == "threshold" and not math.isinf(d)
    if alpha <= 1:
        return Prediction("alpha <= 1: no power law", None, metric=metric,
                          curve=_curve(memory, n, alpha, k, g, pi, d) if axis == "samples" else None)
    c = t_exponent(alpha)
    if axis == "samples" and limited:
        return Prediction("capacity-limited memory (triplet law)", None, metric=metric,
                          curve=_curve(memory, n, alpha, k, g, pi, d),
                          note="E ≍ T^-(1-1/alpha) + k^-(alpha-1) + d^-(alpha-1) (Dohmatob et al. 2024); curve: the "
                               "bound max(E_seen, Σ_(i>min(k,d)) p_i), exact at T = inf")
    if axis == "samples":
        cross = crossover_samples(n, alpha, k, pi, g) if not limited else math.inf
        hi = cross / 10.0 if math.isfinite(cross) else math.inf
        if hi <= 1.0:
            return Prediction("floor-limited (tail cut below every T)", None, metric=metric,
                              curve=_curve(memory, n, alpha, k, g, pi, d),
                              note=f"the floor Σ_(i>k) p_i dominates from T* = {cross:.3g} on")
        if s.fit_range is not None and s.fit_range[1] > hi:
            return Prediction("bent scaling law (across the floor)", None, metric=metric,
                              curve=_curve(memory, n, alpha, k, g, pi, d),
                              note=f"T^{c:.3g} below T* = {cross:.3g}, the floor Σ_(i>k) p_i above: no single "
                                   f"exponent; the exact curve is scored")
        if 0 < pi < 1 and math.isfinite(k):
            return Prediction("tail-cut data with clean draws (plateau, then recovery)", None, metric=metric,
                              curve=_curve(memory, n, alpha, k, g, pi, d),
                              note="the clean draws restore the tail: ~ (pi T)^-(1-1/alpha) once pi T p_k >> 1")
        return Prediction("data-limited (below the tail-cut floor)", c, metric=metric, valid=(1.0, hi),
                          curve=_curve(memory, n, alpha, k, g, pi, d),
                          note=f"Hutter memory on tail-cut data: E = Σ p_i (1 - r_i)^T ~ T^{c:.3g} below the floor "
                               f"Σ_(i>k) p_i (Dohmatob et al. 2024); crossover T* = {cross:.3g}")
    if axis == "tail_cut":
        f = floor_exponent(alpha)
        p = zipf_probs(n, alpha)
        if math.isinf(T):
            kmax = n / 1000.0
        else:
            cum = np.cumsum(p)
            q = p / cum  # q_k of the cut at k = its own last token's probability
            ok = np.nonzero(T * q >= 20.0)[0]
            kmax = min(n / 1000.0, float(ok[-1] + 1) if ok.size else 0.0)
        curve = (lambda x: np.asarray([chain_error(T, n, alpha, kk, g, pi) for kk in np.atleast_1d(x)])) \
            if not limited else None
        if pi > 0 or g > 0:
            return Prediction("tail cut with clean data or generations", None, metric=metric, curve=curve,
                              note="the floor is for pi = 0, generation 0")
        if kmax < 2:
            return Prediction("tail-cut floor (no k in the power-law window)", None, metric=metric, curve=curve,
                              note="no k with T q_k >= 20 and k <= N/1000: the floor's power law is not reached")
        return Prediction("tail-cut floor", f, metric=metric, valid=(1.0, kmax), curve=curve,
                          note=f"floor Σ_(i>k) p_i ~ k^{f:.3g} (Dohmatob et al. 2024); valid while every kept "
                               f"token is seen (T q_k >= 20) and k <= N/1000 (k <= {kmax:g})")
    if axis == "generation":
        curve = (lambda x: np.asarray([chain_error(T, n, alpha, k, int(gg), pi) for gg in np.atleast_1d(x)])) \
            if not limited else None
        if pi == 0 and math.isinf(k) and math.isfinite(T):
            lo, hi = (s.fit_range or (4.0, T / 100.0))
            gs = [float(x) for x in s.xs if lo <= float(x) <= hi and float(x) >= 1]
            loc = survival_exponent(gs) if len(gs) >= 2 else -1.0
            return Prediction("self-consuming chain (no clean data)", c * loc, metric=metric, valid=(lo, hi),
                              curve=curve, alternatives={"asymptote g^(1-1/alpha)": -c},
                              note=f"effective sample T (1 - s_g): error ~ (1 - s_g)^{c:.3g}, and 1 - s_g (a critical "
                                   f"branching lineage's survival) ~ g^{loc:.3f} over the fitted g (-> 2/g: "
                                   f"asymptote g^{-c:.3g})")
        return Prediction("chain with a floor or clean data", None, metric=metric, curve=curve, valid=(1.0, math.inf),
                          note="pi > 0: saturates at the clean memory with T_eff = pi S(pi) T")
    if axis == "clean_fraction":
        curve = (lambda x: np.asarray([chain_error(T, n, alpha, k, g, float(pp)) for pp in np.atleast_1d(x)])) \
            if not limited else None
        return Prediction("clean-data mixing (recovery)", None, metric=metric, curve=curve, valid=(1e-9, 1.0),
                          note="E = Σ p_i (1 - pi p_i - (1 - pi) q_i)^T at generation 0; chain: see chain_error")
    return Prediction(f"no theory for axis {axis!r}", None, metric=metric)


#: The theory the model declares.
THEORY = Theory(predict=predict)
