"""The model protocol: what a model declares so the sweep engine, the store and the report can run
it without knowing anything else about it.

A model is a set of pure functions written for ONE configuration (equinox/purejaxrl style;
batching is the engine's ``vmap``):

* ``evaluate(static, nested, dyn, key) -> {metric: array, "status": int array}`` computes one
  *cell*: every value of the nested axes (``width``/``samples`` of one draw, the recorded
  training ``steps`` of one run) at once. Each metric's leading dimensions are the nested axes
  in declaration order; trailing dimensions (a vector metric) are allowed and found with
  ``jax.eval_shape``, never declared. ``status`` (optional) is an ``int32`` array of the nested
  shape: an index into :attr:`Model.status_names` (0 = ``ok``), so a model says *as data* that a
  run diverged or stopped unconverged.
* ``theory``: a :class:`toyscale.theory.base.Theory` -- slopes per axis and regime
  (``Prediction``), finite-size curves the report scores, compute-optimal frontiers
  (``Frontier``) and lines to draw on maps (``Overlay``).

Registration: a module ``toyscale/models/NAME.py`` that calls :func:`toyscale.models.register`
at import is found by the registry (every public module of the package is imported on the first
lookup), so a new model is a files-only change.

Time has one convention: recorded training steps are the nested axis ``steps`` (one run covers
all its values); the schedule length is a separate parameter (``horizon``). The report draws
training curves for any model from that axis.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from toyscale.params import Param
from toyscale.theory.base import DEFAULT_METRIC, Theory

#: Default ``|fitted - theory|`` within which a check or frontier "agrees" (``tolerance``).
DEFAULT_TOLERANCE = 0.1

#: The time axis: recorded training steps, a ``nested`` parameter of models that train.
TIME_AXIS = "steps"

#: Precisions a model may declare and an experiment may ask for.
PRECISIONS = ("float32", "float64")
#: Comparison rules of the precision audit (:attr:`Model.audit_rule`).
AUDIT_RULES = ("roundoff", "trajectory")


@dataclass(frozen=True)
class Metric:
    """A quantity a model reports per configuration.

    Attributes:
      name: column name in the result table.
      doc: one-line description.
      optional: ``True`` when the metric does not apply to every configuration (a memory scheme
        without that quantity, a diagnostic undefined at that size). A missing or non-finite
        optional value is stored as null ("not applicable") and never changes the row's status;
        a non-finite required metric makes the row ``nonfinite``.
      unit: unit of the value, written into the store's column metadata (default ``""``:
        dimensionless, as losses and error rates are).
    """

    name: str
    doc: str
    optional: bool = False
    unit: str = ""


@dataclass(frozen=True)
class Status:
    """A row status a model may return (besides the built-in ``ok`` / ``nonfinite``).

    Attributes:
      name: stored in the ``status`` column.
      doc: one-line meaning.
      usable: ``True`` when the metrics are still valid measurements of the run as trained (an
        unconverged run, or one stopped at its iteration cap, measured at its budget): the report
        fits such rows by default and counts them per check. ``False`` for failures (diverged):
        never fitted.
    """

    name: str
    doc: str
    usable: bool = False


#: Statuses every model has: index 0 and 1 of :attr:`Model.status_names`.
OK = Status("ok", "finished; every required metric finite", usable=True)
NONFINITE = Status("nonfinite", "a required metric is NaN or infinite (set by the engine)", usable=False)
DIVERGED = Status("diverged", "the model reports its run diverged", usable=False)
BUILTIN_STATUSES = (OK, NONFINITE, DIVERGED)


@dataclass(frozen=True, eq=False)
class Model:
    """A solvable model, written for ONE configuration; batching is the engine's ``vmap``.

    Attributes:
      name: registry name used in experiment files.
      summary: one-line description.
      params: declared parameters (see :class:`toyscale.params.Param`).
      metrics: reported metrics (shapes come from ``jax.eval_shape`` of ``evaluate``).
      evaluate: ``evaluate(static, nested, dyn, key) -> {metric: array, "status": array}`` for
        one *cell*: ``static`` maps static/shape-bucket parameter names to Python values,
        ``nested`` maps each nested axis to the sorted tuple of its values in this group, ``dyn``
        maps dynamic parameter names (and the true values of shape parameters) to traced
        scalars, ``key`` is the PRNG key of the seed. A metric's leading dimensions are
        ``(len(nested[a0]), len(nested[a1]), ...)``. Must be jittable and vmappable over ``dyn``
        and ``key``, and a configuration's values must not depend on the other values in the
        group (draw column j of a matrix from ``fold_in(key, j)``, not from one draw whose shape
        is the group's largest size).
      theory: the model's :class:`~toyscale.theory.base.Theory`.
      statuses: extra statuses ``evaluate`` may return (indices 3, 4, ... of ``status_names``).
      group_extra: optional ``group_extra(row) -> {name: value}``: extra static keys derived
        from one configuration (``minnorm = ridge == 0`` selects another algorithm).
      bucket: optional ``bucket(name, value) -> value`` for ``shape`` parameters (default: next
        power of two).
      cell_bytes: optional estimate of the working memory of one cell, used to size chunks.
      check_config: optional cross-parameter validation ``check_config(values) -> None``;
        ``values`` maps each parameter to the list of values the sweep takes. Raise
        :class:`toyscale.errors.UserError` naming the field.
      compute: optional ``compute(row) -> float``: the training compute of one row (e.g.
        ``steps * width * batch``), the x axis of compute-optimal frontiers.
      precision: the precision the model's numerics need, the default of its experiments on
        every device (the platform never changes it): ``"float64"`` or ``"float32"``, or a
        callable ``precision(values) -> str`` of the experiment's values (``values`` maps each
        parameter to the list of values the sweep takes, as ``check_config``) where learners or
        schemes differ (e.g. float32 when every row trains a memory, float64 for closed forms).
        An experiment may ask for less (``precision = "float32"``); the run then says so and is
        audited (:mod:`toyscale.audit`, docs/precision.md).
      audit_rule: how the precision audit compares a float32 row with its float64 rerun (same
        form: a string or a callable of ``values``). ``"roundoff"``: both compute the same
        number up to rounding, so the difference is translated into what the checks and
        frontiers fit. ``"trajectory"``: training amplifies rounding into another trajectory
        (Adam, L-BFGS), so the difference is held against the seed-to-seed spread of the same
        configuration. See :func:`toyscale.audit.audit_run`.
      device_programs: ``evaluate`` implements two programs with the same rows (within float64
        round-off), one shaped for the CPU and one for accelerators; the engine then adds
        ``static["program"]`` (``"cpu"`` or ``"accelerator"``, from :func:`device_program`: the
        platform, or the ``TOYSCALE_PROGRAM`` environment variable) to every group, so the
        choice is the platform's, never a model name's, and the two programs compile apart.
      size_axis: the model-size axis a ``[[frontiers]]`` table uses when it names none.
      sequential_cells: evaluate a chunk's cells one after another (``lax.map`` of one cell on
        each device) instead of ``vmap``: every cell then runs the same compiled arithmetic
        whatever the chunk size or device count, so a row is bitwise a function of its
        configuration even where training is chaotic (L-BFGS, sign-like Adam steps amplify the
        last-bit differences of XLA's batch-shape-dependent reductions to O(1)). The cell's
        own control flow stays control flow (no batch axis: a ``lax.cond`` skips its other
        branch, so early stopping and diagnostics at recorded steps cost nothing elsewhere);
        several devices get their blocks through ``shard_map``. Costs the batching speed-up,
        which on a CPU is small for models whose one cell fills the cores. A callable
        ``sequential_cells(static) -> bool`` of a group's static values decides per group (e.g.
        sequential only where an optimiser that is not batch-invariant runs).
      limits: cross-parameter limits, one sentence each (``"vocab * width <= 1e8 (finite
        widths)"``), printed by ``toyscale list MODEL`` under the parameters; ``check_config``
        enforces them. Ranges of single parameters belong on their :class:`Param`.
      example: a tiny experiment (``{"params": ..., "sweep": ..., "seeds": ...}``) that runs in
        seconds; the conformance tests run it for every registered model.
      references: papers the model and its theory come from.
    """

    name: str
    summary: str
    params: tuple[Param, ...]
    metrics: tuple[Metric, ...]
    evaluate: Callable[..., Mapping[str, Any]]
    theory: Theory
    statuses: tuple[Status, ...] = ()
    group_extra: Callable[[Mapping[str, Any]], Mapping[str, Any]] | None = None
    bucket: Callable[[str, Any], Any] | None = None
    cell_bytes: Callable[[Mapping[str, Any], Mapping[str, tuple]], int] | None = None
    check_config: Callable[[Mapping[str, list]], None] | None = None
    compute: Callable[[Mapping[str, Any]], float] | None = None
    precision: str | Callable[[Mapping[str, list]], str] = "float32"
    audit_rule: str | Callable[[Mapping[str, list]], str] = "roundoff"
    device_programs: bool = False
    size_axis: str = "width"
    sequential_cells: bool | Callable[[Mapping[str, Any]], bool] = False
    example: Mapping[str, Any] = field(default_factory=dict)
    limits: tuple[str, ...] = ()
    references: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self):
        if not isinstance(self.theory, Theory):
            raise TypeError(f"model {self.name}: theory must be a toyscale.theory.base.Theory, "
                            f"got {type(self.theory).__name__}")
        names = [s.name for s in self.all_statuses]
        if len(set(names)) != len(names):
            raise ValueError(f"model {self.name}: duplicate status names {names}")

    def precision_for(self, values: Mapping[str, list]) -> str:
        """The precision the model declares for an experiment taking ``values`` (each parameter
        -> list of its values): :attr:`precision`, called when it is a callable."""
        p = self.precision(values) if callable(self.precision) else self.precision
        if p not in PRECISIONS:
            raise ValueError(f"model {self.name}: precision {p!r}; allowed: {', '.join(PRECISIONS)}")
        return p

    def audit_rule_for(self, values: Mapping[str, list]) -> str:
        """The precision audit's comparison rule for an experiment taking ``values``:
        :attr:`audit_rule`, called when it is a callable."""
        r = self.audit_rule(values) if callable(self.audit_rule) else self.audit_rule
        if r not in AUDIT_RULES:
            raise ValueError(f"model {self.name}: audit_rule {r!r}; allowed: {', '.join(AUDIT_RULES)}")
        return r

    def sequential_for(self, static: Mapping[str, Any]) -> bool:
        """Whether the engine runs a group with these static values one cell at a time:
        :attr:`sequential_cells`, called on ``static`` when it is a callable."""
        return bool(self.sequential_cells(static) if callable(self.sequential_cells) else self.sequential_cells)

    def param(self, name: str) -> Param:
        for p in self.params:
            if p.name == name:
                return p
        raise KeyError(name)

    @property
    def param_names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.params)

    def role(self, name: str) -> str:
        return "dynamic" if name == "seed" else self.param(name).role

    @property
    def all_statuses(self) -> tuple[Status, ...]:
        return BUILTIN_STATUSES + tuple(self.statuses)

    @property
    def status_names(self) -> tuple[str, ...]:
        """Status of code ``i`` is ``status_names[i]``: ok, nonfinite, diverged, then the model's."""
        return tuple(s.name for s in self.all_statuses)

    def status_code(self, name: str) -> int:
        """The integer an ``evaluate`` returns for status ``name``."""
        return self.status_names.index(name)

    def usable_statuses(self) -> tuple[str, ...]:
        """Statuses whose rows are fitted by default (``ok`` and the model's usable ones)."""
        return tuple(s.name for s in self.all_statuses if s.usable)

    @property
    def time_axis(self) -> str | None:
        """``"steps"`` when the model records training curves on the time axis, else ``None``."""
        return TIME_AXIS if TIME_AXIS in self.param_names and self.param(TIME_AXIS).role == "nested" else None


