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

import numpy as np

from toyscale.theory.base import Frontier, Overlay, Prediction, Slice, Theory

#: A deterministic-equivalent curve is a finite-size prediction: scored at every axis value.
WHOLE_AXIS = (0.0, math.inf)
#: Longest run whose one-pass SGD deterministic equivalent is built for a check (one scan step per SGD step).
DE_MAX_STEPS = 1_000_000

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


def latent_size(params) -> int:
    """The latent dimension a row sees: ``round(latent_ratio * width)`` in PLRF's protocol
    (``latent_ratio > 0``, v grows with the model), else ``latent_dim``."""
    ratio = float(params.get("latent_ratio", 0.0) or 0.0)
    if ratio > 0 and math.isfinite(float(params.get("width", math.inf))):
        return max(1, int(round(ratio * float(params["width"]))))
    return int(params["latent_dim"])


def _de_spectrum(params):
    """``(lambda, b)`` of the slice for the deterministic equivalents: ``b_j = j^-beta`` (power
    teacher) or ``b_j = 1`` for the isotropic teacher (every equivalent is linear in ``b_j^2``,
    so ``E b_j^2 = 1`` gives the teacher-averaged loss)."""
    from toyscale.theory import rf_equivalents as E

    lam, b = E.spectrum(float(params["alpha"]), float(params["beta"]), latent_size(params))
    if params.get("teacher", "power") != "power":
        b = b * 0.0 + 1.0
    return lam, b


def de_ridge(params, axis: str, xs, metric: str = "loss") -> np.ndarray:
    """Deterministic equivalent of the ridge / min-norm learner at each ``x`` of ``xs`` along
    ``axis`` (``width`` or ``samples``; the other size from ``params``): ``metric`` ``loss``,
    ``approx`` (its ``P = inf`` floor ``L*``) or ``excess`` (``loss - approx``).

    :func:`toyscale.theory.rf_equivalents.ridge_loss` (two renormalised ridges; Atanasov,
    Zavatone-Veth & Pehlevan 2024; Bach 2023 for the population case), ``inf`` at the min-norm
    interpolation peak ``N = P``.
    """
    import jax

    from toyscale.theory import rf_equivalents as E

    ridge, noise = float(params.get("ridge", 0.0)), float(params.get("noise", 0.0))
    out = []
    with jax.enable_x64(True):  # float64 by contract, whatever the caller's mode
        lam, b = _de_spectrum(params)
        for x in np.asarray(xs, float).reshape(-1):
            N = x if axis == "width" else float(params["width"])
            P = x if axis == "samples" else float(params["samples"])
            loss, lstar = (float(u) for u in E.ridge_loss(lam, b, N, P, ridge, noise))
            out.append({"loss": loss, "approx": lstar, "excess": loss - lstar}[metric])
    return np.array(out)


def de_trained(params, steps, metric: str = "loss") -> np.ndarray:
    """Deterministic equivalent of a trained learner's curve at the recorded ``steps`` (finite
    width, population data, ridge 0): one-pass SGD (``sgd``, ``sgd_expected``: PLRF's Volterra
    equation, :func:`toyscale.theory.rf_equivalents.sgd_curve`) or population GD
    (:func:`~toyscale.theory.rf_equivalents.gd_population_curve`). ``metric``: ``loss``,
    ``excess`` (``loss - L*``) or ``gap`` (``loss - L_inf``, ``L_inf`` the learner's ``t -> inf``
    limit: ``L*`` for GD, :func:`~toyscale.theory.rf_equivalents.sgd_limit` for SGD)."""
    import jax

    from toyscale.theory import rf_equivalents as E

    N, lr = float(params["width"]), float(params.get("lr_scale", 0.5))
    steps = [int(t) for t in np.asarray(steps, float).reshape(-1)]
    with jax.enable_x64(True):  # float64 by contract, whatever the caller's mode
        lam, b = _de_spectrum(params)
        lstar = float(E.population_loss(lam, b, N))
        if params.get("learner") == "gd":
            loss, l_inf = E.gd_population_curve(lam, b, N, lr, steps), lstar
        else:
            B, noise = int(params.get("batch_size", 1)), float(params.get("noise", 0.0))
            loss = E.sgd_curve(lam, b, N, lr, B, steps, noise)
            l_inf = E.sgd_limit(lam, b, N, lr, B, noise)
        loss = np.asarray(loss, float)
    return {"loss": loss, "excess": loss - lstar, "gap": loss - l_inf}[metric]


