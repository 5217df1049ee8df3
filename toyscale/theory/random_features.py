"""Theory for random-feature regression (docs/theory.md §1).

Exponents in Bordelon-Atanasov-Pehlevan notation: eigenvalues ``lambda_j ~ j^-b`` with
``b = 2 alpha``, target power ``(b*_j)^2 lambda_j ~ j^-a`` with ``a = 2 alpha + 2 beta``
(``a = b`` for the isotropic MRS teacher, i.e. ``beta = 0``).

=======================================  ==========================  ============================
regime                                   law                         source
=======================================  ==========================  ============================
resolution-limited, model bottleneck     L ~ N^-min(a-1, b)          Bordelon 2024; PLRF F0 floor
resolution-limited, data bottleneck      L ~ P^-min(a-1, 2b)         Bordelon 2024
MRS isotropic teacher                    L ~ N^-alpha_MRS, P^-alpha_MRS  Maloney-Roberts-Sully 2022
variance-limited in data (OLS, P >> N)   L - L(inf) ~ P^-1           Bahri et al. 2021
variance-limited in width (P fixed)      L - L(inf) ~ N^-1           Bahri et al. 2021
=======================================  ==========================  ============================
"""

from __future__ import annotations

import math
from typing import Mapping, Sequence

import numpy as np

from toyscale.models.base import Prediction

#: How far apart two sizes must be for one to count as "much larger" (P >> N).
SEPARATION = 8.0


def exponents(alpha: float, beta: float, teacher: str = "power") -> tuple[float, float]:
    """Return Bordelon's ``(a, b)``: target-power and spectral exponents.

    ``b = 2 alpha``; ``a = 2 alpha + 2 beta`` for ``b*_j = j^-beta``, ``a = 2 alpha`` for the
    isotropic teacher (Bordelon, Atanasov & Pehlevan 2024; Maloney, Roberts & Sully 2022).

    >>> exponents(1.0, 0.25)
    (2.5, 2.0)
    """
    b = 2.0 * alpha
    a = b + (2.0 * beta if teacher == "power" else 0.0)
    return a, b


def width_exponent(alpha: float, beta: float, teacher: str = "power") -> float:
    """Model-bottleneck slope ``-min(a - 1, b)`` of L(N) at P = infinity (Bordelon 2024; PLRF F0).

    >>> width_exponent(1.0, 0.25)
    -1.5
    """
    a, b = exponents(alpha, beta, teacher)
    return -min(a - 1.0, b)


def samples_exponent(alpha: float, beta: float, teacher: str = "power") -> float:
    """Data-bottleneck slope ``-min(a - 1, 2b)`` of L(P) at N = infinity, noiseless, ridge -> 0.

    >>> samples_exponent(1.0, 2.0)
    -4.0
    """
    a, b = exponents(alpha, beta, teacher)
    return -min(a - 1.0, 2.0 * b)


def ols_expected_loss(loss_inf: float | np.ndarray, width: int, samples, noise: float = 0.0):
    """Expected OLS loss with Gaussian features, P > N + 1 (Bahri et al. 2021, variance-limited).

    The residual ``y - z^T theta*`` is Gaussian and independent of the features ``z``, so
    ``E L(P) = L_inf + 1/2 r^2 N / (P - N - 1)`` with residual variance
    ``r^2 = 2 L_inf + sigma^2``; for sigma = 0 this is ``L_inf (1 + N / (P - N - 1))``.
    """
    P = np.asarray(samples, dtype=float)
    r2 = 2.0 * np.asarray(loss_inf) + noise**2
    return loss_inf + 0.5 * r2 * width / (P - width - 1.0)


