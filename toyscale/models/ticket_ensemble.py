"""The solvable "ticket ensemble": the average of N independent random lottery tickets
(docs/theory.md §3; Liu & Tegmark 2023).

A ticket is a symmetric neuron pair with input weight ``w`` and bias ``c``, normalised to fit
``x^2``::

    g(x) = [sigma(c + w x) + sigma(c - w x) - 2 sigma(c)] / (sigma''(c) w^2) = x^2 + e(x),
    e(x) = sigma''''(c) w^2 x^4 / (12 sigma''(c)) + O(w^4 x^6)

(Taylor expansion: the pair is even, so only even powers survive). Tickets are drawn
independently, ``w ~ w_scale U(0.5, 1.5)``, ``c ~ U(0.25, 1)`` (where ``sigma''(c)`` is bounded
away from 0 for silu, tanh and gelu), ticket ``k`` of ensemble ``r`` from
``fold_in(fold_in(key, r), k)``; the ensemble's error is ``e_N(x) = (1/N) sum_{k<N} e_k(x)``.
By the central limit theorem ``Var e_N(x) = Var e(x) / N`` exactly, for every N: the 1/N law
Liu & Tegmark argue the trained networks inherit. The mean error ``E e(x)`` does not average
away (a bias plateau in the MSE).

``width`` (N) is nested: the first N tickets of one draw, so one cell computes every N.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from toyscale.errors import UserError
from toyscale.models import register
from toyscale.models.base import uniform as draw_uniform
from toyscale.protocol import Metric, Model
from toyscale.models.lottery import activation_fn
from toyscale.params import Param
from toyscale.theory import ticket_ensemble as theory


PARAMS = (
    Param("activation", str, "silu", "sigma of the tickets: 'silu', 'tanh', 'gelu' (smooth; sigma''(c) != 0)",
          choices=("silu", "tanh", "gelu"), role="static"),
    Param("width", int, 16, "N, tickets averaged (nested: the first N of one draw)", low=1, high=100_000,
          role="nested"),
    Param("ensembles", int, 64, "R, independent ensembles per row (the variance is over them)", low=2,
          high=100_000, role="static"),
    Param("interval", float, 1.0, "x in [-interval, interval]", low=0.0, low_open=True),
    Param("n_grid", int, 101, "grid points of the interval", low=2, high=100_000, role="static"),
    Param("w_scale", float, 0.5, "ticket input weights w ~ w_scale U(0.5, 1.5)", low=0.0, low_open=True),
)

METRICS = (
    Metric("error_variance", "mean over x of the variance over the R ensembles of e_N(x) (theory: Var e / N)"),
    Metric("mse", "mean over x and ensembles of e_N(x)^2 (variance + squared bias)"),
    Metric("bias_sq", "mean over x of (mean over ensembles of e_N(x))^2"),
)


def second_derivative(name: str):
    """``sigma''`` in closed form: silu ``s(1-s)(2 + z(1-2s))``; tanh ``-2 t (1 - t^2)``;
    gelu ``phi(z)(2 - z^2)``."""
    def silu(z):
        s = jax.nn.sigmoid(z)
        return s * (1 - s) * (2 + z * (1 - 2 * s))

    def tanh(z):
        t = jnp.tanh(z)
        return -2 * t * (1 - t * t)

    def gelu(z):
        return jnp.exp(-0.5 * z * z) / jnp.sqrt(2 * jnp.pi) * (2 - z * z)

    return {"silu": silu, "tanh": tanh, "gelu": gelu}[name]


def ticket_errors(w, c, x, activation: str):
    """``e(x) = g(x) - x^2`` for tickets ``(w, c)`` (shapes ``(k,)``) at inputs ``x`` (``(n,)``): ``(k, n)``."""
    s, s2 = activation_fn(activation), second_derivative(activation)
    z = w[:, None] * x[None, :]
    g = (s(c[:, None] + z) + s(c[:, None] - z) - 2 * s(c)[:, None]) / (s2(c) * w * w)[:, None]
    return g - x[None, :] ** 2


def draw_tickets(key, count: int, w_scale, dtype):
    """``(w, c)`` of ``count`` tickets; ticket ``k`` from ``fold_in(key, k)`` (independent of ``count``)."""
    u = jax.vmap(lambda k: draw_uniform(jax.random.fold_in(key, k), (2,), dtype))(jnp.arange(count))
    w = w_scale * (theory.W_RANGE[0] + (theory.W_RANGE[1] - theory.W_RANGE[0]) * u[:, 0])
    c = theory.C_RANGE[0] + (theory.C_RANGE[1] - theory.C_RANGE[0]) * u[:, 1]
    return w, c


def evaluate(static, nested, dyn, key) -> dict:
    """Error statistics of ensembles of the first N tickets, for every N in ``nested["width"]``.

    ``R = ensembles`` independent ensembles (ensemble ``r`` from ``fold_in(key, r)``); the
    running mean over tickets gives ``e_N`` for all N at once.
    """
    dtype = jnp.result_type(float)
    widths = tuple(int(n) for n in nested["width"])
    nmax, R = max(widths), int(static["ensembles"])
    x = dyn["interval"] * jnp.linspace(-1.0, 1.0, int(static["n_grid"]), dtype=dtype)

    def one(r):
        w, c = draw_tickets(jax.random.fold_in(key, r), nmax, dyn["w_scale"], dtype)
        e = ticket_errors(w, c, x, static["activation"])  # (nmax, n)
        cum = jnp.cumsum(e, axis=0)
        return jnp.stack([cum[n - 1] / n for n in widths])  # (len(widths), n)

    eN = jax.vmap(one)(jnp.arange(R))  # (R, len(widths), n)
    mean = jnp.mean(eN, axis=0)
    var = jnp.sum((eN - mean[None]) ** 2, axis=0) / (R - 1)
    return {"error_variance": jnp.mean(var, axis=-1), "mse": jnp.mean(eN * eN, axis=(0, 2)),
            "bias_sq": jnp.mean(mean * mean, axis=-1)}


def cell_bytes(static, nested) -> int:
    return 8 * 4 * int(static["ensembles"]) * (max(nested["width"]) + len(nested["width"])) * int(static["n_grid"]) + (1 << 16)


def check_config(values) -> None:
    for n in values["width"]:
        if n > 100_000:
            raise UserError("sweep.width", f"{n} tickets; allowed: at most 100000 per ensemble")


EXAMPLE = {"seeds": 2, "params": {"ensembles": 8, "n_grid": 11}, "sweep": {"width": [1, 4, 16], "w_scale": [0.5, 1.0]}}

MODEL = register(
    Model(
        name="ticket_ensemble",
        summary="average of N independent random lottery tickets (symmetric pairs fitted to x^2): error variance ~ 1/N",
        params=PARAMS,
        metrics=METRICS,
        evaluate=evaluate,
        theory=theory.THEORY,
        cell_bytes=cell_bytes,
        check_config=check_config,
        # sigma(c + w x) + sigma(c - w x) - 2 sigma(c) cancels to O(w^2 x^2): float64.
        precision="float64",
        audit_rule="roundoff",
        references=("Liu & Tegmark 2023, A Neural Scaling Law from Lottery Ticket Ensembling",),
        example=EXAMPLE,
    )
)