def _with_de_curve(axis: str, s: Slice, pred: Prediction) -> Prediction:
    """``pred`` with the deterministic-equivalent curve of the slice, scored over the whole axis,
    where one applies and the prediction has no curve of its own: the ridge learner along
    ``width`` or ``samples``; GD / one-pass SGD along ``steps`` at finite width on population
    data with ridge 0 (runs up to :data:`DE_MAX_STEPS`)."""
    import dataclasses

    params = dict(s.params)
    metric = s.metric or pred.metric
    if pred.curve is not None:
        return pred
    learner = params.get("learner", "ridge")
    curve = None
    if learner == "ridge" and axis in ("width", "samples") and metric in ("loss", "approx", "excess"):
        def curve(x, p=params):
            return de_ridge(p, axis, x, metric)
    elif (axis == "steps" and learner in TRAINED_LEARNERS and metric in ("loss", "excess", "gap")
          and math.isfinite(float(params.get("width", math.inf)))
          and not math.isfinite(float(params.get("samples", math.inf)))
          and float(params.get("ridge", 0.0)) == 0.0
          and max([float(t) for t in s.xs if math.isfinite(float(t))], default=math.inf) <= DE_MAX_STEPS):
        def curve(t, p=params):
            try:
                return de_trained(p, t, metric)
            except ValueError:  # no stable contour (step size at the edge of stability): no curve to score
                return np.full(np.shape(t), np.nan)
    if curve is None:
        return pred
    src = ("PLRF Volterra equation" if learner in ("sgd", "sgd_expected") else
           "GD forcing measure" if learner == "gd" else "two renormalised ridges, Atanasov-Zavatone-Veth-Pehlevan 2024")
    return dataclasses.replace(pred, curve=curve, curve_range=WHOLE_AXIS,
                               note=(pred.note + "; " if pred.note else "") + f"curve: deterministic equivalent ({src})")


#: Learners whose curves along ``steps`` have a deterministic equivalent.
TRAINED_LEARNERS = ("gd", "sgd", "sgd_expected")


def predict(axis: str, s: Slice) -> Prediction:
    """Predicted slope and regime for a check along ``axis`` in the slice ``params``
    (:func:`predict_slope`), with the slice's deterministic-equivalent curve where one applies
    (the ridge learner along width and samples, GD / one-pass SGD along steps): the report
    scores it at every swept value (relative error, median and max)."""
    return _with_de_curve(axis, s, predict_slope(axis, s))


def predict_slope(axis: str, s: Slice) -> Prediction:
    """Predicted slope and regime for a check along ``axis`` in the slice ``params``.

    The regime is decided from the slice: ``samples = inf`` (or P >= 8 max N) puts a width
    sweep in the model bottleneck; ``width = inf`` (or N >= 8 max P) puts a sample sweep in
    the data bottleneck; a finite width with every P >= 8 N puts it in the variance-limited
    regime, whose slope refers to the ``excess`` metric (loss minus its P = inf value).
    The default fit range stops at ``latent_dim / 4``, before the finite-v plateau, and (for
    ridge > 0) before the ridge cut-off ``k ~ ridge^(-1/(2 alpha))``.
    """
    params, xs, stats = s.params, s.xs, s.stats
    if axis == "steps" and params.get("learner", "ridge") != "ridge":
        return predict_time(s)
    if axis not in ("width", "samples"):
        return Prediction(f"no theory for axis {axis!r}", None, note="random features: theory along width, samples, steps")
    if params.get("learner", "ridge") != "ridge" and math.isfinite(float(params.get("steps", math.inf))):
        return Prediction(f"{params['learner']} at finite steps: no {axis} theory (see the frontier)", None)
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


# ---------------------------------------------------------------------------------------------
# Training time and compute: GD (Bordelon, Atanasov & Pehlevan 2024) and one-pass SGD
# (Paquette, Paquette, Xiao & Pennington 2024, "4+3 phases", PLRF).