def predict(axis: str, params: Mapping, xs: Sequence[float], stats: Mapping | None = None) -> Prediction:
    """Predicted slope and regime for a check along ``axis`` in the slice ``params``.

    The regime is decided from the slice: ``samples = inf`` (or P >= 8 max N) puts a width
    sweep in the model bottleneck; ``width = inf`` (or N >= 8 max P) puts a sample sweep in
    the data bottleneck; a finite width with every P >= 8 N puts it in the variance-limited
    regime, whose slope refers to the ``excess`` metric (loss minus its P = inf value).
    The default fit range stops at ``latent_dim / 4``, before the finite-v plateau, and (for
    ridge > 0) before the ridge cut-off ``k ~ ridge^(-1/(2 alpha))``.
    """
    if axis not in ("width", "samples"):
        return Prediction(f"no theory for axis {axis!r}", None, note="random features: theory along width and samples")
    alpha, beta = float(params["alpha"]), float(params["beta"])
    teacher, v = params["teacher"], float(params["latent_dim"])
    ridge, noise = float(params["ridge"]), float(params["noise"])
    xs = [float(x) for x in xs if math.isfinite(float(x))]
    lo_x, hi_x = (min(xs), max(xs)) if xs else (1.0, 1.0)
    hi = v / 4.0
    if ridge > 0:
        hi = min(hi, 0.25 * ridge ** (-1.0 / (2.0 * alpha)))
    valid = (1.0, hi)
    mrs = teacher == "isotropic"
    a, b = exponents(alpha, beta, teacher)
    tag = f"a={a:g}, b={b:g}" + (f", alpha_MRS={2 * alpha - 1:g}" if mrs else "")
    if a <= 1.0:
        return Prediction("no finite-power target (a <= 1)", None, note=tag)
    if axis == "width":
        P = float(params["samples"])
        if P >= SEPARATION * hi_x:
            regime = "MRS isotropic (model bottleneck)" if mrs else "resolution-limited (model bottleneck)"
            if 2 * alpha <= 1:
                return Prediction(regime + ", 2 alpha <= 1", None, valid=valid, note="no v -> inf limit; measured only")
            return Prediction(regime, width_exponent(alpha, beta, teacher), valid=valid,
                              note=f"L ~ N^-min(a-1, b), {tag} (Bordelon 2024; MRS 2022)")
        if ridge == 0 and lo_x >= SEPARATION * P:
            return Prediction("variance-limited (width)", -1.0, law="offset", valid=(SEPARATION * P, math.inf),
                              note="L - L(N=inf) ~ N^-1 (Bahri 2021)")
        return Prediction("crossover (N ~ P)", None, valid=valid, note="double descent at N = P for ridge 0")
    if axis == "samples":
        N = float(params["width"])
        if N >= SEPARATION * hi_x:
            regime = "MRS isotropic (data bottleneck)" if mrs else "resolution-limited (data bottleneck)"
            if noise > 0:
                return Prediction(regime + ", noisy labels", None, valid=valid, note="noise floor; no clean exponent")
            if 2 * alpha <= 1:
                return Prediction(regime + ", 2 alpha <= 1", None, valid=valid, note="no v -> inf limit; measured only")
            return Prediction(regime, samples_exponent(alpha, beta, teacher), valid=valid,
                              note=f"L ~ P^-min(a-1, 2b), {tag} (Bordelon 2024; MRS 2022)")
        if lo_x >= SEPARATION * N:
            note = "E excess = (2 L_inf + sigma^2)/2 * N/(P-N-1) for OLS (Bahri 2021)"
            curve = None
            if ridge > 0:
                note = "ridge > 0: P^-1 holds once P ridge dominates; " + note
            elif stats is not None and "approx" in stats and np.isfinite(stats["approx"]).any():
                l_inf = float(np.nanmean(stats["approx"]))  # measured P = inf loss of this width

                def curve(P, l_inf=l_inf, N=N, noise=noise):
                    return ols_expected_loss(l_inf, N, P, noise) - l_inf

            return Prediction("variance-limited (data)", -1.0, metric="excess", valid=(SEPARATION * N, math.inf),
                              curve=curve, note=note)
        return Prediction("crossover (P ~ N)", None, valid=valid, note="double descent at N = P for ridge 0")
    return Prediction(f"no theory for axis {axis!r}", None)
