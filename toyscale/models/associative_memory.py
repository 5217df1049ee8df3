"""Associative memories: closed-form memory schemes and trained memories (docs/theory.md §4).

Cabannes, Dohmatob & Bietti 2024, *Scaling Laws for Associative Memories* (ICLR 2024; code
facebookresearch/pal, ``projects/scaling_law``).

Data. Tokens ``x = 0 .. N-1`` (``vocab``) with ``p(x) ∝ (x + 1)^-alpha`` (``zipf``), label
``y(x) = x mod M`` (``classes``); the reference code's indexing. Sample ``i`` of a seed is
``F^-1(u_i)`` with ``u_i`` uniform from ``fold_in(key, i)`` (inverse CDF), so the first ``T``
samples are the same whatever the largest ``T`` of the sweep.

Embeddings. Input embeddings ``E in R^(N x d)`` and output embeddings ``U in R^(M x d)`` are the
first ``d`` columns of one draw per seed, column ``j`` from ``fold_in(key, j)`` (standard
normal): the memory of size ``d`` uses the first ``d`` coordinates, whatever the sweep's largest
``d``. The closed-form schemes normalise each ``u_y`` to unit norm in ``R^d`` (the reference's
theory notebooks); a common scale of ``E`` does not change an argmax, so ``E`` is left
unscaled there. Trained memories use the reference's ``AssMem`` scales: ``E``, ``U`` and the
initial ``W`` all ``N(0, 1/d)``.

Closed-form schemes (``scheme``): the memory ``W = Σ_x q(x) e_x u_y(x)^T`` and the scores
``S = E W U^T = E (E^T diag(q) Y) (U U^T)`` (``Y`` the ``N x M`` one-hot labels), computed in
that order: ``O(N d M)`` per ``(d, T)``, never a ``d x d`` matrix.

* ``threshold``: ``q = 1`` on the ``k = floor(threshold_ratio d)`` tokens with the largest
  empirical counts among the seen ones (ties: smaller index first); at ``T = inf`` the top-``k``
  tokens by ``p``.
* ``frequency``: ``q = p̂^rho`` on the seen tokens (``p̂`` = counts / T); ``rho = 0`` stores every
  seen token once. ``T = inf``: ``q = p^rho`` on every token.
* ``true``: ``q = p`` (``T`` is not used).
* ``width = inf``: an infinite memory recalls exactly the stored tokens (orthogonal
  embeddings); an unstored token has all scores 0 and counts as an error (so does every token
  of an empty memory at finite d, e.g. thresholding with floor(ratio d) = 0). Every scheme then
  stores the seen tokens, so its error is ``Σ_x p(x) 1{x unseen}``, expectation
  ``Σ_x p(x)(1 - p(x))^T``.

Trained memories (``scheme = "learned"``), the reference's ``run.py``/``utils.py`` protocol:
logits ``LN(E[x] W) U^T`` (``variant = "matrix"``: ``W`` learned, ``E``, ``U`` fixed;
``"learnable"``: ``E``, ``U``, ``W`` learned) or ``LN(ReLU(E[x])) U^T`` (``"exponential"``: ``E``,
``U`` learned), ``LN(o) = o / sqrt(|o|^2 + 1e-6)`` when ``layernorm = 1``. Cross-entropy (batch
mean), ONE pass over the ``T`` samples in batches of ``batch_size`` (``T / batch_size`` steps),
constant learning rate. ``optimizer = "sgd"``: plain SGD with ``lr`` as given (the reference does
not rescale SGD). ``"adam"``: Adam with betas (0, 0), eps 1e-8 (a sign-like update
``g / (|g| + eps)``) and the reference's scaling: ``lr / d`` for ``matrix``; ``lr / sqrt(d)`` for
``exponential``; ``learnable``: ``lr / sqrt(d)`` on ``E``, ``U`` and ``lr / d`` on ``W``. With a
constant learning rate the run at a smaller ``T`` is a prefix of the run at the largest ``T``:
one run per cell records the error at every ``T`` of the sweep (nested sizes).

Metrics: ``error = Σ_x p(x) 1{ŷ(x) != y(x)}`` (exact, whole vocabulary); ``error_head`` and
``error_tail``: the fraction of errors among the 30 most / least frequent tokens (the reference's
``error_head``/``error_tail``); ``stored`` (closed forms): tokens with ``q > 0``; ``train_loss``
(trained): mean cross-entropy of the batches of the last 10 % of the pass.
"""