#: Effective time ``tau = 2 gamma B t`` where the asymptotic laws start (lambda_1 = 1).
TAU_START = 5.0
#: Factor between a crossover time and the edge of the window where one term dominates.
CROSS = 4.0


def time_exponent(alpha: float, beta: float) -> float:
    """Slope of the pure-point forcing ``F_pp(t) ~ t^-(2 alpha + 2 beta - 1)/(2 alpha)``
    (= ``-(a - 1)/b``): L(t) - L* of population GD at infinite width (Bordelon 2024; PLRF).

    >>> time_exponent(1.0, 0.3)
    -0.8
    """
    return -(2.0 * alpha + 2.0 * beta - 1.0) / (2.0 * alpha)


def ac_exponent(alpha: float) -> float:
    """Slope ``-(1 - 1/(2 alpha))`` of PLRF's feature-distortion term
    ``F_ac(r) ~ (sum_j j^-2beta) (2 gamma B r)^-(1 - 1/(2 alpha)) / d`` (2 alpha > 1, 2 beta > 1)."""
    return -(1.0 - 1.0 / (2.0 * alpha))


def noise_exponent(alpha: float) -> float:
    """Slope ``-(2 - 1/(2 alpha))`` of PLRF's SGD-noise kernel ``K_pp(r)``, which sets the noise
    term ``~ gamma^2 B K_pp(r) sum_s L(s)`` where it dominates (phase III)."""
    return -(2.0 - 1.0 / (2.0 * alpha))


def phase(alpha: float, beta: float) -> str:
    """Phase of ``(alpha, beta)`` in PLRF's 4+3 diagram (boundaries alpha = 1/2, beta = 1/2,
    beta = alpha, alpha = 1/4, alpha = 1 - 1/sqrt(2); the problem needs 2 alpha + 2 beta > 1):
    :func:`toyscale.theory.rf_equivalents.plrf_phase`.

    >>> phase(0.75, 0.25), phase(1.0, 0.75), phase(1.0, 2.0), phase(0.3, 0.3), phase(0.2, 2.0), phase(0.27, 1.0), phase(0.4, 1.0)
    ('Ia', 'II', 'III', 'Ib', 'Ic', 'IVa', 'IVb')
    """
    return plrf_frontier(alpha, beta)[0]


def plrf_frontier(alpha: float, beta: float) -> tuple[str, float | None, float | None]:
    """``(phase, xi, eta)`` of one-pass SGD's compute-optimal frontier, ``d* ~ f^xi``,
    ``L* ~ f^-eta``, ``f = steps * width * batch`` in every phase (PLRF's table for Ia, Ib, II,
    III; Ic, IVa, IVb derived from the paper's loss decomposition:
    :func:`toyscale.theory.rf_equivalents.plrf_phase`, docs/theory.md §1.6).

    >>> plrf_frontier(1.0, 0.75)[1:]
    (0.42857142857142855, 0.7142857142857143)
    """
    from toyscale.theory.rf_equivalents import plrf_phase

    return plrf_phase(alpha, beta)


def bordelon_frontier(alpha: float, beta: float, teacher: str = "power") -> tuple[float, float] | None:
    """``(xi, eta)`` of population GD with compute ``C = N t`` where ``a - 1 < b`` (Bordelon,
    Atanasov & Pehlevan 2024): ``L* ~ C^-(a-1)/(1+b)``, ``N* ~ C^(1/(1+b))``; else ``None``.
    Equal to PLRF's phase Ia formulas (a - 1 < b is 2 beta < 1)."""
    a, b = exponents(alpha, beta, teacher)
    if a - 1 < b and 2 * alpha > 1 and a > 1:
        return 1.0 / (1.0 + b), (a - 1.0) / (1.0 + b)
    return None


def f_pp(alpha: float, beta: float, v: int, gamma_b: float, steps) -> np.ndarray:
    """Pure-point forcing at infinite width, ``F_pp(t) = 1/2 sum_j lambda_j b_j^2 (1 - gamma B lambda_j)^(2t)``
    over the ``v`` latent coordinates: L(t) - L* of GD (B = 1) or the mean SGD trajectory with
    features equal to the latent (``S = D``)."""
    j = np.arange(1, int(v) + 1, dtype=float)
    lam = j ** (-2 * alpha)
    w = lam * j ** (-2 * beta)
    t = np.asarray(steps, float)
    base = np.log(np.abs(1.0 - gamma_b * lam))
    return 0.5 * np.exp(np.clip(2.0 * t[:, None] * base[None, :], -745, 0)) @ w


