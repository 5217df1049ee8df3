"""Toy model of superposition, trained with signed weight decay (docs/theory.md §2).

Liu, Liu & Gore 2025, *Superposition Yields Robust Neural Scaling*; Elhage et al. 2022, *Toy
Models of Superposition*.

Data (fresh every step, no fixed data set): ``n`` features, feature ``i`` active with
probability ``p_i = i^-(1+alpha) / sum_j j^-(1+alpha)`` and then valued ``v ~ Uniform(0, 2)``
(``value_dist = "uniform02"``, Liu et al.) or ``Uniform[0, 1)`` (``"uniform01"``, Anthropic).
One uniform per entry suffices: ``x_i = c u_i / p_i`` if ``u_i < p_i`` else 0 (``c`` = 2 or 1),
because ``u / p`` given ``u < p`` is Uniform[0, 1).

Frequency laws (``freq_law``): ``"power"`` (above), ``"exponential"`` ``p_i ~ exp(-(i-1)/s)``
(``s = freq_scale``) and ``"linear"`` ``p_i ~ n + 1 - i``, each normalised -- the three laws of the
paper's large runs (power law ``i^-1.2``, exponential with scale 1000, linear).

Two conventions for the frequency exponent: the parameter ``alpha`` is the reference *code*'s
``a`` (``p_i ~ i^-(1+a)``, valid for ``a >= -1``; ``a = -1`` is uniform); the *paper* writes
``p_i ~ i^-alpha_paper`` with ``alpha_paper = 1 + a``, so the code's ``a in [-1, 1]`` is the
paper's ``alpha_paper in [0, 2]``. Figures of the frequency axis are labelled in ``alpha_paper``.

Network: ``y = ReLU(x W W^T + b)``, ``W in R^(n x m)`` initialised ``N(0, 1/m)``, ``b ~ N(0, 1)``.
Loss: ``mean_i I_i (y_i - x_i)^2`` over batch and outputs, importance ``I_i = r^(i-1)``
(``importance = r``; 1 = plain MSE).

Optimiser: Adam (0.9, 0.999, 1e-8), then :func:`signed_weight_decay` on ``W`` only, then the
learning rate: linear warm-up to the peak over ``warmup`` steps, cosine decay to 5 % of it. Peaks
per parameter (:func:`peak_lrs`): ``lr_W = lr (m0/m)^q_W`` and ``lr_b = lr_bias_ratio lr (m0/m)^q_b``
(``m0 = lr_ref_width``); the defaults (``q = 0``, ratio 1) give one ``lr`` for both, the paper's
large runs ``lr_W = 0.02 (8/m)^(1/4)``, ``lr_b = 2/m``.

Widths are a ``shape`` parameter: a width-``m`` model trained in a bucket of ``M >= m`` columns
keeps columns ``j >= m`` exactly zero (zero init, zero gradient -- ``x W W^T`` is linear in each
column -- and a masked update), and column ``j`` is initialised from ``fold_in(key, j)``, so the
padded model computes the unpadded one.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from toyscale.errors import UserError
from toyscale.models import register
from toyscale.models.base import indexed_normal, uniform as draw_uniform
from toyscale.models.numerics import end_window_stats, record_mask, window
from toyscale.protocol import Metric, Model, Status, device_program, exact_bucket, pow2_bucket
from toyscale.params import Param
from toyscale.theory import superposition as theory

#: The ``loss`` at a recorded step ``s`` is the mean per-step loss over the last
#: ``FINAL_FRACTION`` of the first ``s`` steps (at ``s = horizon``: the final stretch).
FINAL_FRACTION = 0.1
#: A feature is represented when its row norm ``||W_i||`` exceeds this.
REPRESENTED_NORM = 0.5
#: A row is ``unconverged`` when its loss fell by more than ``DRIFT_FLAG`` between the last two
#: 10 % stretches before its step AND by more than ``NOISE_FLAG`` standard errors of that
#: difference (``sqrt(2) loss_sem``: the per-step losses are fresh-sample estimates, so a drift
#: of a few percent can be sampling noise at small batch).
DRIFT_FLAG = 0.05
NOISE_FLAG = 3.0
#: A represented pair ``(i, j)`` is *near-antipodal* when ``cos(W_i, W_j) <= -ANTIPODAL_COS``.
ANTIPODAL_COS = 0.9
#: Upper quantiles of the squared row overlaps reported per run.
OVERLAP_QUANTILES = (0.5, 0.9, 0.99)
#: Rank bins of the interference profile, in units of the width m: bin j holds the ranks
#: ``INTERFERENCE_BINS[j] m < k <= INTERFERENCE_BINS[j + 1] m`` (defined on the theory side,
#: which predicts the binned profile).
INTERFERENCE_BINS = theory.INTERFERENCE_BINS
#: Learning rate at the end of the cosine schedule, as a fraction of the peak.
END_LR_FRACTION = 0.05

PARAMS = (
    Param("n_features", int, 1000, "n, number of features", low=2, high=100_000, role="static"),
    Param("width", int, 32, "m, hidden width (columns of W)", low=1, high=100_000, role="shape"),
    Param("alpha", float, 0.2, "code frequency exponent a: p_i ~ i^-(1+a), normalised; paper's alpha_paper = 1 + a; "
          "a = -1: uniform", low=-1.0),
    Param("weight_decay", float, -1.0, "signed decay on W: > 0 decoupled decay (weak), < 0 row-norm growth to 1 (strong)"),
    Param("lr", float, 1e-2, "peak learning rate (Adam) of W at width lr_ref_width (of every parameter by default)",
          low=0.0, low_open=True),
    Param("lr_width_exponent", float, 0.0, "q_W: peak lr of W is lr (lr_ref_width / m)^q_W (paper's large runs: 0.25)"),
    Param("lr_bias_ratio", float, 1.0, "peak lr of b is lr_bias_ratio lr (lr_ref_width / m)^q_b (paper's large runs: "
          "12.5 with lr 0.02, q_b = 1: 2/m)", low=0.0),
    Param("lr_bias_width_exponent", float, 0.0, "q_b: width exponent of the bias learning rate"),
    Param("lr_ref_width", float, 8.0, "m0: the width at which the peak lr of W is lr", low=0.0, low_open=True),
    Param("freq_law", str, "power", "feature frequencies: 'power' p_i ~ i^-(1+alpha), 'exponential' p_i ~ "
          "exp(-(i-1)/freq_scale), 'linear' p_i ~ n + 1 - i (alpha unused by the last two)",
          choices=theory.FREQ_LAWS, role="static"),
    Param("freq_scale", float, 1000.0, "scale s of the exponential law p_i ~ exp(-(i-1)/s)", low=0.0, low_open=True),
    Param("interference", str, "binned", "interference profile I_k stored as 'binned' means over rank bins, or "
          "'full': also the whole profile (n values per row)", choices=("binned", "full"), role="static"),
    Param("batch_size", int, 2048, "fresh samples per step", low=1, role="static"),
    Param("horizon", int, 20000, "schedule length: warm-up, then cosine decay to 5 % of lr at this step (sets the "
          "schedule only; training stops at the largest recorded step)", low=1, role="static"),
    Param("steps", int, 20000, "recorded step s <= horizon (time axis; default: the horizon); training runs to the "
          "largest recorded step, not to the horizon", low=1, role="nested", default_from="horizon"),
    Param("warmup", int, 2000, "linear warm-up steps, then cosine decay to 5 % of lr", low=0, role="static"),
    Param("value_dist", str, "uniform02", "value of an active feature: 'uniform02' U(0,2) (Liu et al.), 'uniform01' U[0,1) (Anthropic)",
          choices=("uniform02", "uniform01"), role="static"),
    Param("importance", float, 1.0, "importance weights I_i = importance^(i-1) in the loss (1: plain MSE; Anthropic: < 1)",
          low=0.0, low_open=True, high=1.0),
)

METRICS = (
    Metric("loss", f"loss (fresh samples: population loss) averaged over the last {FINAL_FRACTION:.0%} of the first `steps` steps"),
    Metric("drift", "(mean loss of the previous stretch - of the last stretch) / last: ~0 when converged"),
    Metric("loss_sem", "standard error of the last-stretch mean over its steps, relative to it (sampling noise of loss)"),
    Metric("represented_fraction", f"fraction of features with row norm ||W_i|| > {REPRESENTED_NORM} at `steps`"),
    Metric("mean_sq_overlap", "mean over pairs i != j of represented features of (W_i.W_j / |W_i||W_j|)^2 at `steps`"),
    Metric("overlap_times_m", "mean_sq_overlap * m (1 for random unit vectors; ~const in strong superposition)"),
    Metric("sq_overlap_median", "median over pairs i < j of represented rows of cos^2(W_i, W_j) at `steps` "
                                "(null when fewer than 2 rows are represented)", optional=True),
    Metric("sq_overlap_q90", "90 % quantile of the same squared overlaps", optional=True),
    Metric("sq_overlap_q99", "99 % quantile of the same squared overlaps", optional=True),
    Metric("antipodal_fraction", f"fraction of represented pairs with cos(W_i, W_j) <= -{ANTIPODAL_COS:g} "
                                 "(near-antipodal)", optional=True),
    Metric("interference_mean", "mean over ranks k of I_k = sum_(i != k, i represented) cos^2(W_i, W_k) at `steps`"),
    Metric("interference_top_ratio", "mean I_k over the m/2 most frequent features / mean I_k over the rest "
                                     "(1: flat profile; 0: the frequent features orthogonal to all)", optional=True),
    *(Metric(f"interference_b{j}", f"mean I_k over ranks {lo:g} m < k <= {hi:g} m (null when no rank is in the bin)",
             optional=True)
      for j, (lo, hi) in enumerate(zip(INTERFERENCE_BINS[:-1], INTERFERENCE_BINS[1:]))),
    Metric("interference_profile", "the whole profile I_k, k = 1..n (only with interference = 'full')", optional=True),
)

TRANSIENT = Status("transient", "recorded before the convergence test can judge the run: the two stretches the drift "
                                "compares do not both lie after the warm-up (a valid measurement of a run still in its "
                                "transient; fitted by default and flagged, like unconverged)", usable=True)
UNCONVERGED = Status("unconverged", f"loss still falling at this step: drift > {DRIFT_FLAG:.0%} and > {NOISE_FLAG:g} "
                                    "sqrt(2) loss_sem (a valid measurement at this budget; fitted, counted)", usable=True)


# ----------------------------------------------------------------------------- data


def feature_probs(n: int, alpha, dtype=None, law: str = "power", scale=1000.0) -> jax.Array:
    """``p_i = i^-(1+alpha) / sum_j j^-(1+alpha)`` for ``i = 1..n`` (``alpha`` may be traced).

    Other laws (``law``, static): ``"exponential"`` ``p_i ~ exp(-(i-1)/scale)`` (``scale`` may be
    traced), ``"linear"`` ``p_i ~ n + 1 - i``; both normalised (Liu, Liu & Gore 2025, large runs).

    ``alpha`` is the reference *code*'s exponent ``a >= -1``; the paper (Liu, Liu & Gore 2025)
    writes ``p_i ~ i^-alpha_paper`` with ``alpha_paper = 1 + a`` in ``[0, 2]`` for ``a`` in
    ``[-1, 1]``. ``a = -1`` gives uniform frequencies ``1/n``; for every ``a >= -1`` the
    frequencies do not increase with rank.
    """
    i = jnp.arange(1, n + 1, dtype=dtype or jnp.result_type(float))
    if law == "exponential":
        logp = -(i - 1.0) / scale
    elif law == "linear":
        logp = jnp.log(n + 1.0 - i)
    elif law == "power":
        logp = -(1.0 + alpha) * jnp.log(i)
    else:
        raise ValueError(f"freq_law {law!r}; allowed: {', '.join(theory.FREQ_LAWS)}")
    return jax.nn.softmax(logp)


def sample_features(key, p: jax.Array, batch: int, value_dist: str = "uniform02") -> jax.Array:
    """A batch ``(batch, n)`` of sparse features: ``x_i = c u_i / p_i`` if ``u_i < p_i`` else 0.

    ``P(x_i != 0) = p_i``, and given activity ``x_i ~ Uniform(0, c)``, ``c = 2`` for
    ``"uniform02"``, ``1`` for ``"uniform01"``: one uniform per entry (docs/theory.md §2).
    """
    c = 2.0 if value_dist == "uniform02" else 1.0
    u = draw_uniform(key, (batch, p.shape[0]), p.dtype)
    return jnp.where(u < p[None, :], (c * u) / p[None, :], 0.0)


# ----------------------------------------------------------------------------- network


def _column_normal(key, shape, dtype=jnp.float32):
    """Flax initialiser: standard normal ``(n, M)`` whose column ``j`` depends only on ``fold_in(key, j)``."""
    n, cols = shape
    return indexed_normal(key, cols, (n,), dtype).T


class TiedReLU(nn.Module):
    """``y = ReLU(x W W^T + b)`` for one example ``x`` of shape ``(n,)`` (Elhage et al. 2022).

    ``W`` is initialised standard normal per column; :func:`init_params` rescales it to
    ``N(0, 1/m)`` and zeroes the padded columns.
    """

    n_features: int
    width: int  # columns of W (the bucket size)

    @nn.compact
    def __call__(self, x):
        W = self.param("W", _column_normal, (self.n_features, self.width), x.dtype)
        b = self.param("b", nn.initializers.normal(1.0), (self.n_features,), x.dtype)
        return nn.relu((x @ W) @ W.T + b)


def column_mask(bucket: int, m, dtype) -> jax.Array:
    """``(bucket,)`` with ones on the first ``m`` entries (``m`` may be traced)."""
    return (jnp.arange(bucket) < m).astype(dtype)


def init_params(key, net: TiedReLU, m, dtype) -> dict:
    """Parameters of a width-``m`` model in ``net.width >= m`` columns: ``W ~ N(0, 1/m)``, padded columns 0."""
    params = net.init(key, jnp.zeros((net.n_features,), dtype))["params"]
    mask = column_mask(net.width, m, dtype)
    return {"W": params["W"] * mask[None, :] / jnp.sqrt(jnp.asarray(m, dtype)), "b": params["b"]}


# ----------------------------------------------------------------------------- optimiser


class SignedWeightDecayState(NamedTuple):
    """No state: the decay depends only on the current parameters."""


def signed_weight_decay(weight_decay) -> optax.GradientTransformation:
    """Signed weight decay of Liu, Liu & Gore 2025, as an optax transformation chained after Adam.

    Adds ``d`` to the update direction (the learning rate scales it afterwards, as in AdamW):

    * ``wd >= 0``: ``d = wd W``, so ``W <- W (1 - lr wd)`` (decoupled decay; weak superposition);
    * ``wd < 0``:  ``d = -wd W_i (1 - 1/||W_i||)`` row-wise, so
      ``W <- W + lr wd W (1 - 1/||W_i||)``: rows longer than 1 shrink, shorter ones grow
      (strong superposition at ``wd = -1``).

    ``weight_decay`` may be a traced scalar. Rows are the leading axis of a 2-D parameter; the
    norm is taken over the last axis. Apply to ``W`` only with :func:`optax.masked`.

    Example::

        opt = optax.chain(optax.scale_by_adam(), optax.masked(signed_weight_decay(-1.0),
                          {"W": True, "b": False}), optax.scale_by_learning_rate(1e-2))
    """

    def init_fn(params):
        del params
        return SignedWeightDecayState()

    def update_fn(updates, state, params=None):
        if params is None:
            raise ValueError("signed_weight_decay needs the parameters (pass params to update)")

        def one(u, w):
            norm = jnp.sqrt(jnp.sum(w * w, axis=-1, keepdims=True))
            grow = 1.0 - 1.0 / jnp.maximum(norm, jnp.finfo(w.dtype).tiny ** 0.5)
            factor = jnp.where(weight_decay >= 0, 1.0, grow).astype(w.dtype)
            return u + jnp.abs(weight_decay).astype(w.dtype) * factor * w

        return jax.tree.map(one, updates, params), state

    return optax.GradientTransformation(init_fn, update_fn)


def lr_schedule(lr, steps: int, warmup: int):
    """Linear warm-up from 0 to ``lr`` over ``warmup`` steps, then cosine decay to 5 % of ``lr``.

    ``lr`` may be traced (the engine vmaps it); ``steps`` and ``warmup`` are static.
    """
    decay = max(1, steps - warmup)

    def schedule(t):
        t = jnp.asarray(t, jnp.result_type(float))
        warm = lr * jnp.minimum(1.0, (t + 1.0) / max(1, warmup))
        prog = jnp.clip((t - warmup) / decay, 0.0, 1.0)
        cos = lr * (END_LR_FRACTION + (1.0 - END_LR_FRACTION) * 0.5 * (1.0 + jnp.cos(jnp.pi * prog)))
        return jnp.where(t < warmup, warm, cos)

    return schedule


def peak_lrs(lr, m, width_exponent=0.0, bias_ratio=1.0, bias_width_exponent=0.0, ref_width=8.0):
    """Peak learning rates ``(lr_W, lr_b)`` of a width-``m`` model (all arguments may be traced).

    ``lr_W = lr (m0/m)^q_W``, ``lr_b = bias_ratio lr (m0/m)^q_b`` with ``m0 = ref_width``. The
    paper's large runs (Liu, Liu & Gore 2025): ``lr = 0.02``, ``q_W = 1/4``, ``bias_ratio = 12.5``,
    ``q_b = 1``, ``m0 = 8``, i.e. ``lr_W = 0.02 (8/m)^(1/4)`` and ``lr_b = 2/m``. With the defaults
    both are ``lr`` exactly (``x^0 = 1``).

    >>> [round(float(v), 6) for v in peak_lrs(0.02, 128, 0.25, 12.5, 1.0, 8.0)]
    [0.01, 0.015625]
    """
    r = ref_width / m
    return lr * r ** width_exponent, bias_ratio * lr * r ** bias_width_exponent


def make_optimizer(lr, weight_decay, steps: int, warmup: int, lr_bias=None) -> optax.GradientTransformation:
    """Adam(0.9, 0.999, 1e-8) -> signed weight decay on ``W`` -> warm-up + cosine learning rate,
    peak ``lr`` for ``W`` and ``lr_bias`` (default: ``lr``) for ``b``."""
    lr_bias = lr if lr_bias is None else lr_bias
    return optax.chain(
        optax.scale_by_adam(b1=0.9, b2=0.999, eps=1e-8),
        optax.masked(signed_weight_decay(weight_decay), {"W": True, "b": False}),
        optax.multi_transform({"W": optax.scale_by_learning_rate(lr_schedule(lr, steps, warmup)),
                               "b": optax.scale_by_learning_rate(lr_schedule(lr_bias, steps, warmup))},
                              {"W": "W", "b": "b"}),
    )


# ----------------------------------------------------------------------------- training


def train(static: dict, dyn: dict, key, record=()) -> tuple[dict, jax.Array, dict]:
    """Train one model on the ``horizon``-step schedule up to its last recorded step; return the
    parameters after that step, the per-step loss ``(T,)``, ``T = max(record)`` (``horizon`` when
    nothing is recorded) and the :func:`diagnostics` of ``W`` after each step in ``record``
    (``{name: (len(record),)}``).

    ``horizon`` sets the learning-rate schedule (warm-up, cosine decay to its end); ``record``
    sets how far to train: steps past the last recorded one are never computed, so a run that
    records step 200 of a 20 000-step schedule trains 200 steps, and its rows equal those of the
    full run at step 200 (the first ``T`` steps of the scan are the same computation).

    ``static``: ``n_features``, ``width`` (bucket), ``batch_size``, ``horizon``, ``warmup``,
    ``value_dist``; ``dyn``: ``width`` (true m), ``alpha``, ``weight_decay``, ``lr``,
    ``importance``. One ``lax.scan`` over steps; the loss at step t is measured on that step's
    fresh batch before the update (an unbiased estimate of the population loss). Diagnostics are
    computed under a ``lax.cond`` on the (unbatched) step counter, so only at recorded steps.
    """
    n, bucket = int(static["n_features"]), int(static["width"])
    horizon, batch = int(static["horizon"]), int(static["batch_size"])
    steps = int(max(record)) if len(record) else horizon  # no step past the last recorded one
    dtype = jnp.result_type(float)
    m = dyn["width"]
    k_init, k_data = jax.random.split(key)
    net = TiedReLU(n, bucket)
    params = init_params(k_init, net, m, dtype)
    mask = {"W": column_mask(bucket, m, dtype)[None, :], "b": jnp.ones((), dtype)}
    p = feature_probs(n, dyn["alpha"], dtype, static.get("freq_law", "power"), dyn.get("freq_scale", 1000.0))
    imp = jnp.asarray(dyn["importance"], dtype) ** jnp.arange(n, dtype=dtype)
    lr_w, lr_b = peak_lrs(dyn["lr"], jnp.asarray(m, dtype), dyn.get("lr_width_exponent", 0.0),
                          dyn.get("lr_bias_ratio", 1.0), dyn.get("lr_bias_width_exponent", 0.0),
                          dyn.get("lr_ref_width", 8.0))
    opt = make_optimizer(lr_w, dyn["weight_decay"], horizon, int(static["warmup"]), lr_b)
    apply = jax.vmap(net.apply, in_axes=(None, 0))

    def loss_fn(prm, x):
        y = apply({"params": prm}, x)
        return jnp.mean(imp[None, :] * (y - x) ** 2)

    rec_after = jnp.asarray(record_mask(record, steps)[1:])  # step t leaves the parameters "after t + 1 steps"
    full = static.get("interference", "binned") == "full"
    shapes = jax.eval_shape(lambda W: diagnostics(W, m, full), params["W"])
    zero = {k: jnp.zeros(v.shape, v.dtype) for k, v in shapes.items()}

    def step(carry, t):
        prm, state = carry
        x = sample_features(jax.random.fold_in(k_data, t), p, batch, static["value_dist"])
        loss, g = jax.value_and_grad(loss_fn)(prm, x)
        upd, state = opt.update(g, state, prm)
        upd = jax.tree.map(lambda u, mk: u * mk, upd, mask)  # padded columns stay exactly 0
        prm = optax.apply_updates(prm, upd)
        diag = jax.lax.cond(rec_after[t], lambda W: diagnostics(W, m, full), lambda W: zero, prm["W"])
        return (prm, state), (loss, diag)

    (params, _), (losses, diags) = jax.lax.scan(step, (params, opt.init(params)), jnp.arange(steps))
    idx = np.asarray(record, int) - 1
    return params, losses, {k: v[idx] for k, v in diags.items()}


def interference_profile(W: jax.Array, rep: jax.Array) -> jax.Array:
    """Per-feature interference ``I_k = sum_{i != k, i represented} cos^2(W_i, W_k)``, ``k = 1..n``.

    ``I_k = u_k^T (V^T V) u_k - [k represented]`` with ``u_k = W_k / ||W_k||`` and ``V`` the
    represented unit rows (an ``M x M`` Gram, ``O(n M^2)``). A row with ``W_k = 0`` has ``I_k = 0``.
    Feature ``k``'s output picks up ``sum_i x_i W_i . W_k``: with unit rows its squared
    interference is ``sum_i x_i^2 cos^2``, so ``p``-weighting ``I_k`` gives the heuristic loss of
    :func:`toyscale.theory.superposition.construction_loss` (Liu, Liu & Gore 2025; docs/theory.md §2.3).
    """
    norms = jnp.sqrt(jnp.sum(W * W, axis=1))
    U = W / jnp.maximum(norms, 1e-30)[:, None]
    V = jnp.where(rep[:, None], U, 0.0)
    G = V.T @ V
    quad = jnp.sum((U @ G) * U, axis=1)
    self_term = jnp.where(rep, jnp.sum(U * U, axis=1), 0.0)
    return jnp.maximum(quad - self_term, 0.0)


def binned_profile(I: jax.Array, m) -> dict:
    """Means of the profile ``I`` (n,) over the rank bins :data:`INTERFERENCE_BINS` (units of
    ``m``, may be traced) and the top ratio: mean over ranks ``k <= m/2`` / mean over ``k > m/2``.
    NaN where a bin holds no rank."""
    n = I.shape[0]
    k = jnp.arange(1, n + 1, dtype=I.dtype)
    mm = jnp.asarray(m, I.dtype)
    nan = jnp.asarray(jnp.nan, I.dtype)

    def mean(sel):
        c = jnp.sum(sel).astype(I.dtype)
        return jnp.where(c > 0, jnp.sum(jnp.where(sel, I, 0.0)) / jnp.maximum(c, 1.0), nan)

    out = {f"interference_b{j}": mean((k > lo * mm) & (k <= hi * mm))
           for j, (lo, hi) in enumerate(zip(INTERFERENCE_BINS[:-1], INTERFERENCE_BINS[1:]))}
    top, rest = mean(k <= 0.5 * mm), mean(k > 0.5 * mm)
    out["interference_top_ratio"] = jnp.where(rest > 0, top / jnp.where(rest > 0, rest, 1.0), nan)
    out["interference_mean"] = jnp.mean(I)
    return out


DIAGNOSTICS = ("represented_fraction", "mean_sq_overlap", "overlap_times_m", "sq_overlap_median",
               "sq_overlap_q90", "sq_overlap_q99", "antipodal_fraction", "interference_mean",
               "interference_top_ratio", *(f"interference_b{j}" for j in range(len(INTERFERENCE_BINS) - 1)))


def diagnostics(W: jax.Array, m, full: bool = False) -> dict:
    """Represented fraction and the distribution of squared overlaps of the rows of ``W`` (n, M).

    ``represented_fraction = mean_i 1{||W_i|| > 0.5}``; ``mean_sq_overlap`` = mean over ordered
    pairs ``i != j`` of represented rows of ``(w_i . w_j)^2``, ``w_i = W_i / ||W_i||``, computed
    as ``(||w^T w||_F^2 - R) / (R (R - 1))`` (an ``M x M`` Gram instead of ``n x n``); 0 when
    fewer than two rows are represented. Random unit vectors in ``R^m`` give ``1/m``
    (Liu, Liu & Gore 2025 compare it with ``1/m``); no ``n`` unit vectors do better than the
    Welch bound ``(n/m - 1)/(n - 1)`` (docs/theory.md §2.3).

    The distribution over the ``K = R (R - 1) / 2`` unordered represented pairs: the
    :data:`OVERLAP_QUANTILES` of ``cos^2`` (``sq_overlap_median``, ``_q90``, ``_q99``; linear
    interpolation between order statistics, as ``numpy.quantile``) and ``antipodal_fraction``,
    the fraction of pairs with ``cos <= -ANTIPODAL_COS``. These need the ``n x n`` Gram and a
    sort of its ``n (n - 1) / 2`` upper entries (rows not represented are sorted below every
    value, so the represented ones are the top ``K``); NaN when ``R < 2``. For random unit
    vectors ``cos^2 ~ Beta(1/2, (m - 1)/2)`` (``toyscale.theory.superposition.random_sq_overlap``).

    The interference profile (:func:`interference_profile`) per frequency rank, binned
    (:func:`binned_profile`); with ``full`` also the whole profile ``interference_profile``.
    """
    norms = jnp.sqrt(jnp.sum(W * W, axis=1))
    rep = norms > REPRESENTED_NORM
    R = jnp.sum(rep).astype(W.dtype)
    Wn = jnp.where(rep[:, None], W / jnp.maximum(norms, 1e-30)[:, None], 0.0)
    G = Wn.T @ Wn
    pairs = R * (R - 1.0)
    ovl = jnp.where(pairs > 0, (jnp.sum(G * G) - R) / jnp.maximum(pairs, 1.0), 0.0)
    ovl = jnp.maximum(ovl, 0.0)
    n = W.shape[0]
    iu, ju = np.triu_indices(n, 1)
    cos = (Wn @ Wn.T)[iu, ju]
    both = rep[iu] & rep[ju]
    srt = jnp.sort(jnp.where(both, cos * cos, -1.0))
    K = pairs / 2.0
    nan = jnp.asarray(jnp.nan, W.dtype)

    def quantile(q):
        pos = (srt.shape[0] - K) + q * (K - 1.0)  # position in the sorted array
        lo = jnp.clip(jnp.floor(pos), 0, srt.shape[0] - 1).astype(jnp.int32)
        hi = jnp.clip(lo + 1, 0, srt.shape[0] - 1)
        frac = pos - jnp.floor(pos)
        return jnp.where(K >= 1, srt[lo] * (1.0 - frac) + srt[hi] * frac, nan)

    anti = jnp.sum(both & (cos <= -ANTIPODAL_COS)).astype(W.dtype)
    out = {"represented_fraction": R / n, "mean_sq_overlap": ovl, "overlap_times_m": ovl * jnp.asarray(m, W.dtype)}
    out.update({f"sq_overlap_{'median' if q == 0.5 else f'q{round(100 * q)}'}": quantile(q) for q in OVERLAP_QUANTILES})
    out["antipodal_fraction"] = jnp.where(K >= 1, anti / jnp.maximum(K, 1.0), nan)
    I = interference_profile(W, rep)
    out.update(binned_profile(I, m))
    if full:
        out["interference_profile"] = I
    return out


def transient_steps(record, warmup: int) -> np.ndarray:
    """``True`` at each recorded step ``s`` whose convergence test cannot be judged yet.

    The drift compares the mean loss over the last stretch ``(s - k, s]`` with the stretch
    before it, ``(s - 2k, s - k]``, ``k = ceil(FINAL_FRACTION s)`` (:func:`end_window_stats`).
    Both must lie after the warm-up, where the learning rate still rises: ``s - 2k >= warmup``
    (roughly ``s >= 1.25 warmup``). Before that the row is ``transient``, whatever its drift.

    >>> transient_steps([15, 300, 375, 376, 3000], 300).tolist()
    [True, True, True, False, False]
    """
    out = []
    for s_ in record:
        k = window(int(s_), FINAL_FRACTION)
        out.append(int(s_) - 2 * k < int(warmup))
    return np.asarray(out, bool)


def evaluate(static, nested, dyn, key) -> dict:
    """Train one superposition model; metrics at every recorded step (the ``steps`` axis).

    Args:
      static: ``n_features``, ``width`` (bucket size M), ``batch_size``, ``horizon``, ``warmup``,
        ``value_dist``.
      nested: ``steps``, the sorted recorded steps (each <= horizon).
      dyn: traced scalars ``width`` (true m <= M), ``alpha``, ``weight_decay``, ``lr``,
        ``importance``.
      key: PRNG key of the seed.

    Returns:
      ``loss``, ``drift``, ``loss_sem`` and the :func:`diagnostics` (``represented_fraction``,
      ``mean_sq_overlap``, ``overlap_times_m``, ``sq_overlap_median``/``_q90``/``_q99``,
      ``antipodal_fraction``) and the interference profile (``interference_*``), each
      ``(len(steps),)`` (the full profile ``(len(steps), n)``), and ``status`` at every recorded
      step, the first that applies: ``diverged`` (a non-finite step loss up to that step),
      ``transient`` (:func:`transient_steps`: the drift cannot be judged yet), ``unconverged``
      (see ``DRIFT_FLAG``) or ``ok`` (judged, and not falling).
    """
    record = tuple(int(s) for s in nested["steps"])
    params, losses, diags = train(static, dyn, key, record)
    st = end_window_stats(losses, record, FINAL_FRACTION)
    last, prev, sem = st["last"], st["prev"], st["sem"]
    drift = (prev - last) / last
    out = {"loss": last, "drift": drift, "loss_sem": sem, **diags}
    unconv = (drift > DRIFT_FLAG) & (drift > NOISE_FLAG * np.sqrt(2.0) * sem)
    status = jnp.where(unconv, MODEL.status_code("unconverged"), 0)
    trans = jnp.asarray(transient_steps(record, int(static["warmup"])))
    status = jnp.where(trans, MODEL.status_code("transient"), status)
    out["status"] = jnp.where(st["bad"], MODEL.status_code("diverged"), status).astype(jnp.int32)
    return out


def bucket(name: str, value: Any) -> Any:
    """Width buckets by backend: exact widths on CPU, next power of two on accelerators.

    On a CPU the models of a program run one after another anyway, so padding only adds work
    (measured, 2-core CPU, n = 1000, batch 256: a step costs ~3.2 ms + 0.044 ms per column, so
    power-of-two buckets over widths 10..100 cost ~10 % more than exact widths, against ~5 s
    saved per avoided compile). On a GPU one small model leaves the device idle: fewer,
    larger vmapped programs win.
    """
    return exact_bucket(name, value) if device_program() == "cpu" else pow2_bucket(name, value)


def cell_bytes(static, nested) -> int:
    n, M, B = int(static["n_features"]), int(static["width"]), int(static["batch_size"])
    # + the n x n Gram, its n (n - 1) / 2 upper entries, their sort and index arrays (diagnostics)
    T = int(max(nested["steps"])) if nested.get("steps") else int(static["horizon"])
    full = n * len(nested.get("steps") or (1,)) if static.get("interference") == "full" else 0
    return 4 * (8 * B * n + 3 * B * M + 8 * n * M + 8 * T + 6 * n * n + full) + (1 << 20)


def check_config(values) -> None:
    for n in values["n_features"]:
        for m in values["width"]:
            if m > n:
                raise UserError("sweep.width", f"{m} exceeds n_features = {n}; allowed: width <= n_features")
    for h in values["horizon"]:
        for w in values["warmup"]:
            if w >= h:
                raise UserError("params.warmup", f"{w} >= horizon = {h}; allowed: warmup < horizon")
        for s in values["steps"]:
            if s > h:
                raise UserError("sweep.steps", f"{s} > horizon = {h}; allowed: recorded steps 1..horizon")


EXAMPLE = {"seeds": 2, "params": {"n_features": 64, "batch_size": 32, "horizon": 40, "warmup": 4},
           "sweep": {"width": [4, 8], "weight_decay": [-1.0, 0.5], "steps": [10, 40]}}

MODEL = register(
    Model(
        name="superposition",
        summary="toy model of superposition y = ReLU(x W W^T + b), signed weight decay, trained by Adam",
        params=PARAMS,
        metrics=METRICS,
        evaluate=evaluate,
        theory=theory.THEORY,
        bucket=bucket,
        cell_bytes=cell_bytes,
        check_config=check_config,
        # Adam on fresh batches: float32 is the reference code's precision (PyTorch). The
        # training is chaotic, so a float64 rerun follows another trajectory: the audit holds
        # the difference against the seed-to-seed spread.
        precision="float32",
        audit_rule="trajectory",
        limits=("width <= n_features", "warmup < horizon", "steps <= horizon"),
        statuses=(UNCONVERGED, TRANSIENT),
        references=(
            "Liu, Liu & Gore 2025, Superposition Yields Robust Neural Scaling",
            "Elhage et al. 2022, Toy Models of Superposition",
        ),
        example=EXAMPLE,
    )
)