from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from toyscale.errors import UserError
from toyscale.models import register
from toyscale.models.base import indexed_normal, uniform as draw_uniform
from toyscale.models.numerics import end_window_stats, record_mask
from toyscale.protocol import Metric, Model
from toyscale.params import Param
from toyscale.theory import associative_memory as theory

#: Tokens in the head / tail error (the reference's ``error_head``, ``error_tail``).
HEAD_TAIL = 30
#: ``train_loss`` averages the batch losses of the last ``FINAL_FRACTION`` of the pass.
FINAL_FRACTION = 0.1
#: Layer norm of the reference: ``o / sqrt(|o|^2 + LN_EPS)``.
LN_EPS = 1e-6
#: Adam epsilon (PyTorch's default, used by the reference).
ADAM_EPS = 1e-8
#: Largest ``vocab * max finite width`` of one cell (the embedding table of a seed).
MAX_TABLE = 10**8

SCHEMES = ("threshold", "frequency", "true", "learned")

PARAMS = (
    Param("vocab", int, 1000, "N, number of input tokens", low=2, high=10**7, role="static"),
    Param("classes", int, 5, "M, number of classes; y(x) = x mod M", low=2, high=1000, role="static"),
    Param("zipf", float, 2.0, "alpha: p(x) ∝ (x+1)^-alpha, x = 0..N-1", low=0.0, low_open=True),
    Param("scheme", str, "threshold", "'threshold' (top ratio*d tokens), 'frequency' (q = p̂^rho from T samples), "
          "'true' (q = p), 'learned' (trained memory)", choices=SCHEMES, role="static"),
    Param("threshold_ratio", float, 0.125, "threshold scheme: store the top floor(ratio * d) tokens (static: "
          "it fixes how many embeddings enter)", low=0.0, low_open=True, high=1.0, role="static"),
    Param("rho", float, 0.0, "frequency scheme: q = p̂^rho on seen tokens (0: store every seen token once)", low=0.0),
    Param("variant", str, "matrix", "learned: 'matrix' (W learned), 'learnable' (E, U, W learned), "
          "'exponential' (E, U learned, ReLU)", choices=("matrix", "learnable", "exponential"), role="static"),
    Param("optimizer", str, "adam", "learned: 'sgd' (lr as given) or 'adam' (betas (0, 0); lr / d or / sqrt(d))",
          choices=("sgd", "adam"), role="static"),
    Param("lr", float, 1.0, "learned: learning rate before the reference's 1/d or 1/sqrt(d) scaling (Adam)",
          low=0.0, low_open=True),
    Param("batch_size", int, 1024, "learned: samples per step (one pass over T samples)", low=1, high=10**6,
          role="static"),
    Param("layernorm", int, 0, "learned: 1 = normalise E[x] W (or ReLU(E[x])) to unit norm before U", low=0, high=1,
          role="static"),
    Param("width", int, 100, "d, memory dimension (inf: infinite memory, closed forms only)", low=1, high=10**6,
          allow_inf=True, role="nested"),
    Param("samples", int, 10240, "T, number of samples (inf: the true distribution, closed forms only)", low=1,
          high=10**8, allow_inf=True, role="nested"),
)

METRICS = (
    Metric("error", "exact error sum_x p(x) 1{prediction != label} over the whole vocabulary"),
    Metric("error_head", f"fraction of errors among the {HEAD_TAIL} most frequent tokens"),
    Metric("error_tail", f"fraction of errors among the {HEAD_TAIL} least frequent tokens"),
    Metric("stored", "closed forms: number of tokens with q(x) > 0", optional=True),
    Metric("train_loss", f"learned: mean cross-entropy of the batches of the last {FINAL_FRACTION:.0%} of the pass",
           optional=True),
)