def _effective_size(params) -> float:
    sizes = [float(params.get("width", math.inf)), float(latent_size(params))]
    if params.get("learner") == "gd":
        sizes.append(float(params.get("samples", math.inf)))
    return min(sizes)


def predict_time(s: Slice) -> Prediction:
    """Prediction along ``steps`` for the trained learners, on the ``gap`` metric (``L - L_inf``).

    Effective time ``tau = 2 gamma B t`` (B = 1 for GD), ``gamma = lr_scale / sum lambda``,
    ``d = min(width, latent_dim[, samples])``. PLRF's terms and where each dominates:
    F_pp (slope ``-(2a+2b-1)/(2a)``) from ``tau = 5`` until the F_ac crossover
    ``tau ~ d^(alpha/beta)`` (2 beta > 1) or the finite-size cut-off ``tau ~ d^(2 alpha)``
    (2 beta < 1); in phase III (beta > alpha, SGD) the noise term (slope ``-(2 - 1/(2 alpha))``)
    until ``tau ~ d``; then F_ac (slope ``-(1 - 1/(2 alpha))``). Every law ends where the
    modes that matter, ``k ~ tau^(1/(2 alpha))``, reach ``d / 8`` (``tau = (d/8)^(2 alpha)``). A window
    keeps a factor 4 from each crossover. With ``fit_range`` the regime is the one at the
    window's geometric middle; otherwise the earliest. Curves: F_pp (:func:`f_pp`), the exact
    GD curve when the features are the latent coordinates (``width = inf``, population data);
    at finite width :func:`predict` adds the deterministic equivalent (:func:`de_trained`).
    """
    params = s.params
    alpha, beta = float(params["alpha"]), float(params["beta"])
    learner = params.get("learner", "ridge")
    v = latent_size(params)
    if params.get("teacher", "power") != "power":
        return Prediction("isotropic teacher: no time theory here", None, metric="gap")
    if 2 * alpha + 2 * beta <= 1:
        return Prediction("no finite-power target (2 alpha + 2 beta <= 1)", None, metric="gap")
    B = float(params.get("batch_size", 1)) if learner != "gd" else 1.0
    lam_sum = float(np.sum(np.arange(1, v + 1, dtype=float) ** (-2 * alpha)))
    gamma = float(params.get("lr_scale", 0.5)) / lam_sum
    g2 = 2.0 * gamma * B  # tau = g2 * t
    d = _effective_size(params)
    sgd = learner in ("sgd", "sgd_expected")
    ph = phase(alpha, beta)
    # Finite-size cut-off of every power law: the modes that matter at time tau have index
    # k ~ tau^(1/(2 alpha)); the laws hold while k << d (k <= d / SEPARATION).
    cut = (d / SEPARATION) ** (2 * alpha)
    windows = []  # (name, slope, tau_lo, tau_hi, curve?)
    if 2 * beta < 1:
        windows.append(("pure-point forcing F_pp", time_exponent(alpha, beta), TAU_START, cut, True))
    elif sgd and beta > alpha:
        windows.append(("SGD noise K_pp (phase III)", noise_exponent(alpha), TAU_START, d / CROSS, False))
        windows.append(("feature distortion F_ac", ac_exponent(alpha) if 2 * alpha > 1 else None, CROSS * d, cut, False))
    else:
        x = d ** (alpha / beta)
        windows.append(("pure-point forcing F_pp", time_exponent(alpha, beta), TAU_START, x / CROSS, True))
        windows.append(("feature distortion F_ac", ac_exponent(alpha) if 2 * alpha > 1 else None, CROSS * x, cut, False))
    fr = s.fit_range
    pick = windows[0]
    if fr is not None:
        mid = g2 * math.sqrt(float(fr[0]) * float(fr[1]))
        pick = min(windows, key=lambda w: 0.0 if w[2] <= mid <= w[3] else min(abs(math.log(mid / w[2])), abs(math.log(mid / w[3]))))
    name, slope, lo, hi, has_curve = pick
    if 2 * alpha <= 1 and not name.startswith("pure"):
        slope = None
    if lo >= hi:
        slope = None
        name += " (no window at this size)"
    curve, curve_range = None, None
    population = not math.isfinite(float(params.get("samples", math.inf)))
    if learner == "gd" and population and not math.isfinite(float(params.get("width", math.inf))):
        # Features = the latent coordinates: F_pp is the exact GD curve (L_inf = 0 at ridge 0),
        # so it is scored over the whole axis; with a ridge, inside the F_pp window only.
        if float(params.get("ridge", 0.0)) == 0.0:
            curve_range = WHOLE_AXIS
        if curve_range is not None or (has_curve and slope is not None):
            def curve(t, alpha=alpha, beta=beta, v=v, g=gamma):
                return f_pp(alpha, beta, v, g, t)
    src = "Bordelon 2024; PLRF F_pp" if name.startswith("pure") else "PLRF (Paquette et al. 2024)"
    return Prediction(f"{name}; phase {ph}", slope, metric="gap", valid=(lo / g2, hi / g2), curve=curve, curve_range=curve_range,
                      note=f"L - L_inf along steps, tau = 2 gamma B t in [{lo:.3g}, {hi:.3g}], d = {d:g} ({src})")