def next_pow2(n: int) -> int:
    """The smallest power of two ``>= n`` (1 for ``n <= 1``)."""
    return 1 << max(0, int(math.ceil(math.log2(max(1, int(n))))))


def exact_bucket(name: str, value: Any) -> Any:
    """Shape bucket = the value itself: one compiled program per size (no padding)."""
    return int(value)


def pow2_bucket(name: str, value: Any) -> Any:
    """Shape bucket = the next power of two: fewer programs, the model pads to the bucket."""
    return next_pow2(value)


__all__ = ["BUILTIN_STATUSES", "DEFAULT_METRIC", "DEFAULT_TOLERANCE", "DIVERGED", "Metric", "Model", "NONFINITE", "OK", "Param", "Status",
           "TIME_AXIS", "exact_bucket", "next_pow2", "pow2_bucket"]


#: The programs a model with ``device_programs`` implements.
PROGRAMS = ("cpu", "accelerator")
#: Environment variable that forces one of :data:`PROGRAMS` on any platform (tests run the
#: accelerator program on the CPU with ``TOYSCALE_PROGRAM=accelerator``).
PROGRAM_ENV = "TOYSCALE_PROGRAM"


def device_program(platform: str | None = None) -> str:
    """The program shape to run: ``"cpu"`` on the CPU, ``"accelerator"`` on a GPU or TPU.

    ``platform`` defaults to JAX's default backend. The environment variable ``TOYSCALE_PROGRAM``
    (``cpu`` or ``accelerator``) overrides the platform, e.g. to run and test the accelerator
    program on a CPU; any other value is a :class:`~toyscale.errors.UserError`.
    """
    import os

    forced = os.environ.get(PROGRAM_ENV, "").strip()
    if forced:
        if forced not in PROGRAMS:
            from toyscale.errors import UserError

            raise UserError(PROGRAM_ENV, f"{forced!r} is not a program; allowed: {', '.join(PROGRAMS)}")
        return forced
    if platform is None:
        import jax

        platform = jax.default_backend()
    return "cpu" if platform == "cpu" else "accelerator"
