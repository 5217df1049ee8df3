"""Two-layer networks fitted to a smooth 1-D target, and averages of them (docs/theory.md §3).

Liu & Tegmark 2023, *A Neural Scaling Law from Lottery Ticket Ensembling*. Network (plain JAX,
four parameter vectors; no flax module is needed for it)::

    f(x) = sum_{i < N} a_i sigma(w_i x + c_i) + d

fitted by full-batch least squares to ``y = target(x)`` on a uniform grid of ``n_train`` points of
``[-interval, interval]``; the test MSE is measured on a uniform grid of ``n_test`` points (a
different grid when ``n_test != n_train``). Targets: ``x2`` (x^2, the paper's), ``x3`` (x^3),
``sin`` (sin x), ``gauss`` (exp(-x^2)).

Initialisation, per neuron index ``i`` from ``fold_in(key, i)`` (so neuron ``i`` is the same at
every width and in every bucket): ``w_i, c_i ~ init_scale N(0, 1)``, ``a_i ~ N(0, 1 / N)``,
``d = 0``.

Protocol, on the objective ``J = MSE + weight_decay * sum_i (w_i^2 + c_i^2 + a_i^2)``:
``adam_steps`` of Adam (0.9, 0.999, 1e-8; constant ``adam_lr``), then ``polish_steps``
iterations of a second optimiser, ``polish``: optax's L-BFGS (memory 10, zoom line search of at
most 30 evaluations) or Levenberg-Marquardt with the closed-form Jacobian
(:func:`levenberg_marquardt`, which stops by itself at a float64 stationary point), one
``lax.scan`` per phase. The time axis ``steps`` counts iterations of both phases: step ``s``
is the network after ``s`` updates (``s <= adam_steps``: Adam; beyond: the second optimiser).
Training stops at the largest recorded step (:func:`horizon`), so one Adam run recorded at
log-spaced steps gives every budget up to its last, and rows at a step do not depend on the later
steps recorded. Defaults: the converged protocol of docs/theory.md §3.4 (Adam 2 000 steps at
lr 1e-2, then LM for at most 4 000 iterations, ``weight_decay = 1e-8``).

Why weight decay and LM (docs/theory.md §3.3): for a smooth activation one symmetric pair fits
x^2 to any accuracy as its input weight goes to 0 and its output weight to infinity, so the
continuum L2 error on the interval has infimum 0 and no minimiser. On the ``n_train``-point grid
the same pair drives the MSE to 0, and an exact interpolant with finite weights may exist once
the ``3N + 1`` parameters reach ``n_train`` (a minimiser with MSE 0), so there the argument says
nothing. With ``weight_decay > 0`` a minimiser exists on both and LM reaches a stationary point
to machine precision in a few hundred iterations.

Options beside the grid MSE: ``train_grid = "gauss"`` trains on the Gauss-Legendre quadrature of
the continuum L2 error (:func:`training_points`), to which the no-minimiser argument applies;
``wd_width_exponent = c`` scales the weight decay with width, ``lambda = weight_decay N^-c``.

``ensemble = K > 1``: the predictor is the average of K networks of width N trained
independently (the same protocol, keys ``key, fold_in(key, 1), ...``): the direct comparison of
a K-ensemble of width-N networks with one width-KN network at (almost) equal parameter count.

Widths are a ``shape`` parameter. A width-``N`` network in a bucket of ``M >= N`` neurons has
``w_i = c_i = a_i = 0`` for ``i >= N``; since ``sigma(0) = 0`` for every activation here, those
neurons output exactly 0 and get exactly zero gradients and updates. Every sum of the model is
:func:`tree_sum` (fixed order, blind to zero padding and to the vmapped batch) and Adam's
gradient is in closed form, so the Adam phase is bitwise the same in any bucket and any batch
(tests/test_lottery.py). optax's L-BFGS is not (its inner products and line-search gradients
are XLA reductions), and L-BFGS on this problem amplifies a last-bit difference ~10x every few
iterations, to O(1) in the final loss after ~300 iterations (measured, docs/theory.md §3).
Widths are therefore never padded (:func:`bucket` is the width itself, on every backend):
one program per width, whose cells the engine runs one at a time when a second optimiser runs
(:func:`sequential_cells`) and vmaps otherwise (Adam only). The Adam phase emits one number per
step (``J``) and copies the network at recorded steps into a small buffer; the diagnostics are
computed from those copies after the scan, so recording costs nothing per step.

Convergence from stationarity, per recorded step ``s`` (:func:`convergence_status`): the
relative gradient ``rel_grad = |grad J| max(|theta|, 1) / max(J, eps Var(y))`` (Dennis &
Schnabel 1983) against ``GRAD_TOL = eps^(1/3)``, and the optimisers' own stops: ``ok`` when
``rel_grad <= GRAD_TOL`` or LM stopped by itself (no step lowers ``J`` in float64, or a step below
float64 resolution), ``stalled`` when Adam or L-BFGS left ``J`` bitwise unchanged over the last
10 iterations short of that, ``max_iterations`` otherwise (both usable: fitted, counted, drawn
flagged), ``diverged`` when a loss was not finite. ``rel_change = |J(s - k) - J(s)| / J(s)``,
``k = ceil(0.1 (s - s0))`` (``s0`` the start of the phase ``s`` is in), is kept as a
diagnostic metric: it flags every run whose loss still falls fast toward 0, whatever its
gradient.

Mechanism: :func:`symmetric_pairs` counts mirrored neuron pairs ``(w, c, a)`` and ``(-w, c, a)``
(Liu & Tegmark's "symmetric neurons", whose sum is even and locally quadratic).
"""

from __future__ import annotations

import functools
import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from toyscale.errors import UserError
from toyscale.models import register
from toyscale.models import numerics
from toyscale.models.base import normal as draw_normal
from toyscale.models.numerics import record_mask, tree_sum
from toyscale.protocol import Metric, Model, Status, exact_bucket
from toyscale.params import Param
from toyscale.theory import lottery as theory

