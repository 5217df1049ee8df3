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

A third line is drawn when the objective carries weight decay ``lambda > 0`` (derived,
docs/theory.md §3.3): a width-N network is a width-(N+1) network with one zero neuron (which
costs no penalty), so the minimum ``J*(N)`` of ``MSE + lambda |theta|^2`` is non-increasing in N
and bounded below by ``J*(inf) > 0`` (the target is not 0): at fixed lambda the converged
objective saturates, and its width exponent tends to 0 -- no power law N^-a with a > 0 can
hold for large N.
"""

from __future__ import annotations



from toyscale.theory.base import Prediction, Slice, Theory

#: d, the input dimension of the task.
INPUT_DIM = 1
CLT_SLOPE = -1.0
APPROX_SLOPE = -4.0 / INPUT_DIM
ALTERNATIVES = {"central limit N^-1": CLT_SLOPE, "approximation N^-4": APPROX_SLOPE}
#: With weight decay > 0 the minimum of the objective is non-increasing in N and bounded below.
SATURATION = {"weight-decay optimum saturates N^0": 0.0}


def predict(axis: str, s: Slice) -> Prediction:
    """Predicted width exponent of the test MSE, with both candidate laws as ``alternatives``.

    ``axis = "width"``: slope -1 (central limit, Liu & Tegmark 2023) for smooth activations,
    -4 (approximation theory, Sharma & Kaplan 2022, ``4/d`` with ``d = 1``) for ReLU; the other
    law is carried in ``Prediction.alternatives`` so the report scores both; with
    ``weight_decay > 0`` the saturation slope 0 is added (see the module docstring). Other axes (the
    time axis ``steps``, protocol parameters): no exponent.
    """
    params, xs, stats = s.params, s.xs, s.stats
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
    alternatives = dict(ALTERNATIVES)
    if float(params.get("weight_decay", 0.0) or 0.0) > 0:
        alternatives.update(SATURATION)
        note += (" With weight decay > 0 the minimum of the objective is non-increasing in N and bounded below "
                 "(a zero neuron costs nothing), so a converged fit saturates: slope 0 is drawn too.")
    return Prediction(regime=regime, slope=main, metric="loss", law="power", note=note,
                      alternatives=alternatives)


#: The theory the model declares.
THEORY = Theory(predict=predict)
