"""The theory protocol: what a model's theory answers about a slice of a sweep.

One protocol, three questions (all optional but ``predict``):

* ``predict(axis, s) -> Prediction``: the log-log slope of ``s.metric`` along ``axis`` in the
  slice ``s`` (and, optionally, a finite-size ``curve`` the report scores point by point);
* ``frontier(s) -> Frontier | None``: compute-optimal exponents ``L* ~ C^-eta``,
  ``size* ~ C^xi`` of the slice (``s.axis`` is the size axis);
* ``overlays(over, s) -> tuple[Overlay, ...]``: lines the theory wants drawn on a map over the
  two parameters ``over`` (e.g. phase boundaries).

A theory is built from plain functions, ``Theory(predict=..., frontier=..., overlays=...)``; a
theory module never imports a model module (constants both need live on the theory side).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

#: The metric a check scores when neither the check nor the theory names one.
DEFAULT_METRIC = "loss"


@dataclass(frozen=True)
class Slice:
    """The part of a sweep a check, phase cell or frontier looks at, as theory sees it.

    Attributes:
      params: every parameter's value in the slice except the checked axis and ``seed``
        (fixed parameters and the check's ``where``).
      axis: the checked axis (the size axis for a frontier).
      xs: the swept values of ``axis`` in the slice, sorted.
      stats: seed-mean of each scalar metric at each of ``xs`` (for theories whose regime or
        curve is read off a measured diagnostic); empty when not measured.
      metric: the metric the check asked for, or ``None`` (the theory chooses).
      fit_range: the check's ``(lo, hi)`` fit range, or ``None`` (the theory's validity interval).
    """

    params: Mapping[str, Any]
    axis: str = ""
    xs: tuple = ()
    stats: Mapping[str, Any] = field(default_factory=dict)
    metric: str | None = None
    fit_range: tuple[float, float] | None = None

    def get(self, name: str, default: Any = None) -> Any:
        """``params.get(name, default)``."""
        return self.params.get(name, default)

    def __getitem__(self, name: str) -> Any:
        return self.params[name]


@dataclass(frozen=True)
class Prediction:
    """What theory says about one check (one axis of one slice of a sweep).

    Attributes:
      regime: name of the regime (``"resolution-limited (model bottleneck)"``).
      slope: predicted log-log slope d log(metric) / d log(axis) (negative for a decaying
        loss), or ``None`` where theory predicts no exponent (crossovers, open cases): the
        slope is still fitted and shown, with nothing to compare.
      metric: the metric column the slope refers to.
      law: ``"power"`` (metric = A x^slope) or ``"offset"`` (metric = E + A x^slope).
      valid: ``(lo, hi)`` axis interval where the asymptotic law is expected to hold; the
        default fit range is the swept values inside it.
      curve: optional finite-size prediction ``curve(x) -> expected metric`` (array in, array
        out), built once per slice. The report scores it against the measured centre (seed
        mean or median) over ``curve_range`` -- relative error ``|curve - data| / data`` at
        every axis value there where every seed has an accepted row and the curve is finite,
        median and max (``curve_rel_error_median``, ``curve_rel_error``) -- and draws it. A
        check whose theory is a whole curve gives ``slope=None`` and a ``curve``.
      curve_range: ``(lo, hi)`` axis interval where ``curve`` is scored, or ``None``: the fit
        range (a curve that is an asymptotic law holds where the slope does; a finite-size
        curve such as a deterministic equivalent names the whole axis, ``(0, inf)``).
      note: one line on where the prediction comes from.
      alternatives: competing laws ``{label: slope}``; each is scored (within tolerance, inside
        the interval) and drawn.
    """

    regime: str
    slope: float | None
    metric: str = DEFAULT_METRIC
    law: str = "power"
    valid: tuple[float, float] = (0.0, float("inf"))
    curve: Callable[[Any], Any] | None = None
    curve_range: tuple[float, float] | None = None
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


@dataclass(frozen=True)
class Overlay:
    """A line theory wants drawn on a map over two parameters (a phase boundary).

    Attributes:
      points: ``{parameter: values}`` for the two mapped parameters (equal lengths), in
        parameter coordinates; the figure picks the two it maps.
      label: legend text.
      style: ``"dashed"``, ``"dotted"`` or ``"solid"``.
    """

    points: Mapping[str, Sequence[float]]
    label: str = ""
    style: str = "dashed"


def _no_frontier(s: Slice) -> Frontier | None:
    return None


def _no_overlays(over: tuple[str, str], s: Slice) -> tuple[Overlay, ...]:
    return ()


@dataclass(frozen=True)
class Theory:
    """A model's theory: ``predict(axis, s)``, ``frontier(s)``, ``overlays(over, s)`` (see the
    module docstring). Only ``predict`` is required."""

    predict: Callable[[str, Slice], Prediction]
    frontier: Callable[[Slice], Frontier | None] = _no_frontier
    overlays: Callable[[tuple[str, str], Slice], tuple[Overlay, ...]] = _no_overlays