#: Stationarity tolerance on the relative gradient ``rel_grad`` (Dennis & Schnabel 1983, §7.2:
#: ``gradtol = eps^(1/3)`` for float64, 6.06e-6).
GRAD_TOL = float(np.finfo(np.float64).eps) ** (1.0 / 3.0)
#: Dennis & Schnabel's ``typf`` in units of the objective's scale ``Var(y)`` on the training grid
#: (the objective of the best constant predictor): below ``FLOOR_REL * Var(y)`` an objective counts
#: as 0 in the denominator of ``rel_grad``.
FLOOR_REL = float(np.finfo(np.float64).eps)
#: A phase that left the objective bitwise unchanged over this many iterations has stalled.
STALL_ITERATIONS = 10
#: ``stop_reason`` codes: still running (the budget ended it), LM: no step lowers J in float64
#: (``mu > 1e30``), LM: accepted step below float64 resolution, the objective unchanged over the
#: last :data:`STALL_ITERATIONS` iterations (Adam or L-BFGS; for LM the two codes before say why).
STOP_RUNNING, STOP_LM_NO_DECREASE, STOP_LM_TINY_STEP, STOP_STALLED = 0, 1, 2, 3
#: Diagnostic only (not the status): ``rel_change`` above this is "still moving" in the figures.
CONVERGED_REL_CHANGE = 1e-2
#: Fraction of the current phase over which ``rel_change`` is measured.
WINDOW_FRACTION = 0.1
#: Largest ``n_train`` with ``train_grid = "gauss"`` (the rule's nodes cost an eigenvalue problem of size n).
MAX_GAUSS_POINTS = 2048
#: Tolerance of :func:`symmetric_pairs` (relative; see there).
SYMMETRY_TOL = 0.05
#: L-BFGS settings (optax): memory and maximum line-search evaluations per iteration.
LBFGS_MEMORY = 10
LBFGS_LINESEARCH_STEPS = 30

TARGETS = ("x2", "x3", "sin", "gauss")
ACTIVATIONS = ("silu", "tanh", "gelu", "relu")
POLISHERS = ("lbfgs", "lm")

PARAMS = (
    Param("target", str, "x2", "target y(x): 'x2' x^2 (the paper's), 'x3' x^3, 'sin' sin x, 'gauss' exp(-x^2)",
          choices=TARGETS, role="static"),
    Param("activation", str, "silu", "sigma: 'silu', 'tanh', 'gelu' (exact, erf), 'relu'", choices=ACTIVATIONS,
          role="static"),
    Param("width", int, 16, "N, number of hidden neurons", low=1, high=100_000, role="shape"),
    Param("interval", float, 2.0, "inputs in [-interval, interval]", low=0.0, low_open=True),
    Param("n_train", int, 128, "training points on the interval (full batch; see train_grid)", low=2, high=1_000_000,
          role="static"),
    Param("train_grid", str, "uniform", "training points: 'uniform' (the grid, MSE) or 'gauss' (Gauss-Legendre nodes "
          "and weights: the quadrature of the continuum L2 error on the interval)", choices=("uniform", "gauss"),
          role="static"),
    Param("n_test", int, 1001, "test points: uniform grid on the interval", low=2, high=1_000_000, role="static"),
    Param("init_scale", float, 1.0, "w_i, c_i ~ init_scale N(0, 1) at initialisation (a_i ~ N(0, 1/N))", low=0.0,
          low_open=True),
    Param("adam_steps", int, 2000, "full-batch Adam steps (phase 1)", low=0, high=10_000_000, role="static"),
    Param("adam_lr", float, 1e-2, "Adam learning rate (constant)", low=0.0, low_open=True),
    Param("polish", str, "lm", "phase-2 optimiser: 'lbfgs' (optax L-BFGS) or 'lm' (Levenberg-Marquardt, exact "
          "Jacobian; stops when no step lowers the objective in float64)", choices=POLISHERS, role="static"),
    Param("polish_steps", int, 4000, "iterations of the phase-2 optimiser after Adam (0: Adam only)", low=0,
          high=10_000_000, role="static"),
    Param("weight_decay", float, 1e-8, "lambda: the objective is MSE + lambda sum_i (w_i^2 + c_i^2 + a_i^2) (0: plain "
          "MSE, which may have no minimiser for smooth activations, docs/theory.md §3.3)", low=0.0),
    Param("ensemble", int, 1, "K: the predictor is the average of K independently trained width-N networks "
          "(member 0 is the K = 1 network of the same seed, member k its fold_in(key, k)); 1: one network",
          low=1, high=4096, role="static"),
    Param("wd_width_exponent", float, 0.0, "c: the weight decay is weight_decay * N^(-c) (lambda scaled with width)"),
    Param("steps", int, 0, "recorded step s (time axis: Adam steps, then phase-2 iterations); 0: the end of training; "
          "training stops at the largest recorded step", low=0, role="nested"),
)

METRICS = (
    Metric("loss", "test MSE: mean over the n_test grid of (f(x) - y(x))^2 at step s (K > 1: of the K-average)"),
    Metric("member_loss", "test MSE of one network, averaged over the K members (K = 1: loss)"),
    Metric("train_loss", "training MSE at step s"),
    Metric("objective", "training objective J = MSE + lambda |theta_hidden|^2 at step s, lambda = weight_decay N^-c"),
    Metric("rel_grad", "|grad J| max(|theta|, 1) / max(J, FLOOR_REL Var(y)): the stationarity statistic of the "
                       "status (K > 1: the largest over members)"),
    Metric("rel_change", "diagnostic: |J(s - k) - J(s)| / J(s), k = 10 % of the current phase so far"),
    Metric("grad_norm", "Euclidean norm of the gradient of the objective J at step s"),
    Metric("param_norm", "Euclidean norm of theta = (w, c, a, d) at step s"),
    Metric("stop_reason", "0 running, 1 LM: no step lowers J, 2 LM: step below float64 resolution, 3 stalled: J "
                          "unchanged over the last 10 iterations (K > 1: the smallest over members)"),
    Metric("sym_pairs", f"number of symmetric neuron pairs at step s (tolerance {SYMMETRY_TOL})"),
    Metric("sym_fraction", "fraction of the N neurons that belong to a symmetric pair"),
)

MAX_ITERATIONS = Status("max_iterations", "iteration budget reached short of a stationary point (rel_grad > GRAD_TOL "
                                          "and no optimiser stop; a valid measurement at this budget; fitted, counted)",
                        usable=True)
STALLED = Status("stalled", "the objective stopped changing (Adam or L-BFGS: bitwise the same over the last 10 "
                            "iterations) with rel_grad > GRAD_TOL: stuck, not shown stationary (fitted, counted)",
                 usable=True)


# ----------------------------------------------------------------------------- pieces


def activation_fn(name: str):
    """``sigma`` by name; every one has ``sigma(0) = 0`` exactly (padded neurons output 0)."""
    return {"silu": jax.nn.silu, "tanh": jnp.tanh, "gelu": lambda z: jax.nn.gelu(z, approximate=False),
            "relu": jax.nn.relu}[name]


