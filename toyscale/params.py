"""Declared model parameters: type, default, allowed range, role in the sweep.

Every model lists its parameters as :class:`Param` objects. The experiment loader uses them
to validate values (naming the field and the allowed values on error), and the sweep engine
uses ``role`` to decide how a swept value is executed:

* ``"static"`` -- fixes array shapes or the compiled program (``latent_dim``, ``teacher``).
  Each distinct value is its own *group*: one compilation per group.
* ``"dynamic"`` -- a number the compiled program takes as a traced argument (``alpha``,
  ``ridge``, ``weight_decay``, ``seed``). Swept values are batched with ``jax.vmap``.
* ``"nested"`` -- a size axis that one evaluation covers for all its values at once
  (``width`` and ``samples`` for ridge regression: the first N features and first P samples
  of one draw; ``steps`` for a training curve). Work is shared across the values.
* ``"shape"`` -- a size axis that sets an array shape but cannot be shared (the width of a
  trained network). Values are bucketed: the model sees the bucket size as static and the
  true value as a dynamic mask.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from toyscale.errors import UserError

ROLES = ("static", "dynamic", "nested", "shape")
#: Largest magnitude of an integer parameter: the sweep engine passes integers to compiled
#: programs as int32, and no toy model here has a meaningful size beyond it.
MAX_INT = 2**31 - 1


@dataclass(frozen=True)
class Param:
    """One declared model parameter.

    Attributes:
      name: parameter name, as written in experiment files (``params.NAME``/``sweep.NAME``).
      type: ``float``, ``int`` or ``str``.
      default: value used when the experiment does not set it.
      doc: one-line description, printed by ``toyscale list MODEL``.
      low, high: inclusive bounds for numbers (``None`` = unbounded).
      low_open: when true the lower bound is exclusive (``> low``).
      choices: allowed values for strings.
      allow_inf: numbers may be ``inf`` (e.g. ``samples = inf`` is the population limit).
      role: how the sweep engine executes swept values; see the module docstring.
      default_from: name of another parameter whose fixed value this one takes when the
        experiment sets neither ``params.NAME`` nor ``sweep.NAME`` (the recorded ``steps`` of a
        trained model default to its ``horizon``: one row at the end of training).
      unit: unit of the value, written into the store's column metadata (default: read off the
        type, see :func:`toyscale.store.param_unit`).
    """

    name: str
    type: type
    default: Any
    doc: str
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    choices: tuple[str, ...] | None = None
    allow_inf: bool = False
    role: str = "dynamic"
    default_from: str | None = None
    unit: str = ""

    def __post_init__(self):
        if self.role not in ROLES:
            raise ValueError(f"Param {self.name}: role must be one of {ROLES}")
        if self.type is str and self.role != "static":
            raise ValueError(f"Param {self.name}: a string parameter must be static (it selects code)")
        if self.default_from == self.name:
            raise ValueError(f"Param {self.name}: default_from names the parameter itself")

    def allowed(self) -> str:
        """Human-readable description of the allowed values."""
        if self.type is str:
            return "one of " + ", ".join(repr(c) for c in (self.choices or ()))
        kind = "an integer" if self.type is int else "a number"
        low, high = self.low, self.high
        if self.type is int:  # the engine's int32 bound, unless the model declares a tighter one
            low = -MAX_INT if low is None else max(low, -MAX_INT)
            high = MAX_INT if high is None else min(high, MAX_INT)
        fmt = (lambda v: str(int(v))) if self.type is int else (lambda v: f"{v:g}")
        lo = "-inf" if low is None else fmt(low)
        hi = "inf" if high is None else fmt(high)
        left = "(" if (low is None or self.low_open) else "["
        if self.allow_inf and (self.type is int or high is not None):
            # inf is a value of its own (the population, an infinite memory), not the end of a range
            return f"{kind} in {left}{lo}, {hi}], or inf"
        right = "]" if (high is not None or self.allow_inf) else ")"
        return f"{kind} in {left}{lo}, {hi}{right}"

    def coerce(self, value: Any, field: str) -> Any:
        """Return ``value`` converted to this parameter's type, or raise :class:`UserError`."""
        if self.type is str:
            if not isinstance(value, str) or (self.choices and value not in self.choices):
                raise UserError(field, f"{value!r} is not allowed; allowed: {self.allowed()}")
            return value
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise UserError(field, f"expected {self.allowed()}, got {value!r}")
        x = float(value)
        if math.isnan(x):
            raise UserError(field, f"nan is not allowed; allowed: {self.allowed()}")
        if math.isinf(x):
            if not (self.allow_inf and x > 0):
                raise UserError(field, f"{value!r} is not allowed; allowed: {self.allowed()}")
            return math.inf
        if self.type is int:
            if x != round(x):
                raise UserError(field, f"expected an integer, got {value!r}; allowed: {self.allowed()}")
            x = int(round(x))
            if abs(x) > MAX_INT:
                raise UserError(field, f"{value!r} is out of range; allowed: {self.allowed()}")
        ok_low = self.low is None or (x > self.low if self.low_open else x >= self.low)
        ok_high = self.high is None or x <= self.high
        if not (ok_low and ok_high):
            raise UserError(field, f"{value!r} is out of range; allowed: {self.allowed()}")
        return x