# ----------------------------------------------------------------------------- data


def zipf_probs(n: int, alpha, dtype=None) -> jax.Array:
    """``p(x) = (x+1)^-alpha / Σ_x' (x'+1)^-alpha``, ``x = 0..n-1`` (``alpha`` may be traced)."""
    i = jnp.arange(1, n + 1, dtype=dtype or jnp.result_type(float))
    return jax.nn.softmax(-alpha * jnp.log(i))


def sample_tokens(key, p: jax.Array, count: int) -> jax.Array:
    """``count`` i.i.d. tokens from ``p`` by the inverse CDF; sample ``i`` uses only
    ``fold_in(key, i)`` (the first T samples do not depend on ``count``)."""
    if count == 0:
        return jnp.zeros((0,), jnp.int32)
    u = jax.vmap(lambda i: draw_uniform(jax.random.fold_in(key, i), (), p.dtype))(jnp.arange(count))
    cdf = jnp.cumsum(p)
    return jnp.minimum(jnp.searchsorted(cdf, u, side="right"), p.shape[0] - 1).astype(jnp.int32)


def _keys(key):
    return {name: jax.random.fold_in(key, i) for i, name in enumerate(("E", "U", "X", "W"))}


def _errors(wrong: jax.Array, p: jax.Array) -> dict:
    """Exact error, head and tail error fractions from a boolean ``(..., N)`` mask."""
    h = min(HEAD_TAIL, wrong.shape[-1])
    w = wrong.astype(p.dtype)
    return {"error": jnp.sum(w * p, axis=-1), "error_head": jnp.mean(w[..., :h], axis=-1),
            "error_tail": jnp.mean(w[..., -h:], axis=-1)}


# ----------------------------------------------------------------------------- closed forms


def _ranks(counts: jax.Array) -> jax.Array:
    """Rank of each token by count, most frequent first, ties by smaller index (0 = top)."""
    n = counts.shape[0]
    order = jnp.argsort(-counts, stable=True)
    return jnp.zeros((n,), jnp.int32).at[order].set(jnp.arange(n, dtype=jnp.int32))


def memory_weights(scheme: str, p, counts, T, d, ratio, rho, rank=None) -> jax.Array:
    """``q(x)`` of a closed-form scheme (``(N,)``; 0 = not stored).

    ``counts``: token counts of the first ``T`` samples, or ``None`` for ``T = inf``;
    ``d``: memory size (``math.inf``: no cap on the number stored); ``rank``: optional
    precomputed :func:`_ranks` of ``counts`` (thresholding).
    """
    n = p.shape[0]
    if scheme == "true":
        return p
    if counts is None:  # the true distribution
        if scheme == "frequency":
            return p ** rho
        k = jnp.inf if math.isinf(d) else jnp.floor(ratio * d + 1e-6)
        return (jnp.arange(n) < k).astype(p.dtype)
    seen = counts > 0
    if scheme == "frequency":
        return jnp.where(seen, (counts / T) ** rho, 0.0).astype(p.dtype)
    if math.isinf(d):
        return seen.astype(p.dtype)
    rank = _ranks(counts) if rank is None else rank
    k = jnp.floor(ratio * d + 1e-6)
    return (seen & (rank < k)).astype(p.dtype)