def target_fn(name: str):
    """The target ``y(x)`` by name (see the module docstring)."""
    return {"x2": lambda x: x * x, "x3": lambda x: x * x * x, "sin": jnp.sin,
            "gauss": lambda x: jnp.exp(-x * x)}[name]


def grid(n: int, interval, dtype) -> jax.Array:
    """``n`` uniform points of ``[-interval, interval]`` (ends included); ``interval`` may be traced."""
    return interval * jnp.linspace(-1.0, 1.0, n, dtype=dtype)


def training_points(kind: str, n: int, interval, dtype) -> tuple[jax.Array, jax.Array | None]:
    """Training inputs and square-root weights ``sw`` (``None``: equal weights).

    ``"uniform"``: the :func:`grid`, objective ``(1/n) sum_k r(x_k)^2``. ``"gauss"``: the ``n``
    Gauss-Legendre nodes ``interval * t_k`` with weights ``omega_k`` (``sum omega_k = 2``),
    ``sw_k = sqrt(n omega_k / 2)``, so the objective ``(1/n) sum_k sw_k^2 r(x_k)^2 =
    sum_k (omega_k / 2) r(x_k)^2`` is the Gauss-Legendre rule for the continuum L2 error
    ``(1 / (2 interval)) int r(x)^2 dx``, exact when ``r^2`` is a polynomial of degree
    ``<= 2n - 1`` (Abramowitz & Stegun 25.4.29).
    """
    if kind == "uniform":
        return grid(n, interval, dtype), None
    t, sw = _gauss_legendre(n)
    return interval * jnp.asarray(t, dtype), jnp.asarray(sw, dtype)


