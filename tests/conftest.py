"""Test configuration: float64 numerics (closed forms are compared to ~1e-9)."""

import os

os.environ.setdefault("TOYSCALE_NO_PROGRESS", "1")

import jax  # noqa: E402

import toyscale  # noqa: E402,F401  (applies the XLA CPU workaround before the backend starts)

jax.config.update("jax_enable_x64", True)
