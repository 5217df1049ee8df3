"""Superposition: toyscale's vmapped grid vs the reference protocol written in PyTorch, one model
at a time (the way the reference trains its grid).

The PyTorch side is written here from the paper's protocol (Liu, Liu & Gore 2025; the model of
Elhage et al. 2022), not taken from any code: ``n`` features, feature ``i`` active with
probability ``p_i ~ i^-(1+a)`` and then ``Uniform(0, 2)``; ``y = ReLU(x W W^T + b)``,
``W ~ N(0, 1/m)``, ``b ~ N(0, 1)``; mean squared error over batch and features; Adam (0.9, 0.999,
1e-8) with signed weight decay on ``W`` (``wd < 0``: ``W <- W + lr wd W (1 - 1/||W_i||)`` row
wise; ``wd >= 0``: decoupled decay) and a linear warm-up then cosine decay to 5 % of ``lr``;
fresh samples every step; float32 at PyTorch's default (full float32) matmul precision.

Throughput = models x steps / second, compilation excluded on the toyscale side (printed apart).
The two sides draw different random numbers, so the check compares the median final loss of the
grid, not model by model. torch is an optional benchmark dependency (never a core one): without
it the benchmark reports itself skipped. Usage::

    python benchmarks/bench_superposition_torch.py
    python benchmarks/bench_superposition_torch.py --n 1000 --batch 2048 --steps 1000 --widths 10 32 100
"""

from __future__ import annotations

import argparse
import importlib.util
import itertools
import json
import math
import time

import numpy as np

SKIP = "torch is not installed (optional benchmark dependency: pip install torch); skipped"


def torch_available() -> bool:
    return importlib.util.find_spec("torch") is not None


def train_torch(n, m, alpha, wd, lr, batch, steps, warmup, seed, device="cpu"):
    """One model trained by the protocol above in PyTorch; returns the mean loss of the last 10 % of steps."""
    import torch

    g = torch.Generator(device=device).manual_seed(seed)
    i = torch.arange(1, n + 1, dtype=torch.float32, device=device)
    p = i ** -(1.0 + alpha)
    p = p / p.sum()
    W = (torch.randn(n, m, generator=g, device=device) / math.sqrt(m)).requires_grad_()
    b = torch.randn(n, generator=g, device=device).requires_grad_()
    opt = torch.optim.Adam([W, b], lr=lr, betas=(0.9, 0.999), eps=1e-8)
    decay = max(1, steps - warmup)

    def lr_at(t):
        if t < warmup:
            return lr * min(1.0, (t + 1) / max(1, warmup))
        prog = min(1.0, max(0.0, (t - warmup) / decay))
        return lr * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * prog)))

    k = max(1, math.ceil(0.1 * steps))
    tail = []
    for t in range(steps):
        u = torch.rand(batch, n, generator=g, device=device)
        x = torch.where(u < p, 2.0 * u / p, torch.zeros((), device=device))
        y = torch.relu((x @ W) @ W.T + b)
        loss = ((y - x) ** 2).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        step_lr = lr_at(t)
        for group in opt.param_groups:
            group["lr"] = step_lr
        with torch.no_grad():
            if wd >= 0:
                d = wd * W
            else:
                norm = W.norm(dim=1, keepdim=True).clamp_min(1e-19)
                d = -wd * W * (1.0 - 1.0 / norm)
        opt.step()
        with torch.no_grad():
            W -= step_lr * d
        if t >= steps - k:
            tail.append(loss.detach())
    return float(torch.stack(tail).mean())


