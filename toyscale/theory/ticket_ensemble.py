"""Theory of the ticket ensemble (docs/theory.md §3): ``Var e_N(x) = Var e(x) / N`` exactly.

Tickets are independent, so the variance of their mean is the single-ticket variance over N
(central limit; Liu & Tegmark 2023) for every N, not only asymptotically. The prefactor
``mean_x Var e(x)`` is computed here by Monte Carlo in numpy from an independent draw of
:data:`MC_TICKETS` tickets (fixed seed), giving the finite-size curve the report scores.
"""

from __future__ import annotations

from functools import lru_cache


import numpy as np

from toyscale.theory.base import Prediction, Slice, Theory

MC_TICKETS = 200_000


def _sigma(name, z):
    if name == "silu":
        return z / (1 + np.exp(-z))
    if name == "tanh":
        return np.tanh(z)
    from scipy.special import erf

    return 0.5 * z * (1 + erf(z / np.sqrt(2)))


def _sigma2(name, z):
    if name == "silu":
        s = 1 / (1 + np.exp(-z))
        return s * (1 - s) * (2 + z * (1 - 2 * s))
    if name == "tanh":
        t = np.tanh(z)
        return -2 * t * (1 - t * t)
    return np.exp(-0.5 * z * z) / np.sqrt(2 * np.pi) * (2 - z * z)


#: Ranges of the ticket parameters: ``w ~ w_scale U(W_RANGE)``, ``c ~ U(C_RANGE)`` (the model draws
#: its tickets from the same ranges).
W_RANGE = (0.5, 1.5)
C_RANGE = (0.25, 1.0)


@lru_cache(maxsize=32)
def ticket_variance(activation: str, interval: float, n_grid: int, w_scale: float) -> float:
    """``mean_x Var e(x)`` of one ticket (numpy Monte Carlo, ``MC_TICKETS`` tickets, seed 0)."""
    rng = np.random.default_rng(0)
    w = w_scale * rng.uniform(*W_RANGE, MC_TICKETS)
    c = rng.uniform(*C_RANGE, MC_TICKETS)
    x = interval * np.linspace(-1, 1, n_grid)
    var = np.zeros(n_grid)
    for i in range(0, MC_TICKETS, 20_000):  # bounded memory
        wi, ci = w[i:i + 20_000, None], c[i:i + 20_000, None]
        g = (_sigma(activation, ci + wi * x) + _sigma(activation, ci - wi * x) - 2 * _sigma(activation, ci)) / (
            _sigma2(activation, ci) * wi * wi)
        e = g - x * x
        var += np.sum(e * e, axis=0)
        if i == 0:
            mean = np.zeros(n_grid)
        mean += np.sum(e, axis=0)
    mean /= MC_TICKETS
    return float(np.mean(var / MC_TICKETS - mean * mean))


def predict(axis: str, s: Slice) -> Prediction:
    """Width exponent of ``error_variance``: -1 (exact for iid tickets), with the curve
    ``Var e / N``; ``mse`` and ``bias_sq`` plateau at the squared bias (no exponent)."""
    params, xs, stats = s.params, s.xs, s.stats
    if axis != "width":
        return Prediction(regime=f"no prediction along {axis}", slope=None, metric="error_variance",
                          note="the ticket ensemble predicts the dependence on the number of tickets only")
    metric = s.metric or "error_variance"
    if metric != "error_variance":
        return Prediction(regime="bias plateau", slope=None, metric=metric,
                          note="the mean ticket error does not average away: mse -> bias^2")
    v = ticket_variance(params.get("activation", "silu"), float(params.get("interval", 1.0)),
                        int(params.get("n_grid", 101)), float(params.get("w_scale", 0.5)))
    return Prediction(regime="central limit over independent tickets", slope=-1.0, metric="error_variance",
                      curve=lambda n: v / np.asarray(n, float),
                      note="Var of the mean of N iid tickets = Var(one ticket) / N (Liu & Tegmark 2023); curve: "
                           f"numpy Monte Carlo prefactor over {MC_TICKETS} tickets")


#: The theory the model declares.
THEORY = Theory(predict=predict)
