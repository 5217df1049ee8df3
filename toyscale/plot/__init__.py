"""Figures, each drawn from a stored result (never refitted): one style module and one module per
result kind (checks, phase diagrams, frontiers)."""

from toyscale.plot.checks import check_figure, curves_figure
from toyscale.plot.frontiers import frontier_figure, frontier_map_figure
from toyscale.plot.phases import phase_figure
from toyscale.plot.style import figure, log_axes, save

__all__ = ["check_figure", "curves_figure", "figure", "frontier_figure", "frontier_map_figure", "log_axes",
           "phase_figure", "save"]