@functools.lru_cache(maxsize=16)
def _gauss_legendre(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Nodes ``t_k`` of the ``n``-point Gauss-Legendre rule on [-1, 1] and ``sqrt(n omega_k / 2)``
    (numpy; an eigenvalue problem of size ``n``, seconds at n = 512, so cached and capped at
    :data:`MAX_GAUSS_POINTS`)."""
    t, om = np.polynomial.legendre.leggauss(n)
    return t, np.sqrt(n * om / 2.0)


def init_params(key, bucket: int, width, init_scale, dtype) -> dict:
    """Parameters of a width-``width`` network in ``bucket >= width`` neurons.

    Neuron ``i`` draws ``(w_i, c_i, a_i)`` from ``fold_in(key, i)``: ``w, c ~ init_scale N(0,1)``,
    ``a ~ N(0, 1/width)``; neurons ``i >= width`` are exactly 0. ``d = 0``.
    """
    z = jax.vmap(lambda i: draw_normal(jax.random.fold_in(key, i), (3,), dtype))(jnp.arange(bucket))
    mask = (jnp.arange(bucket) < width).astype(dtype)
    s = jnp.asarray(init_scale, dtype)
    return {"w": s * z[:, 0] * mask, "c": s * z[:, 1] * mask,
            "a": z[:, 2] * mask / jnp.sqrt(jnp.asarray(width, dtype)), "d": jnp.zeros((), dtype)}


def tree_vdot(u: dict, v: dict) -> jax.Array:
    """``<u, v>`` over the parameters ``w, c, a, d`` (each vector by :func:`tree_sum`, in a fixed order)."""
    return ((tree_sum(u["w"] * v["w"]) + tree_sum(u["c"] * v["c"])) + tree_sum(u["a"] * v["a"])) + u["d"] * v["d"]


def activation_grad(name: str):
    """``sigma'`` by name, in closed form (silu: s (1 + z (1 - s)), s = sigmoid z; tanh:
    1 - tanh^2; gelu: Phi(z) + z phi(z); relu: 1{z > 0})."""
    def silu(z):
        s = jax.nn.sigmoid(z)
        return s * (1.0 + z * (1.0 - s))

    def gelu(z):
        return 0.5 * (1.0 + jax.scipy.special.erf(z / math.sqrt(2.0))) + z * jnp.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)

    return {"silu": silu, "tanh": lambda z: 1.0 - jnp.tanh(z) ** 2, "gelu": gelu,
            "relu": lambda z: (z > 0).astype(z.dtype)}[name]


def forward(params: dict, x: jax.Array, sigma) -> jax.Array:
    """``f(x) = sum_i a_i sigma(w_i x + c_i) + d`` for a vector of inputs ``x`` (fixed-order sum)."""
    h = sigma(x[:, None] * params["w"][None, :] + params["c"][None, :])
    return tree_sum(h * params["a"][None, :], axis=1) + params["d"]


def mse(params: dict, x: jax.Array, y: jax.Array, sigma, sw=None) -> jax.Array:
    """Mean squared error of :func:`forward` on ``(x, y)`` (fixed-order sum); with square-root
    weights ``sw`` the weighted ``(1/n) sum_k (sw_k r_k)^2`` (:func:`training_points`)."""
    r = forward(params, x, sigma) - y
    if sw is not None:
        r = sw * r
    return tree_sum(r * r) / x.shape[0]


def mse_and_grad(params: dict, x: jax.Array, y: jax.Array, activation: str, sw=None) -> tuple[jax.Array, dict]:
    """``L = (1/n) sum_x r(x)^2`` with ``r = f - y`` and its gradient in closed form::

        dL/da_i = (2/n) sum_x r sigma(z_i),   dL/dw_i = (2/n) sum_x r a_i sigma'(z_i) x,
        dL/dc_i = (2/n) sum_x r a_i sigma'(z_i),   dL/dd = (2/n) sum_x r,   z_i = w_i x + c_i,

    every sum by :func:`tree_sum` (autodiff would transpose the broadcasts into XLA reductions
    whose order depends on the batch shape). Equal to ``jax.value_and_grad`` of :func:`mse` to
    rounding (tests/test_lottery.py). With square-root weights ``sw``: ``L = (1/n) sum (sw r)^2``
    and ``r`` replaced by ``sw^2 r`` in the gradient sums.
    """
    sigma, dsigma = activation_fn(activation), activation_grad(activation)
    w, c, a = params["w"], params["c"], params["a"]
    z = x[:, None] * w[None, :] + c[None, :]
    h = sigma(z)
    r = tree_sum(h * a[None, :], axis=1) + params["d"] - y
    n = x.shape[0]
    k = 2.0 / n
    rw = r if sw is None else sw * (sw * r)  # the residual as the gradient weighs it
    ra = rw[:, None] * dsigma(z) * a[None, :]
    grad = {"w": k * tree_sum(ra * x[:, None], axis=0), "c": k * tree_sum(ra, axis=0),
            "a": k * tree_sum(rw[:, None] * h, axis=0), "d": k * tree_sum(rw)}
    rs = r if sw is None else sw * r
    return tree_sum(rs * rs) / n, grad


def symmetric_pairs(params: dict, width, tol: float = SYMMETRY_TOL) -> tuple[jax.Array, jax.Array]:
    """Symmetric neuron pairs (Liu & Tegmark 2023): ``(pairs, fraction of neurons in a pair)``.

    Neurons ``i != j`` (both ``< width``) are a symmetric pair when their input weights are
    mirrored and their biases and output weights match::

        |w_i + w_j| <= tol (|w_i| + |w_j|) / 2      (so w_i, w_j have opposite signs)
        |c_i - c_j| <= tol max(1, (|c_i| + |c_j|) / 2)
        |a_i - a_j| <= tol (|a_i| + |a_j|) / 2

    Then ``a sigma(c + w x) + a sigma(c - w x) = 2 a sigma(c) + a sigma''(c) w^2 x^2 + O(x^4)``:
    an even, locally quadratic "lottery ticket". The weight and output tests are relative
    (scale-free); the bias test is absolute below |c| = 1, so two biases near 0 match. Exactly
    zero ``w`` or ``a`` never match (the relative tests need a nonzero magnitude).
    """
    w, c, a = params["w"], params["c"], params["a"]
    n = w.shape[0]
    active = jnp.arange(n) < width
    aw, ac, aa = jnp.abs(w), jnp.abs(c), jnp.abs(a)
    ok_w = jnp.abs(w[:, None] + w[None, :]) <= tol * 0.5 * (aw[:, None] + aw[None, :])
    ok_c = jnp.abs(c[:, None] - c[None, :]) <= tol * jnp.maximum(1.0, 0.5 * (ac[:, None] + ac[None, :]))
    ok_a = jnp.abs(a[:, None] - a[None, :]) <= tol * 0.5 * (aa[:, None] + aa[None, :])
    nz = (aw > 0) & (aa > 0) & active
    pair = ok_w & ok_c & ok_a & nz[:, None] & nz[None, :] & ~jnp.eye(n, dtype=bool)
    count = jnp.sum(jnp.triu(pair, 1)).astype(w.dtype)
    frac = jnp.sum(jnp.any(pair, axis=1)).astype(w.dtype) / jnp.asarray(width, w.dtype)
    return count, frac


# ----------------------------------------------------------------------------- training


def _protocol(static: dict) -> tuple[int, int]:
    return int(static["adam_steps"]), int(static["polish_steps"])


def lbfgs_optimizer() -> optax.GradientTransformationExtraArgs:
    """optax L-BFGS (memory :data:`LBFGS_MEMORY`, zoom line search of at most
    :data:`LBFGS_LINESEARCH_STEPS` evaluations per iteration)."""
    return optax.lbfgs(memory_size=LBFGS_MEMORY,
                       linesearch=optax.scale_by_zoom_linesearch(max_linesearch_steps=LBFGS_LINESEARCH_STEPS))


def objective_and_grad(params: dict, x: jax.Array, y: jax.Array, activation: str, lam, sw=None) -> tuple[jax.Array, dict]:
    """``J = MSE + lam * sum_i (w_i^2 + c_i^2 + a_i^2)`` (weight decay on every hidden weight and
    bias, not on the output bias ``d``) and its gradient: :func:`mse_and_grad` plus ``2 lam theta``."""
    v, g = mse_and_grad(params, x, y, activation, sw)
    g = {k: (g[k] + 2.0 * lam * params[k]) if k != "d" else g[k] for k in g}
    return v + lam * penalty(params), g


def objective(params: dict, x: jax.Array, y: jax.Array, sigma, lam, sw=None) -> jax.Array:
    """:func:`objective_and_grad`'s value alone (for optax's L-BFGS line search)."""
    return mse(params, x, y, sigma, sw) + lam * penalty(params)


def penalty(params: dict) -> jax.Array:
    """``sum_i (w_i^2 + c_i^2 + a_i^2)``, the weight-decay term (fixed-order sums; ``d`` excluded)."""
    return (tree_sum(params["w"] ** 2) + tree_sum(params["c"] ** 2)) + tree_sum(params["a"] ** 2)


def flatten(params: dict) -> jax.Array:
    """``theta = (w, c, a, d)`` as one vector of ``3N + 1`` numbers (the LM phase works on it)."""
    return jnp.concatenate([params["w"], params["c"], params["a"], params["d"][None]])


def unflatten(theta: jax.Array) -> dict:
    """Inverse of :func:`flatten`."""
    n = (theta.shape[0] - 1) // 3
    return {"w": theta[:n], "c": theta[n:2 * n], "a": theta[2 * n:3 * n], "d": theta[3 * n]}


def residuals_and_jacobian(theta: jax.Array, x: jax.Array, y: jax.Array, activation: str,
                           sw=None) -> tuple[jax.Array, jax.Array]:
    """Scaled residuals ``r_k = (f(x_k) - y_k) / sqrt(n)`` (so ``MSE = |r|^2``) and their Jacobian
    ``dr/dtheta`` in closed form: columns ``a_i sigma'(z_i) x``, ``a_i sigma'(z_i)``,
    ``sigma(z_i)``, ``1`` for ``w_i, c_i, a_i, d`` (``z_i = w_i x + c_i``), over ``sqrt(n)``;
    with square-root weights ``sw`` every row ``k`` is multiplied by ``sw_k``."""
    p = unflatten(theta)
    sigma, dsigma = activation_fn(activation), activation_grad(activation)
    z = x[:, None] * p["w"][None, :] + p["c"][None, :]
    h, hp = sigma(z), dsigma(z) * p["a"][None, :]
    s = 1.0 / math.sqrt(x.shape[0])
    r = s * (h @ p["a"] + p["d"] - y)
    jac = s * jnp.concatenate([hp * x[:, None], hp, h, jnp.ones((x.shape[0], 1), theta.dtype)], axis=1)
    if sw is not None:
        r, jac = sw * r, sw[:, None] * jac
    return r, jac


def levenberg_marquardt(theta: jax.Array, x: jax.Array, y: jax.Array, activation: str, lam, steps: int, on_step,
                        start: int = 0, sw=None):
    """``steps`` iterations of Levenberg-Marquardt on ``J(theta) = |r|^2 + lam |theta_h|^2``.

    Levenberg 1944, Marquardt 1963, with the damping update of Madsen, Nielsen & Tingleff 2004
    (*Methods for non-linear least squares problems*, Alg. 3.16). Gauss-Newton curvature
    ``H = 2 (J_r^T J_r + lam E)`` (``E``: identity on the hidden weights, 0 on ``d``), gradient
    ``g = 2 (J_r^T r + lam E theta)``; the step solves ``(H + mu D) delta = -g`` with Marquardt's
    scaling ``D = diag(H)`` (floored at ``1e-12 max diag H``), by Cholesky. With gain ratio
    ``rho = (J(theta) - J(theta + delta)) / (-g.delta - delta.H.delta / 2)``: a step that lowers
    ``J`` is taken and ``mu *= max(1/3, 1 - (2 rho - 1)^3)``, ``nu = 2``; otherwise
    ``mu *= nu``, ``nu *= 2``. Initial ``mu = 1e-3``. The run **stops** (later iterations leave
    ``theta`` unchanged and cost nothing) when ``mu > 1e30`` -- no step of any length lowers
    ``J`` in float64, a stationary point to machine precision -- or the accepted step is below
    float64 resolution, ``|delta| <= 1e-15 |theta|``.

    ``on_step(t, theta)`` is called after iteration ``t = start, start + 1, ...`` (for
    diagnostics) and its outputs are stacked. Returns ``theta``, the objective after each
    iteration ``(steps,)``, the stop code after each iteration ``(steps,)`` (:data:`STOP_RUNNING`,
    :data:`STOP_LM_NO_DECREASE` or :data:`STOP_LM_TINY_STEP`) and the stacked ``on_step`` outputs.
    """
    carry0 = lm_init(theta, x, y, activation, lam, sw)

    def step(carry, t):
        carry = jax.lax.cond(carry[-1] > 0, lambda c: c, lambda c: lm_step(c, x, y, activation, lam, sw), carry)
        return carry, (carry[1], carry[-1], on_step(t, carry[0]))

    carry, (vals, codes, outs) = jax.lax.scan(step, carry0, jnp.arange(start, start + steps))
    return carry[0], vals, codes, outs


def _lm_model(theta, x, y, activation, lam, sw=None):
    """``J``, Gauss-Newton ``H`` and gradient ``g`` at ``theta`` (see :func:`levenberg_marquardt`)."""
    hidden = (jnp.arange(theta.shape[0]) < theta.shape[0] - 1).astype(theta.dtype)
    r, jac = residuals_and_jacobian(theta, x, y, activation, sw)
    val = r @ r + lam * jnp.sum(hidden * theta * theta)
    H = 2.0 * (jac.T @ jac + lam * jnp.diag(hidden))
    g = 2.0 * (jac.T @ r + lam * hidden * theta)
    return val, H, g


def lm_init(theta, x, y, activation, lam, sw=None) -> tuple:
    """LM state ``(theta, J, H, g, mu, nu, stop)`` at the start (``mu = 1e-3 max diag H``; ``stop``
    an int32 stop code, :data:`STOP_RUNNING` until the run stops by itself)."""
    val, H, g = _lm_model(theta, x, y, activation, lam, sw)
    return (theta, val, H, g, jnp.asarray(1e-3, theta.dtype) * jnp.max(jnp.diag(H)), jnp.asarray(2.0, theta.dtype),
            jnp.asarray(STOP_RUNNING, jnp.int32))


def lm_step(carry: tuple, x, y, activation, lam, sw=None) -> tuple:
    """One LM iteration (one damped Gauss-Newton solve and one evaluation; see
    :func:`levenberg_marquardt`); sets the stop code to :data:`STOP_LM_NO_DECREASE` when
    ``mu > 1e30``, to :data:`STOP_LM_TINY_STEP` when the accepted step is below float64 resolution."""
    th, val, H, g, mu, nu, _ = carry
    dH = jnp.diag(H)
    D = jnp.maximum(dH, 1e-12 * jnp.max(dH))
    chol = jax.scipy.linalg.cho_factor(H + mu * jnp.diag(D), lower=True)
    delta = -jax.scipy.linalg.cho_solve(chol, g)
    val2, H2, g2 = _lm_model(th + delta, x, y, activation, lam, sw)
    pred = -(g @ delta) - 0.5 * (delta @ (H @ delta))
    rho = (val - val2) / pred
    ok = jnp.isfinite(val2) & jnp.all(jnp.isfinite(delta)) & (val2 < val)
    mu_ok = mu * jnp.maximum(1.0 / 3.0, 1.0 - (2.0 * rho - 1.0) ** 3)
    tiny = ok & (jnp.sqrt(delta @ delta) <= 1e-15 * jnp.sqrt(th @ th))
    th = jnp.where(ok, th + delta, th)
    mu = jnp.where(ok, mu_ok, mu * nu)
    return (th, jnp.where(ok, val2, val), jnp.where(ok, H2, H), jnp.where(ok, g2, g), mu,
            jnp.where(ok, 2.0, 2.0 * nu),
            jnp.where(mu > 1e30, STOP_LM_NO_DECREASE, jnp.where(tiny, STOP_LM_TINY_STEP, STOP_RUNNING)).astype(jnp.int32))


def weight_decay(dyn: dict, dtype) -> jax.Array:
    """``lambda = weight_decay * N^(-c)``, ``c = wd_width_exponent`` (``c = 0``: ``weight_decay``
    itself, bitwise)."""
    lam = jnp.asarray(dyn.get("weight_decay", 0.0), dtype)
    c = jnp.asarray(dyn.get("wd_width_exponent", 0.0), dtype)
    return jnp.where(c == 0, lam, lam * jnp.asarray(dyn["width"], dtype) ** (-c))


def horizon(static: dict, record=()) -> tuple[int, int]:
    """Iterations actually run: ``(Adam steps, phase-2 iterations)`` up to the largest recorded step
    (the whole protocol when nothing is recorded). Steps past the last recorded one are never
    computed, so a run recording step 200 of a 6 000-step protocol trains 200 Adam steps."""
    n_adam, n_polish = _protocol(static)
    total = int(max(record)) if len(record) else n_adam + n_polish
    return min(n_adam, total), total - min(n_adam, total)


def train(static: dict, dyn: dict, key, record=()) -> tuple[dict, jax.Array, dict]:
    """Train one network: Adam for ``adam_steps``, then ``polish_steps`` iterations of L-BFGS
    (``polish = "lbfgs"``) or Levenberg-Marquardt (``"lm"``), all on the objective
    ``J = MSE + weight_decay * sum_i (w_i^2 + c_i^2 + a_i^2)``, up to the largest recorded step
    (:func:`horizon`).

    Returns the final parameters, the objective curve ``J[t]``, ``t = 0..T`` (the network
    after ``t`` updates, ``T = max(record)``), and diagnostics at each recorded
    step in ``record`` (``{name: (len(record),)}``: ``loss`` (test MSE), ``train_loss``
    (training MSE), ``grad_norm`` (of ``J``), ``param_norm`` (``|theta|``), ``stop_reason``
    (LM's stop code, :data:`STOP_RUNNING` during Adam and L-BFGS), ``sym_pairs``,
    ``sym_fraction``; and ``pred``, the network on the test grid, ``(len(record), n_test)``),
    computed under a ``lax.cond`` on the unbatched step counter (only at recorded steps). Every sum
    of the model is :func:`tree_sum` and Adam's gradient is in closed form, so the Adam phase is
    bitwise the same in any vmapped batch and any bucket; optax's L-BFGS (inner products,
    autodiff in the line search) and LM (matrix products, Cholesky) are not, and amplify last-bit
    differences (docs/theory.md §3; tests/test_lottery.py) -- the engine runs this model's cells
    one at a time.
    """
    dtype = jnp.result_type(float)
    bucket = int(static["width"])
    n_adam, n_polish = horizon(static, record)
    total = n_adam + n_polish
    act = static["activation"]
    sigma, ytrue = activation_fn(act), target_fn(static["target"])
    x, sw = training_points(static.get("train_grid", "uniform"), int(static["n_train"]), dyn["interval"], dtype)
    y = ytrue(x)
    xt = grid(int(static["n_test"]), dyn["interval"], dtype)
    yt = ytrue(xt)
    m = dyn["width"]
    lam = weight_decay(dyn, dtype)
    params = init_params(key, bucket, m, dyn["init_scale"], dtype)

    def value_and_grad(p):
        return objective_and_grad(p, x, y, act, lam, sw)

    def value_fn(p):
        return objective(p, x, y, sigma, lam, sw)

    zero = {k: jnp.zeros((), dtype) for k in ("loss", "train_loss", "grad_norm", "param_norm", "sym_pairs",
                                              "sym_fraction")}
    zero["pred"] = jnp.zeros(xt.shape, dtype)

    def diag(p, g=None):  # g: the gradient of J at p, when the caller has it
        if g is None:
            _, g = value_and_grad(p)
        pairs, frac = symmetric_pairs(p, m)
        pred = forward(p, xt, sigma)
        r = pred - yt
        return {"loss": tree_sum(r * r) / xt.shape[0], "train_loss": mse(p, x, y, sigma, sw),
                "grad_norm": jnp.sqrt(tree_vdot(g, g)), "param_norm": jnp.sqrt(tree_vdot(p, p)),
                "sym_pairs": pairs, "sym_fraction": frac, "pred": pred}

    # Adam phase, one lax.scan of n_adam + 1 evaluations of (J, grad J) at theta_0 .. theta_n_adam
    # (the last update is discarded): the network and its gradient at each recorded step and at
    # n_adam are copied into a small snapshot buffer (slot i for the i-th such step, a spare last
    # slot for every other step), and the diagnostics are computed from the snapshots after the
    # scan. The scan has no branch and emits one number per step (J), so recording costs nothing
    # per step, unbatched or vmapped, and J and grad J at a recorded step are the scan's own.
    rec_adam = sorted({int(s) for s in record if s <= n_adam} | {n_adam})
    slots = np.full(n_adam + 1, len(rec_adam), np.int32)
    slots[np.asarray(rec_adam, int)] = np.arange(len(rec_adam), dtype=np.int32)
    slot_j = jnp.asarray(slots)
    adam = optax.adam(dyn["adam_lr"], b1=0.9, b2=0.999, eps=1e-8)

    def adam_step(carry, t):
        p, st, b = carry
        val, g = value_and_grad(p)
        b = jax.tree.map(lambda u, v: jax.lax.dynamic_update_index_in_dim(u, v, slot_j[t], 0), b, (p, g))
        upd, st = adam.update(g, st, p)
        return (optax.apply_updates(p, upd), st, b), val

    buf = jax.tree.map(lambda v: jnp.zeros((len(rec_adam) + 1,) + v.shape, v.dtype), (params, params))
    _, l_adam, (snap_p, snap_g) = (lambda c, v: (c[0], v, c[2]))(
        *jax.lax.scan(adam_step, (params, adam.init(params), buf), jnp.arange(n_adam + 1)))
    params = jax.tree.map(lambda v: v[slots[n_adam]], snap_p)  # theta after n_adam updates
    rec_adam = [s for s in rec_adam if s in set(int(r) for r in record)]  # the recorded ones
    d_rec = jax.lax.map(lambda pg: diag(*pg), jax.tree.map(lambda v: v[:len(rec_adam)], (snap_p, snap_g))) \
        if rec_adam else None

    # phase 2: diagnostics under a lax.cond on the step counter (its cells run unbatched)
    rec_j = jnp.asarray(record_mask(record, total))

    def maybe_diag(t, p):  # p: the network after t updates
        return jax.lax.cond(rec_j[t], diag, lambda q: zero, p)

    codes = jnp.zeros((n_polish,), jnp.int32)

    if static.get("polish", "lm") == "lm":
        v_start = value_fn(params)
        theta, vals, codes, d_pol = levenberg_marquardt(flatten(params), x, y, act, lam, n_polish,
                                                        lambda t, th: maybe_diag(t + 1, unflatten(th)), start=n_adam,
                                                        sw=sw)
        # the curve holds J before each update (as the Adam phase does), then the final value
        params = unflatten(theta)
        l_pol = jnp.concatenate([v_start[None], vals[:-1]]) if n_polish else vals
        v_end = vals[-1] if n_polish else v_start  # LM's own value: a stopped run's curve is flat to the bit
    else:
        lbfgs = lbfgs_optimizer()
        vg_state = optax.value_and_grad_from_state(value_fn)

        def lbfgs_scan_step(carry, t):
            p, st = carry
            val, g = vg_state(p, state=st)
            upd, st = lbfgs.update(g, st, p, value=val, grad=g, value_fn=value_fn)
            p = optax.apply_updates(p, upd)
            return (p, st), (val, maybe_diag(t + 1, p))

        (params, _), (l_pol, d_pol) = jax.lax.scan(lbfgs_scan_step, (params, lbfgs.init(params)),
                                                   jnp.arange(n_adam, total))
        v_end = value_fn(params)
    curve = jnp.concatenate([l_adam[:n_adam], l_pol, v_end[None]]) if n_polish else l_adam
    stop = jnp.concatenate([jnp.zeros((n_adam + 1,), jnp.int32), codes])  # stop code of the network after t updates
    idx = np.asarray(record, int)
    # row of each recorded step in [Adam snapshots, phase-2 steps 1..n_polish]
    rows = np.asarray([slots[s] if s <= n_adam else len(rec_adam) + s - n_adam - 1 for s in idx], int)
    parts = ([d_rec] if rec_adam else []) + ([d_pol] if n_polish else [])
    out = jax.tree.map(lambda *v: jnp.concatenate(v)[rows], *parts)
    out["stop_reason"] = stop[idx]
    return params, curve, out


def window(s: int, n_adam: int) -> int:
    """``k`` of ``rel_change`` at step ``s``: ``ceil(0.1 (s - s0))``, ``s0`` the start of the
    phase that step ``s`` is in (0 for Adam, ``adam_steps`` for L-BFGS), at least 1."""
    return numerics.window(s, WINDOW_FRACTION, n_adam if s > n_adam else 0)


def recorded(static: dict, nested: dict) -> tuple[int, ...]:
    """Recorded steps of a cell with ``0`` read as the end of training."""
    total = sum(_protocol(static))
    return tuple(total if int(s) == 0 else int(s) for s in nested["steps"])


def relative_gradient(grad_norm, param_norm, objective, scale):
    """The stationarity statistic ``|grad J| max(|theta|, 1) / max(J, FLOOR_REL scale)``.

    Dennis & Schnabel 1983 (*Numerical Methods for Unconstrained Optimization*, §7.2): the
    relative gradient, the fractional change of ``J`` per fractional change of ``theta``
    (``d log J / d log theta`` along the gradient), which is invariant to rescaling ``J`` and
    (above ``|theta| = 1``) ``theta``. ``typx = 1`` (the initial weights are O(1)); ``typf =
    FLOOR_REL * scale`` with ``scale = Var(y)`` on the training grid, the objective of the best
    constant predictor, so an objective that has fallen to ``eps Var(y)`` counts as zero and a run
    whose loss is still falling toward 0 is stationary once its gradient is small against that
    floor. ``rel_grad <= GRAD_TOL`` is the stationarity test of :func:`convergence_status`.
    """
    return grad_norm * jnp.maximum(param_norm, 1.0) / jnp.maximum(objective, FLOOR_REL * scale)


def convergence_status(rel_grad, stop_reason, diverged):
    """Row status from stationarity, not from how fast the loss moves.

    ``diverged`` when a loss was not finite; else ``ok`` when ``rel_grad <= GRAD_TOL``
    (:func:`relative_gradient`) or LM stopped by itself (:data:`STOP_LM_NO_DECREASE`: no step of
    any damping lowers ``J`` in float64; :data:`STOP_LM_TINY_STEP`); else ``stalled`` when the
    objective stopped changing (:data:`STOP_STALLED`); else ``max_iterations``. The relative change
    of the loss is no criterion: a run whose loss falls like ``t^-2`` toward 0 changes by 23 % over
    its last 10 % of steps whatever its gradient (tests/test_lottery.py).
    """
    lm_stop = (stop_reason == STOP_LM_NO_DECREASE) | (stop_reason == STOP_LM_TINY_STEP)
    ok = (rel_grad <= GRAD_TOL) | lm_stop
    code = jnp.where(ok, 0, jnp.where(stop_reason == STOP_STALLED, MODEL.status_code("stalled"),
                                      MODEL.status_code("max_iterations")))
    return jnp.where(diverged, MODEL.status_code("diverged"), code).astype(jnp.int32)


def _member(static, dyn, key, record):
    """One network's metrics at the recorded steps (see :func:`evaluate`), plus ``pred``."""
    n_adam, _ = horizon(static, record)
    _, curve, d = train(static, dyn, key, record)
    x, sw = training_points(static.get("train_grid", "uniform"), int(static["n_train"]), dyn["interval"], curve.dtype)
    y = target_fn(static["target"])(x)
    wt = jnp.ones_like(y) / y.shape[0] if sw is None else sw * sw / y.shape[0]
    scale = jnp.sum(wt * (y - jnp.sum(wt * y)) ** 2)  # Var(y) under the training weights
    obj, rel, bad, still = [], [], [], []
    for s in record:
        k = window(s, n_adam)
        obj.append(curve[s])
        rel.append(jnp.abs(curve[s - k] - curve[s]) / curve[s] if s >= 1 else jnp.zeros((), curve.dtype))
        bad.append(~jnp.all(jnp.isfinite(curve[: s + 1])))
        start = n_adam if s > n_adam else 0  # the phase step s is in
        # LM's flat stretches are its damping ramp (rejected steps); it reports its own stop
        lm_phase = s > n_adam and static.get("polish", "lm") == "lm"
        still.append(jnp.all(curve[s - STALL_ITERATIONS:s + 1] == curve[s])
                     if s - start >= STALL_ITERATIONS and not lm_phase else jnp.asarray(False))
    obj = jnp.stack(obj)
    stop = jnp.where((d["stop_reason"] == STOP_RUNNING) & jnp.stack(still), STOP_STALLED, d["stop_reason"])
    out = {**d, "objective": obj, "rel_change": jnp.stack(rel), "stop_reason": stop,
           "rel_grad": relative_gradient(d["grad_norm"], d["param_norm"], obj, scale)}
    out["status"] = convergence_status(out["rel_grad"], stop, jnp.stack(bad))
    return out


