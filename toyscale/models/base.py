"""The model protocol: what a model declares so the sweep engine, the store and the report
can run it without knowing anything else about it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

from toyscale.params import Param


@dataclass(frozen=True)
class Metric:
    """A quantity a model reports per configuration.

    Attributes:
      name: column name in the result table.
      doc: one-line description.
      size: 0 for a scalar; K > 0 for a fixed-length vector (stored as a list column,
        e.g. a loss curve at K log-spaced steps).
    """

    name: str
    doc: str
    size: int = 0


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
      curve: optional finite-size prediction ``curve(x) -> expected metric`` (array in,
        array out) drawn beside the data.
      note: one line on where the prediction comes from.
    """

    regime: str
    slope: float | None
    metric: str = "loss"
    law: str = "power"
    valid: tuple[float, float] = (0.0, float("inf"))
    curve: Callable[[Any], Any] | None = None
    note: str = ""


@dataclass(frozen=True)
class Model:
    """A solvable model, written for ONE configuration; batching is the engine's ``vmap``.

    Attributes:
      name: registry name used in experiment files.
      summary: one-line description.
      params: declared parameters (see :class:`toyscale.params.Param`).
      metrics: reported metrics.
      evaluate: ``evaluate(static, nested, dyn, key) -> {metric: array}`` for one *cell*:
        ``static`` maps static/shape-bucket parameter names to Python values, ``nested``
        maps each nested axis to the sorted tuple of its values in this group, ``dyn``
        maps dynamic parameter names to scalars (traced), ``key`` is a PRNG key. Each
        metric comes back with shape ``(len(nested[a0]), len(nested[a1]), ...) + (size,)``.
        Must be jittable and vmappable over ``dyn`` and ``key``.
      theory: ``theory(axis, params, xs, stats=None) -> Prediction``; ``params`` maps every
        parameter except ``axis`` and ``seed`` to its value in the checked slice, ``xs`` are
        the swept axis values (sorted), ``stats`` (optional) maps each metric name to its
        seed-mean at each of ``xs`` -- for theories whose regime is read off a measured
        diagnostic (e.g. the represented fraction of superposition).
      group_extra: optional ``group_extra(row) -> {name: value}``: extra static keys derived
        from one configuration (e.g. ``minnorm = ridge == 0`` selects a different algorithm).
        Rows that differ in these keys are evaluated by different compiled programs.
      bucket: optional ``bucket(name, value) -> value`` for ``shape`` parameters (default:
        next power of two).
      cell_bytes: optional estimate of the working memory of one cell, used to size chunks.
      check_config: optional cross-parameter validation ``check_config(values) -> None``;
        ``values`` maps each parameter to the list of values the sweep takes. Raise
        :class:`toyscale.errors.UserError` naming the field.
      precision: ``"float64"`` or ``"float32"``, the default of experiments of this model.
      example: a tiny experiment (``{"params": ..., "sweep": ..., "seeds": ...}``) that runs in
        seconds; the conformance tests run it for every registered model.
      references: papers the model and its theory come from.
      unconverged: optional ``unconverged(df) -> boolean Series``: which stored rows (a pandas
        DataFrame of ``status == "ok"`` rows) were still changing when training stopped. The
        report counts and lists them per check; fits are not changed.
      curve: optional ``(metric, steps)``: ``metric`` is a per-row training curve and
        ``steps(params) -> array`` its x values from the row's parameters; the report draws the
        curves of each check's slice beside the check's figure.
    """

    name: str
    summary: str
    params: tuple[Param, ...]
    metrics: tuple[Metric, ...]
    evaluate: Callable[..., Mapping[str, Any]]
    theory: Callable[..., Prediction]
    group_extra: Callable[[Mapping[str, Any]], Mapping[str, Any]] | None = None
    bucket: Callable[[str, Any], Any] | None = None
    cell_bytes: Callable[[Mapping[str, Any], Mapping[str, tuple]], int] | None = None
    check_config: Callable[[Mapping[str, list]], None] | None = None
    precision: str = "float32"
    example: Mapping[str, Any] = field(default_factory=dict)
    references: tuple[str, ...] = field(default_factory=tuple)
    unconverged: Callable[[Any], Any] | None = None
    curve: tuple[str, Callable[[Mapping[str, Any]], Any]] | None = None

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
