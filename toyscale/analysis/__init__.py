"""The analysis of stored rows: slicing and seed statistics (:mod:`~toyscale.analysis.slicing`),
checks, phase diagrams and compute-optimal frontiers, each returning a frozen result whose
``to_json()`` is what the result files hold."""

from toyscale.analysis.checks import CheckResult, evaluate_check
from toyscale.analysis.frontiers import FrontierResult, evaluate_frontier, evaluate_frontier_map
from toyscale.analysis.phases import PhaseResult, evaluate_phase
from toyscale.analysis.slicing import same_value, select, slice_label, theory_slice

__all__ = ["CheckResult", "FrontierResult", "PhaseResult", "evaluate_check", "evaluate_frontier",
           "evaluate_frontier_map", "evaluate_phase", "same_value", "select", "slice_label", "theory_slice"]