def evaluate(static, nested, dyn, key) -> dict:
    """Train one network (or ``ensemble = K`` of them); metrics at every recorded step.

    Args:
      static: ``target``, ``activation``, ``width`` (bucket size M), ``n_train``, ``n_test``,
        ``adam_steps``, ``polish``, ``polish_steps``, ``ensemble``.
      nested: ``steps``: sorted recorded steps (0: the end of training).
      dyn: traced ``width`` (true N <= M), ``interval``, ``init_scale``, ``adam_lr``, ``weight_decay``.
      key: PRNG key of the seed.

    Returns:
      each ``(len(steps),)``: ``loss`` (test MSE of the predictor), ``member_loss``, ``train_loss``,
      ``objective``, ``rel_grad``, ``rel_change``, ``grad_norm``, ``param_norm``,
      ``stop_reason``, ``sym_pairs``, ``sym_fraction`` and ``status``
      (:func:`convergence_status`). With ``K > 1`` the members are trained independently from
      keys ``key, fold_in(key, 1), ..., fold_in(key, K - 1)``; ``loss`` is the test MSE of their
      average ``(1/K) sum_k f_k(x)``, ``member_loss`` the mean of their own test MSEs, the other
      metrics the mean over members except ``rel_grad``, ``rel_change`` (largest), ``stop_reason``
      (smallest) and ``status`` (the worst: diverged, max_iterations, stalled, ok).
    """
    record = recorded(static, nested)
    K = int(static.get("ensemble", 1))
    if K == 1:
        out = _member(static, dyn, key, record)
        out.pop("pred")
        out["member_loss"] = out["loss"]
        return out
    keys = jnp.concatenate([key[None], jax.vmap(lambda i: jax.random.fold_in(key, i))(jnp.arange(1, K))])
    m = jax.vmap(lambda k: _member(static, dyn, k, record))(keys)
    yt = target_fn(static["target"])(grid(int(static["n_test"]), dyn["interval"], m["loss"].dtype))
    mean_pred = tree_sum(m.pop("pred"), axis=0) / K
    r = mean_pred - yt[None, :]
    out = {k: tree_sum(v, axis=0) / K for k, v in m.items() if k not in ("rel_grad", "rel_change", "stop_reason",
                                                                          "status")}
    out["member_loss"] = out.pop("loss")
    out["loss"] = tree_sum(r * r, axis=1) / yt.shape[0]
    out["rel_grad"], out["rel_change"] = jnp.max(m["rel_grad"], axis=0), jnp.max(m["rel_change"], axis=0)
    out["stop_reason"] = jnp.min(m["stop_reason"], axis=0)
    worst = [MODEL.status_code(n) for n in ("ok", "stalled", "max_iterations", "diverged")]  # best to worst
    rank = jnp.zeros((len(MODEL.status_names),), jnp.int32).at[jnp.asarray(worst)].set(jnp.arange(4, dtype=jnp.int32))
    out["status"] = jnp.asarray(worst, jnp.int32)[jnp.max(rank[m["status"]], axis=0)]
    return out