def run(args) -> dict:
    import jax
    import jax.numpy as jnp

    import toyscale  # noqa: F401
    from toyscale.models import superposition as sp

    grid = list(itertools.product(args.widths, args.wds, args.alphas))
    warmup = max(1, args.steps // 10)
    t_comp = t_ts = 0.0
    ts_loss = []
    for m in args.widths:
        rows = [(w, a) for mm, w, a in grid if mm == m]
        static = dict(n_features=args.n, width=m, batch_size=args.batch, horizon=args.steps, warmup=warmup,
                      value_dist="uniform02")
        dyn = {"width": jnp.full(len(rows), m, jnp.float32), "weight_decay": jnp.asarray([w for w, _ in rows], jnp.float32),
               "alpha": jnp.asarray([a for _, a in rows], jnp.float32), "lr": jnp.full(len(rows), args.lr, jnp.float32),
               "importance": jnp.ones(len(rows), jnp.float32)}
        seeds = jnp.arange(len(rows), dtype=jnp.uint32)
        f = jax.jit(jax.vmap(lambda d, s, st=static: sp.evaluate(st, {"steps": (args.steps,)}, d, jax.random.key(s))["loss"][0]))
        t0 = time.perf_counter()
        c = f.lower(dyn, seeds).compile()
        t_comp += time.perf_counter() - t0
        t0 = time.perf_counter()
        out = jax.block_until_ready(c(dyn, seeds))
        t_ts += time.perf_counter() - t0
        ts_loss += list(np.asarray(out))
    device = "cuda" if args.torch_device == "auto" and _cuda() else ("cpu" if args.torch_device == "auto" else args.torch_device)
    t0 = time.perf_counter()
    th_loss = [train_torch(args.n, m, a, w, args.lr, args.batch, args.steps, warmup, s, device)
               for s, (m, w, a) in enumerate(grid)]
    t_th = time.perf_counter() - t0
    model_steps = len(grid) * args.steps
    r = {"models": len(grid), "steps": args.steps, "toyscale_s": round(t_ts, 3), "compile_s": round(t_comp, 2),
         "torch_s": round(t_th, 3), "torch_device": device, "ratio": round(t_th / t_ts, 2),
         "toyscale_model_steps_per_s": round(model_steps / t_ts, 1), "torch_model_steps_per_s": round(model_steps / t_th, 1),
         "median_final_loss_toyscale": float(np.median(ts_loss)), "median_final_loss_torch": float(np.median(th_loss))}
    print(json.dumps(r))
    return r


def _cuda() -> bool:
    import torch

    return bool(torch.cuda.is_available())


def _namespace(quick: bool):
    return argparse.Namespace(n=200 if quick else 1000, widths=[10, 32] if quick else [10, 32, 100], wds=[-1.0, 1.0],
                              alphas=[0.2, 0.5], lr=1e-2, batch=256, steps=100 if quick else 1000, torch_device="auto")


def benchmark(quick: bool = False) -> dict:
    """``benchmarks/run_all.py`` interface (skipped, with the reason, where torch is absent)."""
    if not torch_available():
        return {"skipped": SKIP}
    ns = _namespace(quick)
    r = run(ns)
    rel = abs(r["median_final_loss_toyscale"] - r["median_final_loss_torch"]) / r["median_final_loss_torch"]
    return {"model": "superposition (vs PyTorch)",
            "what": f"{r['models']} models (widths {ns.widths}, weight decays {ns.wds}, alphas {ns.alphas}), n {ns.n}, "
                    f"batch {ns.batch}, {ns.steps} steps, float32; loop: the reference protocol written in PyTorch, "
                    f"one model at a time on {r['torch_device']}",
            "toyscale_s": r["toyscale_s"], "loop_s": r["torch_s"], "compile_s": r["compile_s"], "flops": None,
            "precision": "float32", "growth": None,
            "check": f"median final loss toyscale {r['median_final_loss_toyscale']:.4g}, PyTorch "
                     f"{r['median_final_loss_torch']:.4g} (rel. diff {rel:.1%}; different random draws)"}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ns = _namespace(False)
    ap.add_argument("--n", type=int, default=ns.n)
    ap.add_argument("--widths", type=int, nargs="+", default=ns.widths)
    ap.add_argument("--wds", type=float, nargs="+", default=ns.wds)
    ap.add_argument("--alphas", type=float, nargs="+", default=ns.alphas)
    ap.add_argument("--lr", type=float, default=ns.lr)
    ap.add_argument("--batch", type=int, default=ns.batch)
    ap.add_argument("--steps", type=int, default=ns.steps)
    ap.add_argument("--torch-device", default="auto", help="auto (cuda if available), cpu or cuda")
    args = ap.parse_args(argv)
    if not torch_available():
        print(SKIP)
        return 0
    run(args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
