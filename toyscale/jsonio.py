"""The one JSON convention of toyscale for non-finite numbers.

Experiment files and ``experiment.json`` write an infinite parameter value as the string
``"inf"`` (TOML and JSON have no infinity): :func:`encode` / :func:`decode`. Result files
(``summary.json``, ``phases.json``, ``frontiers.json``) write measured numbers: a NaN or
infinite measurement becomes ``null`` and numpy scalars and arrays become Python numbers and
lists: :func:`clean`, :func:`dumps`.
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np


def encode(v: Any) -> Any:
    """A parameter value as stored: ``inf`` -> ``"inf"`` (any other value unchanged)."""
    return "inf" if isinstance(v, float) and math.isinf(v) else v


def decode(v: Any) -> Any:
    """A stored parameter value: ``"inf"`` -> ``math.inf`` (any other value unchanged)."""
    return math.inf if v == "inf" else v


def clean(x: Any) -> Any:
    """JSON-safe copy of a result: NaN/inf floats become ``None``, numpy scalars become Python
    numbers, arrays and tuples become lists."""
    if isinstance(x, dict):
        return {k: clean(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [clean(v) for v in x]
    if isinstance(x, np.ndarray):
        return clean(x.tolist())
    if isinstance(x, (np.floating, float)):
        return float(x) if math.isfinite(x) else None
    if isinstance(x, (np.integer, np.bool_)):
        return x.item()
    return x


def dumps(x: Any) -> str:
    """``json.dumps(clean(x), indent=2)``: the text of a result file."""
    return json.dumps(clean(x), indent=2, default=float)