# ----------------------------------------------------------------------------- engine hooks


def bucket(name: str, value: Any) -> Any:
    """The width itself on every backend (see the module docstring: padding is exact for Adam
    but not for optax's L-BFGS, which amplifies rounding; a row must not depend on its bucket)."""
    return exact_bucket(name, value)


def sequential_cells(static) -> bool:
    """Cells run one at a time (``Model.sequential_cells``) when a second optimiser runs: L-BFGS
    and LM are not batch-invariant and amplify last-bit differences to O(1). The Adam phase is
    bitwise the same in any vmapped batch (closed-form gradient, :func:`tree_sum`), so Adam-only
    groups are vmapped over their cells (seeds, learning rates, ...)."""
    return int(static.get("polish_steps", 0)) > 0


def cell_bytes(static, nested) -> int:
    M, n, nt = int(static["width"]), int(static["n_train"]), int(static["n_test"])
    T, K = sum(_protocol(static)), int(static.get("ensemble", 1))
    P = 3 * M + 1
    # activations of train and test grids (a few copies for the backward pass and the line
    # search), the pair matrices, the loss curve, the L-BFGS memory, LM's Jacobian and matrices
    lm = 4 * n * P + 6 * P * P if static.get("polish") == "lm" else 0
    per_member = 12 * M * n + 4 * M * nt + 6 * M * M + 8 * T + 4 * LBFGS_MEMORY * P + lm + len(nested["steps"]) * nt
    return 8 * K * per_member + (1 << 16)