def _threshold_memories(Et, Y, p, cnt, rank, ds, ratio):
    """``R[:, i, t] = E^T diag(q) Y`` of the thresholding memory of width ``ds[i]`` at ``Ts[t]``
    (``(d_max, len(ds), len(Ts), M)``), and the number stored (``(len(ds), len(Ts))``).

    The stored sets grow with ``d`` (the first ``k_d = floor(ratio d)`` tokens in rank order), so
    only the ``K = k_(d_max)`` top-ranked tokens' embeddings enter: one ``d_max x K`` product per
    ``T`` with the increments between consecutive widths, cumulated over widths. ``ratio`` is
    static (it fixes ``K``).
    """
    n, M = Y.shape
    ks = [min(n, int(math.floor(ratio * d + 1e-6))) for d in ds]
    K = max(1, max(ks))
    lo = np.array([0] + ks[:-1])[None, :]
    ind = (np.arange(K)[:, None] >= lo) & (np.arange(K)[:, None] < np.array(ks)[None, :])  # (K, nd): increments
    Rs, stored = [], []
    for ct, rk in zip(cnt, rank):
        if ct is None:  # T = inf: the top tokens by p are 0, 1, 2, ...
            top, ok = jnp.arange(K), jnp.ones((K,), p.dtype)
        else:
            top = jnp.argsort(rk)[:K]
            ok = (ct[top] > 0).astype(p.dtype)
        Qg = (jnp.asarray(ind, p.dtype) * ok[:, None])[:, :, None] * Y[top][:, None, :]  # (K, nd, M)
        Rs.append(jnp.cumsum((Et[:, top] @ Qg.reshape(K, -1)).reshape(-1, len(ds), M), axis=1))
        stored.append(jnp.cumsum(ok @ jnp.asarray(ind, p.dtype)))
    return jnp.stack(Rs, axis=2), jnp.stack(stored, axis=1)


def closed_form(static, nested, dyn, key) -> dict:
    """Exact errors of a closed-form memory at every ``(width, samples)`` of the cell.

    One draw of ``E`` (``N x d_max``), ``U`` and the samples per seed. With ``Q`` the weights of
    every ``T`` side by side (``N x (len(T) M)``, columns ``q_T y``), ``R = E^T Q`` is ONE matrix
    product for all ``T``; the memory of size ``d`` uses its first ``d`` rows, and the scores
    ``S_d = E_d R_d (Û_d Û_d^T)`` (``Û_d``: rows of ``U_d`` normalised) accumulate over blocks of
    columns, ``S_d = S_d' + E[:, d':d] R[d':d]``, so every width costs one pass over ``E``.
    Thresholding stores a set that grows with ``d``: its ``Q`` holds the increments between
    consecutive widths (cumulated after the product), and each width has its own second
    product. Returns metrics of shape ``(len(width), len(samples))``.
    """
    n, M, scheme = int(static["vocab"]), int(static["classes"]), static["scheme"]
    ds, Ts = nested["width"], nested["samples"]
    nT = len(Ts)
    dtype = jnp.result_type(float)
    ks = _keys(key)
    p = zipf_probs(n, dyn["zipf"], dtype)
    ratio, rho = float(static["threshold_ratio"]), dyn["rho"]
    labels = jnp.arange(n) % M
    Tf = [int(T) for T in Ts if math.isfinite(T)]
    xs = sample_tokens(ks["X"], p, max(Tf, default=0))
    counts, c, prev = {}, jnp.zeros((n,), dtype), 0
    for T in Tf:  # prefixes: counts of the first T samples, accumulated segment by segment
        c = c.at[xs[prev:T]].add(1.0)
        counts[T], prev = c, T
    cnt = [counts[int(T)] if math.isfinite(T) else None for T in Ts]
    rank = [_ranks(ct) if (scheme == "threshold" and ct is not None) else None for ct in cnt]

    def q_of(d):  # (nT, N)
        return jnp.stack([memory_weights(scheme, p, ct, T, d, ratio, rho, rk) for ct, T, rk in zip(cnt, Ts, rank)])

    out = {}
    if any(math.isinf(d) for d in ds):
        wrong = q_of(math.inf) <= 0
        out[math.inf] = dict(_errors(wrong, p[None, :]), stored=jnp.sum(~wrong, axis=-1).astype(dtype))
    dfin = [int(d) for d in ds if math.isfinite(d)]
    if dfin:
        dmax = max(dfin)
        Et = indexed_normal(ks["E"], dmax, (n,), dtype)  # E^T: row j is column j of E (no transpose)
        U = indexed_normal(ks["U"], dmax, (M,), dtype).T
        Y = jax.nn.one_hot(labels, M, dtype=dtype)
        per_d = scheme == "threshold"
        if per_d:
            R, qs = _threshold_memories(Et, Y, p, cnt, rank, dfin, ratio)
        else:
            qs = q_of(dfin[0])[None]  # (1, nT, N): q does not depend on d
            Q = (jnp.moveaxis(qs, 2, 0)[:, :, :, None] * Y[:, None, None, :]).reshape(n, -1)
            R = (Et @ Q).reshape(dmax, 1, nT, M)
        S, lo = jnp.zeros((n, nT * M), dtype), 0
        for i, d in enumerate(dfin):
            Rd = R[:, i] if per_d else R[:, 0]
            if per_d:
                S = Et[:d].T @ Rd[:d].reshape(d, nT * M)
            else:
                S = S + Et[lo:d].T @ Rd[lo:d].reshape(d - lo, nT * M)
                lo = d
            Ud = U[:, :d] / jnp.linalg.norm(U[:, :d], axis=1, keepdims=True)
            scores = S.reshape(n, nT, M) @ (Ud @ Ud.T)
            stored = qs[i] if per_d else jnp.sum(qs[0] > 0, axis=-1).astype(dtype)
            # an empty memory scores every class 0: a tie, counted as an error (as at d = inf)
            wrong = (jnp.argmax(scores, axis=-1).T != labels[None, :]) | (stored[:, None] == 0)  # (nT, N)
            out[d] = dict(_errors(wrong, p[None, :]), stored=stored)
    rows = [out[int(d) if math.isfinite(d) else d] for d in ds]
    return {k: jnp.stack([r[k] for r in rows]) for k in rows[0]}


