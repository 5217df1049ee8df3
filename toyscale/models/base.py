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
* ``theory``: a :class:`Theory` -- slopes per axis and regime (:class:`Prediction`), finite-size
  curves the report scores against the measured mean, and compute-optimal frontiers
  (:class:`Frontier`).

Time has one convention: recorded training steps are the nested axis ``steps`` (one run covers
all its values); the schedule length is a separate parameter (``horizon``). The report draws
training curves for any model from that axis.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from toyscale.params import Param

#: The time axis: recorded training steps, a ``nested`` parameter of models that train.
TIME_AXIS = "steps"


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
    """

    name: str
    doc: str
    optional: bool = False


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


@dataclass(frozen=True)
class Prediction:
    """What theory says about one check (one axis of one slice of a sweep).

    Attributes:
      regime: name of the regime (``"resolution-limited (model bottleneck)"``).
      slope: predicted log-log slope d log(metric) / d log(axis) (negative for a decaying
        loss), or ``None`` where theory predicts no exponent (crossovers, open cases).
      metric: the metric column the slope refers to.
      law: ``"power"`` (metric = A x^slope) or ``"offset"`` (metric = E + A x^slope).
      valid: ``(lo, hi)`` axis interval where the asymptotic law is expected to hold; the
        default fit range is the swept values inside it.
      curve: optional finite-size prediction ``curve(x) -> expected metric`` (array in, array
        out), built once per slice (decompose once, evaluate cheaply). The report draws it and
        scores it: relative error of the curve against the measured seed-mean over the fit range.
      note: one line on where the prediction comes from.
      alternatives: competing laws ``{label: slope}`` where theories disagree or theory does
        not say which branch a slice follows (a central-limit ``N^-1`` against approximation
        theory's ``N^-4``; a geometric against a frequency-dominated superposition branch).
        ``slope`` is the one the check scores; the report records every alternative in
        summary.json (``alternatives``, ``agrees_with``), draws each on the check's figure and
        states which of them the fitted slope agrees with (within the check's tolerance), or none.
    """

    regime: str
    slope: float | None
    metric: str = "loss"
    law: str = "power"
    valid: tuple[float, float] = (0.0, float("inf"))
    curve: Callable[[Any], Any] | None = None
    note: str = ""
    alternatives: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Frontier:
    """Compute-optimal prediction: ``L*(C) ~ C^-eta``, ``size*(C) ~ C^xi`` along a size axis.

    Attributes:
      regime: name of the regime (e.g. the phase of the 4+3 diagram).
      eta: loss exponent of the frontier (positive: L* falls as C^-eta), or ``None`` (open).
      xi: exponent of the compute-optimal size, or ``None`` (open).
      note: one line on where the prediction comes from.
    """

    regime: str
    eta: float | None
    xi: float | None
    note: str = ""


def indexed_normal(key, count: int, shape: tuple = (), dtype=None):
    """``(count, *shape)`` standard normals whose entry ``i`` depends only on ``fold_in(key, i)``.

    The way a model draws "the first N features" or "the first P samples" so that a row's
    values do not depend on the largest size in its sweep: sample ``i`` is the same array
    whether 10 or 10 000 samples are drawn (one ``jax.random.normal(key, (count, ...))`` call
    would change every entry with ``count``).
    """
    import jax
    import jax.numpy as jnp

    dtype = dtype or jnp.result_type(float)
    return jax.vmap(lambda i: jax.random.normal(jax.random.fold_in(key, i), shape, dtype))(jnp.arange(count))


class Theory:
    """A model's theory. Subclass and override :meth:`predict` (and :meth:`frontier`).

    ``predict(axis, params, xs, stats)``: ``params`` maps every parameter except ``axis`` and
    ``seed`` to its value in the checked slice, ``xs`` are the swept axis values (sorted),
    ``stats`` (optional) maps each scalar metric to its seed-mean at each of ``xs`` -- for
    theories whose regime or curve is read off a measured diagnostic.

    ``frontier(params, size_axis)``: the compute-optimal exponents of the slice, or ``None``
    where the theory has no frontier.
    """

    def predict(self, axis: str, params: Mapping[str, Any], xs, stats: Mapping | None = None) -> Prediction:
        raise NotImplementedError

    def frontier(self, params: Mapping[str, Any], size_axis: str = "width") -> Frontier | None:
        return None


class FunctionTheory(Theory):
    """A :class:`Theory` from plain functions ``predict(axis, params, xs, stats)`` and optional
    ``frontier(params, size_axis)``."""

    def __init__(self, predict: Callable[..., Prediction], frontier: Callable[..., Frontier | None] | None = None):
        self._predict, self._frontier = predict, frontier

    def predict(self, axis, params, xs, stats=None):
        return self._predict(axis, params, xs, stats)

    def frontier(self, params, size_axis="width"):
        return None if self._frontier is None else self._frontier(params, size_axis)


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
      theory: the model's :class:`Theory`.
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
      precision: ``"float64"`` or ``"float32"``, the default of experiments of this model.
      device_programs: ``evaluate`` implements two programs with the same rows (within float64
        round-off), one shaped for the CPU and one for accelerators; the engine then adds
        ``static["program"]`` (``"cpu"`` or ``"accelerator"``, from :func:`device_program`: the
        platform, or the ``TOYSCALE_PROGRAM`` environment variable) to every group, so the
        choice is the platform's, never a model name's, and the two programs compile apart.
      sequential_cells: evaluate a chunk's cells one after another (``lax.map`` of one cell on
        each device) instead of ``vmap``: every cell then runs the same compiled arithmetic
        whatever the chunk size or device count, so a row is bitwise a function of its
        configuration even where training is chaotic (L-BFGS, sign-like Adam steps amplify the
        last-bit differences of XLA's batch-shape-dependent reductions to O(1)). The cell's
        own control flow stays control flow (no batch axis: a ``lax.cond`` skips its other
        branch, so early stopping and diagnostics at recorded steps cost nothing elsewhere);
        several devices get their blocks through ``shard_map``. Costs the batching speed-up,
        which on a CPU is small for models whose one cell fills the cores.
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
    precision: str = "float32"
    device_programs: bool = False
    sequential_cells: bool = False
    example: Mapping[str, Any] = field(default_factory=dict)
    references: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self):
        if not isinstance(self.theory, Theory):
            object.__setattr__(self, "theory", FunctionTheory(self.theory))
        names = [s.name for s in self.all_statuses]
        if len(set(names)) != len(names):
            raise ValueError(f"model {self.name}: duplicate status names {names}")

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


def exact_bucket(name: str, value: Any) -> Any:
    """Shape bucket = the value itself: one compiled program per size (no padding)."""
    return int(value)


def pow2_bucket(name: str, value: Any) -> Any:
    """Shape bucket = the next power of two: fewer programs, the model pads to the bucket."""
    return 1 << max(0, int(math.ceil(math.log2(max(1, int(value))))))


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