def check_config(values) -> None:
    if "gauss" in values.get("train_grid", ()) and max(values["n_train"]) > MAX_GAUSS_POINTS:
        raise UserError("params.n_train", f"{max(values['n_train'])} Gauss-Legendre points; allowed with train_grid = "
                                          f"'gauss': 2..{MAX_GAUSS_POINTS}")
    for a in values["adam_steps"]:
        for b in values["polish_steps"]:
            if a + b < 1:
                raise UserError("params.adam_steps", "adam_steps + polish_steps is 0; allowed: at least one step")
            for s in values["steps"]:
                if s > a + b:
                    raise UserError("sweep.steps", f"{s} > adam_steps + polish_steps = {a + b}; allowed: recorded "
                                                   "steps 1..adam_steps + polish_steps, or 0 (the end)")
    if 0 in values["steps"] and len(values["steps"]) > 1:
        raise UserError("sweep.steps", "0 (the end of training) is allowed only as a fixed value; in a sweep "
                                       "list the recorded steps explicitly, ending with adam_steps + polish_steps")


EXAMPLE = {"seeds": 2, "params": {"n_train": 16, "n_test": 33, "adam_steps": 20, "polish_steps": 5, "adam_lr": 1e-2},
           "sweep": {"width": [3, 5], "steps": [10, 25]}}