# ----------------------------------------------------------------------------- trained memories


def init_memory(keys, n: int, M: int, d: int, dtype) -> tuple[dict, dict]:
    """Reference initialisation: ``E (N x d)``, ``UT (d x M)``, ``W (d x d)``, all ``N(0, 1/d)``;
    ``E``/``U`` share their columns with the closed forms, row ``j`` of ``W`` from ``fold_in``."""
    s = 1.0 / math.sqrt(d)
    E = indexed_normal(keys["E"], d, (n,), dtype).T * s
    UT = indexed_normal(keys["U"], d, (M,), dtype) * s
    W = indexed_normal(keys["W"], d, (d,), dtype) * s
    return {"E": E, "UT": UT, "W": W}


def logits(params: dict, x: jax.Array, variant: str, layernorm: bool) -> jax.Array:
    """Memory logits ``(B, M)`` for token ids ``x``.

    Without layer norm the product is taken as ``E[x] (W U^T)``: ``O(d^2 M + B d M)`` forward and
    backward instead of ``O(B d^2)`` (the gradient of ``W`` is ``(E[x]^T δ) U``, rank <= M), the
    same function.
    """
    h = params["E"][x]
    if variant == "exponential":
        o = jax.nn.relu(h)
    elif layernorm:
        o = h @ params["W"]
    else:
        return h @ (params["W"] @ params["UT"])
    if layernorm:
        o = o / jnp.sqrt(jnp.sum(o * o, axis=-1, keepdims=True) + LN_EPS)
    return o @ params["UT"]


def learned_names(variant: str) -> tuple[str, ...]:
    """Parameters a variant learns."""
    return {"matrix": ("W",), "learnable": ("E", "UT", "W"), "exponential": ("E", "UT")}[variant]


def learning_rates(variant: str, optimizer: str, lr, d: int) -> dict:
    """Per-parameter learning rates, the reference's scaling: SGD ``lr``; Adam ``lr / d`` on ``W``
    (matrix, learnable) and ``lr / sqrt(d)`` on ``E``, ``U`` (learnable, exponential)."""
    if optimizer == "sgd":
        return {k: lr for k in learned_names(variant)}
    return {k: lr / d if k == "W" else lr / math.sqrt(d) for k in learned_names(variant)}


