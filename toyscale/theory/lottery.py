"""Theory for two-layer networks on a smooth 1-D target (docs/theory.md §3).

Two predictions for the test MSE of a width-``N`` network fitted to ``y = x^2`` on an interval,
both drawn on every width figure and both scored by the report:

==============================  ===========  ===============================================
prediction                      MSE ~        why
==============================  ===========  ===============================================
central limit (lottery tickets)  N^-1        Liu & Tegmark 2023: symmetric neuron pairs are
                                             even, locally quadratic "tickets" whose
                                             higher-order errors are independent; averaging
                                             N/2 of them leaves a variance ~ 1/N
approximation theory             N^-(4/d)    Sharma & Kaplan 2022; d = 1: a piecewise
                                 = N^-4      approximation with N pieces has error ~ N^-2,
                                             squared error ~ N^-4 (ReLU: piecewise linear)
==============================  ===========  ===============================================

The paper's claim, for smooth activations, is the first; ReLU networks are expected to follow
the second. Which one a measured exponent agrees with (or neither) is what the report states.
"""

from __future__ import annotations

from typing import Mapping, Sequence

from toyscale.models.base import Prediction

#: d, the input dimension of the task.
INPUT_DIM = 1
CLT_SLOPE = -1.0
APPROX_SLOPE = -4.0 / INPUT_DIM
ALTERNATIVES = {"central limit N^-1": CLT_SLOPE, "approximation N^-4": APPROX_SLOPE}


def predict(axis: str, params: Mapping, xs: Sequence[float], stats: Mapping | None = None) -> Prediction:
    """Predicted width exponent of the test MSE, with both candidate laws as ``alternatives``.

    ``axis = "width"``: slope -1 (central limit, Liu & Tegmark 2023) for smooth activations,
    -4 (approximation theory, Sharma & Kaplan 2022, ``4/d`` with ``d = 1``) for ReLU; the other
    law is carried in ``Prediction.alternatives`` so the report scores both. Other axes (the
    time axis ``steps``, protocol parameters): no exponent.
    """
    if axis != "width":
        return Prediction(regime=f"no prediction along {axis}", slope=None,
                          note="the theory predicts how the converged test MSE scales with width only")
    relu = params.get("activation") == "relu"
    target = params.get("target", "x2")
    main = APPROX_SLOPE if relu else CLT_SLOPE
    regime = "ReLU: approximation theory" if relu else "smooth: lottery-ticket central limit"
    note = ("Liu & Tegmark 2023 claim MSE ~ N^-1 for smooth activations (central limit over symmetric-pair "
            "tickets); approximation theory (Sharma & Kaplan 2022) gives N^-4 for d = 1 (ReLU: piecewise linear). "
            "Both drawn; the report says which the fit agrees with.")
    if target != "x2":
        note += f" Target {target!r}: the paper's analysis is for x^2; the same two laws are drawn."
    return Prediction(regime=regime, slope=main, metric="loss", law="power", note=note,
                      alternatives=ALTERNATIVES)
