"""The data-pruning perceptron (docs/theory.md, "The data-pruning perceptron").

Sorscher, Geirhos, Shekhar, Ganguli & Morcos 2022, *Beyond neural scaling laws: beating power law
scaling via data pruning* (NeurIPS 2022).

Teacher-student: ``x ~ N(0, I_N)``, ``y = sign(T.x)``. By rotation invariance the teacher is the
first axis, ``T = e_1``, and the probe is ``P = cos(theta) e_1 + sin(theta) e_2`` (angle
``theta = probe_angle`` to the teacher; ``theta = 0`` is a perfect pruning metric). Each of the
``P_tot = round(alpha N)`` examples is scored by its label-free margin ``z = P.x``; the
``K = max(1, round(f P_tot))`` examples of smallest ``|z|`` (keep-hard) or largest ``|z|``
(keep-easy) are kept (``keep = "all"``: every example). The student is the max-margin perceptron
on the kept set::

    w* = argmin |w|^2 / 2  s.t.  y_mu w.x_mu >= 1,   kappa = 1 / |w*|  (the margin of w*/|w*|),

solved by the finite Newton method (Keerthi & DeCoste 2005, JMLR 6) on the squared-hinge
relaxation ``|w|^2/(2C) + sum_mu (1 - y_mu w.x_mu)_+^2 / 2`` with continuation in ``C`` (from
:data:`C_START`, times :data:`C_GROWTH` whenever a Newton step leaves the active set unchanged):
each step solves ``(I/C + A_S'A_S) d = -grad`` (Cholesky; ``A_S`` the active rows among the
``HESSIAN_ROWS * N`` of smallest margin) and takes the exact line-search step (sorted breakpoints of the
piecewise-linear derivative). After every step the relaxation's dual variables
``a = C (1 - y X w)_+`` and ``w`` rescaled to feasibility give the hard-margin duality gap; the
solver stops when the relative gap ``(p - d)/p <= tol`` (then ``|w/|w| - w*/|w*|| <= sqrt(tol)``
by strong convexity), else at ``max_iter`` Newton steps with the status ``max_iterations``.
Metrics: ``error = arccos(R)/pi`` with ``R = w_1/|w|``, ``R``, the margin ``kappa`` of the
returned ``w``, the gap and the Newton steps.

A row is a function of its configuration: example ``i`` is drawn from ``fold_in(key, i)``
(:func:`~toyscale.models.base.indexed_normal`), the arrays are padded to powers of two fixed by
the row itself (``group_extra``), and padded examples are masked out of the selection and the
solver.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

from toyscale.errors import UserError
from toyscale.models import register
from toyscale.models.base import indexed_normal
from toyscale.protocol import Metric, Model, Status, pow2_bucket
from toyscale.params import Param
from toyscale.theory import perceptron as theory

#: Relaxation weight C of the first Newton steps, and its growth once the active set settles.
C_START, C_GROWTH = 10.0, 1e2
#: The Newton Hessian uses the ``HESSIAN_ROWS * N`` examples of smallest margin (a max-margin
#: solution in general position has at most N support vectors).
HESSIAN_ROWS = 2
#: Largest padded example count (memory bound of one cell).
MAX_EXAMPLES = 1 << 17

PARAMS = (
    Param("dim", int, 100, "N, input dimension", low=2, high=4096, role="static"),
    Param("alpha", float, 4.0, "alpha_tot = P/N, examples per dimension before pruning (alpha N is capped at "
          "MAX_EXAMPLES)", low=0.0, low_open=True, high=1e6),
    Param("keep", str, "all", "pruning rule: 'all' (no pruning), 'hard' (keep |z| <= gamma), 'easy' (keep |z| >= gamma)",
          choices=theory.RULES, role="static"),
    Param("keep_fraction", float, 1.0, "f, fraction of the examples kept (ignored when keep = 'all')", low=0.0,
          low_open=True, high=1.0),
    Param("probe_angle", float, 0.0, "theta, angle (radians) between the pruning probe and the teacher", low=0.0,
          high=math.pi / 2),
    Param("tol", float, 1e-4, "stop when the relative duality gap (p - d)/p is at most tol", low=0.0, low_open=True,
          high=0.5),
    Param("max_iter", int, 200, "cap on the Newton steps of the max-margin solver", low=1, high=10_000_000, role="static"),
)

METRICS = (
    Metric("error", "generalisation error eps = arccos(R)/pi"),
    Metric("R", "student-teacher overlap w.T/(|w||T|)"),
    Metric("kappa", "margin min_mu y_mu w.x_mu/|w| of the student on the kept set"),
    Metric("gap", "relative duality gap (p - d)/p at exit"),
    Metric("iterations", "Newton steps of the max-margin solver"),
    Metric("kept", "number of kept examples K"),
)

MAX_ITERATIONS = Status("max_iterations", "the Newton solver reached max_iter with the duality gap above tol "
                                          "(not the max-margin perceptron; not fitted)", usable=False)


def counts(dim: int, alpha: float, keep: str, keep_fraction: float) -> tuple[int, int]:
    """``(P_tot, K)``: examples drawn ``round(alpha N)`` (at least 1) and kept ``max(1, round(f P_tot))``."""
    p = max(1, int(round(alpha * dim)))
    k = p if keep == "all" else max(1, int(round(keep_fraction * p)))
    return p, k


def group_extra(row) -> dict:
    """Padded sizes (powers of two) of the drawn and the kept examples, from the row alone."""
    p, k = counts(int(row["dim"]), float(row["alpha"]), row["keep"], float(row["keep_fraction"]))
    return {"p_pad": pow2_bucket("p", p), "k_pad": pow2_bucket("k", k)}


def select(x, n_valid, keep: str, keep_fraction, probe_angle, k_pad: int):
    """Kept examples of ``x`` (``(p_pad, N)``, rows ``>= n_valid`` padding): ``(X, y, mask)`` of
    shape ``(k_pad, N)``, ``(k_pad,)``, ``(k_pad,)``; labels ``y = sign(x_1)``, score
    ``|z| = |cos(theta) x_1 + sin(theta) x_2|``."""
    p_pad = x.shape[0]
    valid = jnp.arange(p_pad) < n_valid
    if keep == "all":
        k = n_valid
        order = jnp.arange(p_pad)
    else:
        k = jnp.maximum(1, jnp.round(keep_fraction * n_valid)).astype(jnp.int32)
        score = jnp.abs(jnp.cos(probe_angle) * x[:, 0] + jnp.sin(probe_angle) * x[:, 1])
        key = score if keep == "hard" else -score
        order = jnp.argsort(jnp.where(valid, key, jnp.inf), stable=True)
    idx = order[:k_pad] if k_pad <= p_pad else jnp.concatenate([order, jnp.zeros(k_pad - p_pad, order.dtype)])
    mask = (jnp.arange(k_pad) < k) & (jnp.arange(k_pad) < p_pad)
    X = jnp.where(mask[:, None], x[idx], 0.0)
    y = jnp.where(X[:, 0] >= 0, 1.0, -1.0).astype(x.dtype)
    return X, y, mask


def _line_search(r, q, m, a0, a1):
    """Exact minimiser ``t >= 0`` of the convex piecewise quadratic
    ``phi(t) = a0 t + a1 t^2 / 2 + sum_mu m_mu (r_mu - t q_mu)_+^2 / 2`` (the relaxation along the
    Newton direction: ``r = 1 - y X w``, ``q = y X d``, ``a0 = w.d/C``, ``a1 = d.d/C``).

    ``phi'`` is non-decreasing and linear between the breakpoints ``t_mu = r_mu / q_mu > 0``,
    where row ``mu`` leaves (``q > 0``) or enters (``q < 0``) the active set: sort them, carry the
    active sums ``sum q r`` and ``sum q^2`` across them by cumulative sums, take the first piece on
    whose right end ``phi' >= 0`` and solve the linear equation there (Keerthi & DeCoste 2005,
    section 3). A handful of vector operations instead of a bisection loop."""
    act0 = (m > 0) & ((r > 0) | ((r == 0) & (q < 0)))
    s0 = jnp.sum(jnp.where(act0, q * r, 0.0))
    s1 = jnp.sum(jnp.where(act0, q * q, 0.0))
    tb = jnp.where((m > 0) & (q != 0), r / jnp.where(q != 0, q, 1.0), -1.0)
    tb = jnp.where(tb > 0, tb, jnp.inf)
    order = jnp.argsort(tb)
    ts, qs, rs = tb[order], q[order], r[order]
    sign = jnp.where(jnp.isfinite(ts), jnp.where(qs > 0, -1.0, 1.0), 0.0)
    c0 = s0 + jnp.concatenate([jnp.zeros(1, r.dtype), jnp.cumsum(sign * qs * rs)])  # sums on piece k
    c1 = s1 + jnp.concatenate([jnp.zeros(1, r.dtype), jnp.cumsum(sign * qs * qs)])
    b0, b1 = a0 - c0, a1 + c1  # phi'(t) = b0 + b1 t on piece k = [T_k, T_{k+1}]
    right = jnp.concatenate([ts, jnp.full(1, jnp.inf, r.dtype)])
    left = jnp.concatenate([jnp.zeros(1, r.dtype), ts])
    ok = (b0 + b1 * right >= 0) | ~jnp.isfinite(right)
    k = jnp.argmax(ok)
    t = -b0[k] / jnp.where(b1[k] > 0, b1[k], 1e-300)
    return jnp.clip(t, left[k], jnp.where(jnp.isfinite(right[k]), right[k], jnp.inf))


def max_margin(X, y, mask, tol, max_iter: int):
    """Hard-margin SVM without bias, ``min |w|^2/2 s.t. y_mu w.x_mu >= 1``, by the finite Newton
    method on its squared-hinge relaxation with continuation in ``C`` (module docstring).

    Returns ``(w, kappa, gap, iterations)``: ``w``, its margin ``min y X w / |w|`` over the kept
    rows, the relative duality gap of the hard-margin problem and the Newton steps run.
    """
    dtype = X.dtype
    n = X.shape[1]
    A = X * y[:, None]  # rows y_mu x_mu (zero on padding)
    m = mask.astype(dtype)
    eye = jnp.eye(n, dtype=dtype)

    def gap_of(w, C):
        o = A @ w
        a = C * jnp.maximum(0.0, 1.0 - o) * m  # the relaxation's dual variables, a >= 0
        margin = jnp.min(jnp.where(mask, o, jnp.inf))
        wd = A.T @ a
        p = 0.5 * (w @ w) / jnp.maximum(margin, 1e-300) ** 2
        g = jnp.where(margin > 0, (p - (jnp.sum(a) - 0.5 * wd @ wd)) / p, jnp.inf)
        return g, margin / jnp.sqrt(w @ w)

    rows = min(A.shape[0], HESSIAN_ROWS * n)

    def newton(w, C):
        o = A @ w
        s = m * (o < 1.0)
        grad = w / C - A.T @ (s * (1.0 - o))
        # the Hessian I/C + A_S'A_S from the rows of smallest margin (all of S once |S| <= rows;
        # before that a positive-definite under-estimate: still a descent direction)
        if rows < A.shape[0]:
            idx = jax.lax.top_k(jnp.where(mask, -o, -jnp.inf), rows)[1]
            As = A[idx] * s[idx][:, None]
        else:  # every row fits: no selection
            As = A * s[:, None]
        H = eye / C + As.T @ As
        d = -jax.scipy.linalg.cho_solve(jax.scipy.linalg.cho_factor(H, lower=True), grad)
        q = A @ d
        t = _line_search(1.0 - o, q, m, (w @ d) / C, (d @ d) / C)
        wn = w + t * d
        same = jnp.all((A @ wn < 1.0) == (o < 1.0)) | (t * jnp.sqrt(d @ d) <= 1e-14 * jnp.sqrt(wn @ wn))
        return wn, same

    def cond(s):
        return (s[2] > tol) & (s[3] < max_iter)

    def body(s):
        w, C, _, it = s
        w, same = newton(w, C)
        g, _ = gap_of(w, C)
        # the active set settled: the relaxation at this C is solved; tighten it
        C = jnp.where(same & (g > tol), C * C_GROWTH, C)
        return w, C, g, it + 1

    s0 = (jnp.zeros(n, dtype), jnp.asarray(C_START, dtype), jnp.asarray(jnp.inf, dtype), jnp.asarray(0, jnp.int32))
    w, C, _, it = jax.lax.while_loop(cond, body, s0)
    gap, kappa = gap_of(w, C)
    return w, kappa, gap, it


def evaluate(static, nested, dyn, key) -> dict:
    """Draw ``P_tot`` examples, prune, solve the max-margin problem; metrics of one configuration."""
    dtype = jnp.result_type(float)
    n, p_pad, k_pad = int(static["dim"]), int(static["p_pad"]), int(static["k_pad"])
    alpha = jnp.asarray(dyn["alpha"], dtype)
    p = jnp.maximum(1, jnp.round(alpha * n)).astype(jnp.int32)
    x = indexed_normal(key, p_pad, (n,), dtype)
    X, y, mask = select(x, p, static["keep"], dyn["keep_fraction"], dyn["probe_angle"], k_pad)
    w, kappa, gap, it = max_margin(X, y, mask, dyn["tol"], int(static["max_iter"]))
    R = jnp.clip(w[0] / jnp.linalg.norm(w), -1.0, 1.0)
    status = jnp.where(gap <= dyn["tol"], 0, 3).astype(jnp.int32)
    return {"error": jnp.arccos(R) / jnp.pi, "R": R, "kappa": kappa, "gap": gap, "iterations": it.astype(dtype),
            "kept": jnp.sum(mask).astype(dtype), "status": status}


def cell_bytes(static, nested) -> int:
    n, p_pad, k_pad = int(static["dim"]), int(static["p_pad"]), int(static["k_pad"])
    return 8 * (p_pad * n * 3 + k_pad * n * 3) + (1 << 16)


def check_config(values) -> None:
    for n in values["dim"]:
        for a in values["alpha"]:
            p, _ = counts(int(n), float(a), "all", 1.0)
            if p > MAX_EXAMPLES:
                raise UserError("sweep.alpha", f"alpha * dim = {p} examples; allowed: at most {MAX_EXAMPLES}")


def compute(row) -> float:
    """Examples drawn, ``alpha N``: the data budget of a row."""
    return float(row["alpha"]) * float(row["dim"])


EXAMPLE = {"seeds": 2, "params": {"dim": 20, "keep": "hard", "keep_fraction": 0.5, "max_iter": 200, "tol": 1e-3},
           "sweep": {"alpha": [1.0, 2.0, 4.0], "probe_angle": [0.0, 0.3]}}

MODEL = register(
    Model(
        name="perceptron",
        summary="max-margin perceptron on a pruned teacher-student set (Sorscher et al. 2022): beyond power-law data scaling",
        params=PARAMS,
        metrics=METRICS,
        evaluate=evaluate,
        theory=theory.THEORY,
        statuses=(MAX_ITERATIONS,),
        group_extra=group_extra,
        cell_bytes=cell_bytes,
        check_config=check_config,
        compute=compute,
        precision="float64",
        sequential_cells=True,  # an iterative solver: a vmapped batch changes last bits, amplified
        example=EXAMPLE,
        references=("Sorscher, Geirhos, Shekhar, Ganguli & Morcos 2022, Beyond neural scaling laws: beating power "
                    "law scaling via data pruning (NeurIPS)",
                    "Engel & van den Broeck 2001, Statistical Mechanics of Learning",
                    "Keerthi & DeCoste 2005, A modified finite Newton method for fast solution of large scale linear "
                    "SVMs (JMLR 6): the solver",),
    )
)