def adam_zero_betas(eps: float = ADAM_EPS) -> optax.GradientTransformation:
    """Adam with betas (0, 0) as a stateless optax transformation: ``u = g / (|g| + eps)``.

    With ``b1 = b2 = 0`` Adam's moments are ``m = g``, ``v = g^2`` and both bias corrections are
    1, so the update is ``g / (sqrt(g^2) + eps)`` -- a sign-like step (Cabannes et al. 2024). The
    same numbers as ``optax.scale_by_adam(b1=0, b2=0, eps=eps)`` (tested), without the two
    moment buffers (they double the memory traffic of a ``d x d`` update).
    """

    def init_fn(params):
        del params
        return optax.EmptyState()

    def update_fn(updates, state, params=None):
        del params
        return jax.tree.map(lambda g: g / (jnp.abs(g) + eps), updates), state

    return optax.GradientTransformation(init_fn, update_fn)


def _optimizer(name: str) -> optax.GradientTransformation:
    return adam_zero_betas() if name == "adam" else optax.identity()


def _step_fns(static, d: int, dyn, fixed: dict, M: int):
    """``(init(train), step(carry, x) -> (carry, loss), params(carry))`` of one memory.

    Generic path: autodiff of the loss in the learned parameters, the optimizer's direction
    times the per-parameter learning rate. Fast path (``matrix`` without layer norm): the logits
    depend on ``W`` only through ``V = W U^T`` (``d x M``), so the loss is differentiated in
    ``V`` (``O(B d M)``) and ``dL/dW = (dL/dV) U`` (rank <= M); SGD then updates ``V`` alone,
    ``V <- V - lr (dL/dV) (U U^T)`` (no ``d x d`` work at all), Adam(0, 0) updates ``W`` with the
    sign-like step of that rank-M gradient and recomputes ``V``. The same numbers as the generic
    path (tested against a numpy loop on ``W``).
    """
    variant, ln, opt = static["variant"], bool(static["layernorm"]), static["optimizer"]
    lrs = learning_rates(variant, opt, dyn["lr"], d)
    tx = _optimizer(opt)
    UT = fixed.get("UT")

    def ce(lg, x):
        return jnp.mean(optax.softmax_cross_entropy_with_integer_labels(lg, x % M))

    if variant == "matrix" and not ln:
        E = fixed["E"]

        def init(train):
            return {"W": train["W"], "V": train["W"] @ UT}

        def step(carry, x):
            h = E[x]
            loss, gV = jax.value_and_grad(lambda V: ce(h @ V, x))(carry["V"])
            if opt == "sgd":
                return {"W": carry["W"], "V": carry["V"] - lrs["W"] * (gV @ (UT.T @ UT))}, loss
            upd, _ = tx.update({"W": gV @ UT.T}, optax.EmptyState())
            W = carry["W"] - lrs["W"] * upd["W"]
            return {"W": W, "V": W @ UT}, loss

        def params(carry):
            return {**fixed, "W": carry["W"], "V": carry["V"]}

        return init, step, params

    def init(train):
        return {"train": train, "opt": tx.init(train)}

    def step(carry, x):
        loss, g = jax.value_and_grad(lambda tr: ce(logits({**fixed, **tr}, x, variant, ln), x))(carry["train"])
        upd, st = tx.update(g, carry["opt"], carry["train"])
        return {"train": {k: v - lrs[k] * upd[k] for k, v in carry["train"].items()}, "opt": st}, loss

    def params(carry):
        return {**fixed, **carry["train"]}

    return init, step, params