def frontier(s: Slice) -> Frontier | None:
    """Compute-optimal frontier of a slice (``s.axis`` the size axis): PLRF's 4+3 phases for
    one-pass SGD, Bordelon's exponents for population GD where ``a - 1 < b``; ``eta``/``xi``
    ``None`` where open."""
    params = s.params
    learner = params.get("learner", "ridge")
    if s.axis != "width" or learner == "ridge":
        return None
    alpha, beta = float(params["alpha"]), float(params["beta"])
    if learner == "gd":
        fb = bordelon_frontier(alpha, beta, params.get("teacher", "power"))
        if fb is None:
            return Frontier("GD outside a - 1 < b", None, None, note="open here: measured only")
        return Frontier(f"GD, a - 1 < b (phase {phase(alpha, beta)})", fb[1], fb[0],
                        note="L* ~ C^-(a-1)/(1+b), N* ~ C^(1/(1+b)), C = N t (Bordelon 2024)")
    ph, xi, eta = plrf_frontier(alpha, beta)
    src = {"Ic": "; derived from PLRF's F_pp = F_0 balance", "IVa": "; derived from PLRF's F_pp = noise balance",
           "IVb": "; derived from PLRF's noise = F_0 balance"}.get(ph, "")
    return Frontier(f"phase {ph}", eta, xi, note="PLRF 4+3 phases, f = steps * width * batch" + src
                    + ("" if eta is not None else "; open"))


def overlays(over: tuple[str, str], s: Slice) -> tuple[Overlay, ...]:
    """PLRF's phase boundaries when a map is drawn over ``alpha`` and ``beta``: alpha = 1/2,
    beta = 1/2, beta = alpha (alpha >= 1/2), alpha = 1/4 (beta > 1/2, Ic | IVa; dashed),
    alpha = 1 - 1/sqrt(2) (beta > 1/2, IVa | IVb) and alpha + beta = 1/2 (dotted) (Paquette,
    Paquette, Xiao & Pennington 2024, Fig. 2; the IVa | IVb line as derived in docs/theory.md §1.6)."""
    if set(over) != {"alpha", "beta"}:
        return ()
    t = np.linspace(0.0, 4.0, 400)
    hi = t[t >= 0.5]
    lo = t[t <= 0.5]
    return (Overlay({"alpha": np.full_like(t, 0.5), "beta": t}, "alpha = 1/2"),
            Overlay({"alpha": t, "beta": np.full_like(t, 0.5)}, "beta = 1/2"),
            Overlay({"alpha": hi, "beta": hi}, "beta = alpha"),
            Overlay({"alpha": np.full_like(hi, 0.25), "beta": hi}, "alpha = 1/4"),
            Overlay({"alpha": np.full_like(hi, 1 - 1 / math.sqrt(2)), "beta": hi}, "alpha = 1 - 1/sqrt(2)"),
            Overlay({"alpha": lo, "beta": 0.5 - lo}, "alpha + beta = 1/2", style="dotted"))


#: The theory the model declares.
THEORY = Theory(predict=predict, frontier=frontier, overlays=overlays)