MODEL = register(
    Model(
        name="lottery",
        summary="two-layer network f(x) = sum a_i sigma(w_i x + c_i) + d (or the average of K of them) fitted by "
                "full-batch least squares to a 1-D target (x^2, x^3, sin x, exp(-x^2)) on a grid: Adam then "
                "Levenberg-Marquardt or L-BFGS, weight decay, float64; status from stationarity",
        params=PARAMS,
        metrics=METRICS,
        evaluate=evaluate,
        theory=theory.THEORY,
        bucket=bucket,
        cell_bytes=cell_bytes,
        check_config=check_config,
        # LM / L-BFGS to a stationary point to machine precision; both amplify last-bit
        # differences to O(1) (module docstring): a float32 rerun is another trajectory.
        precision="float64",
        audit_rule="trajectory",
        limits=("adam_steps + polish_steps >= 1",
                "steps <= adam_steps + polish_steps; steps = 0 (the end of training) only as a fixed value"),
        sequential_cells=sequential_cells,
        statuses=(MAX_ITERATIONS, STALLED),
        references=(
            "Liu & Tegmark 2023, A Neural Scaling Law from Lottery Ticket Ensembling",
            "Dennis & Schnabel 1983, Numerical Methods for Unconstrained Optimization (relative-gradient stop test)",
            "Sharma & Kaplan 2022, Scaling Laws from the Data Manifold Dimension",
            "Marquardt 1963, An Algorithm for Least-Squares Estimation of Nonlinear Parameters (LM polish)",
            "Madsen, Nielsen & Tingleff 2004, Methods for Non-Linear Least Squares Problems (LM damping update)",
        ),
        example=EXAMPLE,
    )
)