def train_memory(static, d: int, dyn, keys, xs: jax.Array, record: tuple[int, ...], p) -> dict:
    """One pass of a trained memory over ``xs``; metrics after each recorded sample count.

    ``record``: sorted, distinct sample counts ``T`` (multiples of the batch size ``B``). One
    ``lax.scan`` over the ``max(record) / B`` steps: after step ``t`` (``t + 1`` batches seen) the
    errors of the vocabulary's argmax are computed under a ``lax.cond`` on the (unbatched) step
    counter -- only when ``(t + 1) B`` is recorded -- and written into a ``(len(record), ...)``
    buffer carried through the scan, so the compiled program is one scan body whatever the
    number of recorded ``T`` (a scan per segment compiled the step once per recorded ``T``).
    ``train_loss`` is the mean batch loss over the last ``FINAL_FRACTION`` of the first ``T / B``
    steps (:func:`toyscale.models.numerics.end_window_stats`).
    Returns ``{metric: (len(record),)}`` and ``diverged`` (bool per record: a non-finite batch
    loss so far, or non-finite logits of the vocabulary at that point).
    """
    n, M, B = int(static["vocab"]), int(static["classes"]), int(static["batch_size"])
    variant, ln = static["variant"], bool(static["layernorm"])
    allp = init_memory(keys, n, M, d, p.dtype)
    names = learned_names(variant)
    fixed = {k: v for k, v in allp.items() if k not in names}
    init, step_fn, params_of = _step_fns(static, d, dyn, fixed, M)
    steps = tuple(int(T) // B for T in record)
    S = steps[-1]
    after = record_mask(steps, S)[1:]  # step t leaves the parameters "after t + 1 steps"
    rec_after = jnp.asarray(after)
    slot = jnp.asarray(np.maximum(np.cumsum(after) - 1, 0).astype(np.int32))  # buffer row of step t
    labels = jnp.arange(n) % M

    def metrics(carry):
        prm = params_of(carry)
        lg = prm["E"] @ prm["V"] if "V" in prm else logits(prm, jnp.arange(n), variant, ln)
        out = _errors(jnp.argmax(lg, axis=-1) != labels, p)
        out["finite"] = jnp.all(jnp.isfinite(lg))
        return out

    carry0 = init({k: allp[k] for k in names})
    buf0 = jax.tree.map(lambda a: jnp.zeros((len(steps),) + a.shape, a.dtype), jax.eval_shape(metrics, carry0))

    def write(args):
        buf, carry, i = args
        return jax.tree.map(lambda b, v: b.at[i].set(v), buf, metrics(carry))

    def step(c, t):
        carry, buf = c
        carry, loss = step_fn(carry, jax.lax.dynamic_slice(xs, (t * B,), (B,)))
        buf = jax.lax.cond(rec_after[t], write, lambda a: a[0], (buf, carry, slot[t]))
        return (carry, buf), loss

    (_, buf), losses = jax.lax.scan(step, (carry0, buf0), jnp.arange(S))
    st = end_window_stats(losses, steps, FINAL_FRACTION)
    out = {k: buf[k] for k in ("error", "error_head", "error_tail")}
    out["train_loss"] = st["last"]
    out["diverged"] = st["bad"] | ~buf["finite"]
    return out


def learned(static, nested, dyn, key) -> dict:
    """Trained memories of one cell: one run per width, errors at every ``T`` (prefixes)."""
    n = int(static["vocab"])
    dtype = jnp.result_type(float)
    ks = _keys(key)
    p = zipf_probs(n, dyn["zipf"], dtype)
    record = tuple(int(T) for T in nested["samples"])
    xs = sample_tokens(ks["X"], p, max(record))
    rows = [train_memory(static, int(d), dyn, ks, xs, record, p) for d in nested["width"]]
    out = {k: jnp.stack([r[k] for r in rows]) for k in rows[0] if k != "diverged"}
    div = jnp.stack([r["diverged"] for r in rows])
    out["status"] = jnp.where(div, MODEL.status_code("diverged"), 0).astype(jnp.int32)
    return out


def evaluate(static, nested, dyn, key) -> dict:
    """One cell: every ``(width, samples)`` of the group at once.

    Args:
      static: ``vocab``, ``classes``, ``scheme``, ``threshold_ratio``, ``variant``, ``optimizer``, ``batch_size``,
        ``layernorm``, ``width_inf`` (this group is the ``width = inf`` limit).
      nested: ``width`` and ``samples``, sorted tuples (``inf`` last).
      dyn: traced ``zipf``, ``rho``, ``lr``.
      key: PRNG key of the seed.

    Returns:
      ``error``, ``error_head``, ``error_tail`` and ``stored`` (closed forms) or ``train_loss``
      and ``status`` (trained), each ``(len(width), len(samples))``.
    """
    if static["scheme"] == "learned":
        return learned(static, nested, dyn, key)
    return closed_form(static, nested, dyn, key)


# ----------------------------------------------------------------------------- engine hooks


def group_extra(row) -> dict:
    """The ``width = inf`` limit needs no embeddings: its own program."""
    return {"width_inf": math.isinf(row["width"])}


def cell_bytes(static, nested) -> int:
    n, M = int(static["vocab"]), int(static["classes"])
    ds = [int(d) for d in nested["width"] if math.isfinite(d)]
    Ts = [int(T) for T in nested["samples"] if math.isfinite(T)]
    Tmax, nT = max(Ts, default=0), len(nested["samples"])
    if static["scheme"] == "learned":
        d = max(ds, default=1)
        return 8 * (8 * d * d + 4 * n * d + 2 * Tmax + 4 * static["batch_size"] * d) + (1 << 20)
    d = max(ds, default=0)
    return 8 * (2 * n * d + 4 * nT * n * M + nT * n * (len(ds) + 4) + 3 * Tmax) + (1 << 20)


def check_config(values) -> None:
    learned_ = "learned" in values["scheme"]
    for d in values["width"]:
        if learned_ and math.isinf(d):
            raise UserError("sweep.width", "inf is only for the closed-form schemes; allowed: finite widths "
                                           "with scheme = 'learned'")
    for T in values["samples"]:
        if learned_ and math.isinf(T):
            raise UserError("sweep.samples", "inf is only for the closed-form schemes; allowed: finite sample "
                                             "counts with scheme = 'learned'")
        for B in values["batch_size"]:
            if learned_ and math.isfinite(T) and int(T) % int(B):
                raise UserError("sweep.samples", f"{T} is not a multiple of batch_size = {B}; allowed: "
                                                 "multiples of batch_size (one pass in whole batches)")
    dmax = max((d for d in values["width"] if math.isfinite(d)), default=0)
    for n in values["vocab"]:
        if n * dmax > MAX_TABLE:
            raise UserError("params.vocab", f"vocab {n} x width {dmax} embeddings exceed {MAX_TABLE:g} entries; "
                                            "allowed: a smaller vocab with finite widths (width = inf needs none)")


def precision(values):
    """float32 when every row trains a memory (the reference trains in float32, PyTorch's
    default); float64 as soon as a closed-form scheme is swept (error = mass of the tokens whose
    argmax is wrong: near-ties of the scores flip with rounding)."""
    return "float32" if set(values["scheme"]) == {"learned"} else "float64"


def audit_rule(values):
    """``trajectory`` when a memory is trained with Adam (betas (0, 0): sign-like steps amplify
    rounding into another trajectory); ``roundoff`` for closed forms and plain SGD."""
    return "trajectory" if "learned" in values["scheme"] and "adam" in values["optimizer"] else "roundoff"


EXAMPLE = {"seeds": 2, "params": {"vocab": 40, "classes": 3, "batch_size": 8},
           "sweep": {"scheme": ["frequency", "learned"], "width": [4, 8], "samples": [16, 32]}}

MODEL = register(
    Model(
        name="associative_memory",
        summary="associative memories W = sum_x q(x) e_x u_y^T: closed-form schemes and trained memories, exact error",
        params=PARAMS,
        metrics=METRICS,
        evaluate=evaluate,
        theory=theory.THEORY,
        group_extra=group_extra,
        cell_bytes=cell_bytes,
        check_config=check_config,
        precision=precision,
        audit_rule=audit_rule,
        example=EXAMPLE,
        limits=("vocab * width <= 1e8 embedding entries over the finite widths (width = inf needs none)",
                "scheme = 'learned': finite width and samples, samples a multiple of batch_size"),
        references=("Cabannes, Dohmatob & Bietti 2024, Scaling Laws for Associative Memories (ICLR 2024)",),
    )
)
