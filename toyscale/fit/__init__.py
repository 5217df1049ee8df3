"""Fitting scaling laws: power laws, offset (plateau) laws, joint laws, broken laws; bootstrap
intervals; held-out extrapolation; batched JAX fits for thousands of curves at once.

Laws and estimators:

* :func:`fit_power_law` -- y = A x^slope, least squares in log-log space.
* :func:`fit_offset_power_law` -- y = E + A x^slope (saturating at E), variable projection.
* :func:`fit_scaling` -- either of the two on a (x, seeds) table, with a seed bootstrap
  (:class:`SlopeFit`: parameter CI, and :meth:`SlopeFit.prediction_interval` for extrapolation).
* :func:`fit_joint_vp`, :func:`fit_joint_huber`, :func:`fit_joint` -- L(N, D) = E + A N^-a + B D^-b
  (Chinchilla), by variable projection or by the Huber/L-BFGS-B multi-start recipe;
  :func:`bootstrap_joint` adds parameter intervals.
* :func:`fit_broken_power_law` -- smoothly broken power law (Caballero et al. 2022).

Validation: :func:`heldout_error`, :func:`goodness_of_fit`, :func:`local_slopes`,
:func:`range_sensitivity`.

Batched (one jitted call, fixed work per curve): :func:`fit_offset_batched`,
:func:`fit_power_batched`, :func:`fit_joint_huber_batched`.
"""

from toyscale.fit._basic import (STATISTICS, SlopeFit, fit_offset_power_law, fit_power_law, fit_scaling, seed_center,
                                 seed_interval)
from toyscale.fit._batched import fit_joint_huber_batched, fit_offset_batched, fit_power_batched
from toyscale.fit._broken import BrokenFit, broken_power_law, fit_broken_power_law
from toyscale.fit._joint import JointFit, bootstrap_joint, chinchilla_starts, fit_joint_huber, fit_joint_vp
from toyscale.fit._validate import goodness_of_fit, heldout_error, local_slopes, range_sensitivity


def fit_joint(N, D, L, method: str = "vp", *, batched: bool = False, top: int = 32, **kw) -> JointFit:
    """Fit L(N, D) = E + A N^-a + B D^-b with ``method`` "vp" (default) or "huber".

    ``batched=True`` (huber only) runs the 4 500 starts as one jitted L-BFGS batch with a fixed
    step count, then polishes the ``top`` best end points with SciPy's L-BFGS-B.
    """
    if method == "vp":
        return fit_joint_vp(N, D, L, **kw)
    if method != "huber":
        raise ValueError(f"method must be 'vp' or 'huber', got {method!r}")
    if not batched:
        return fit_joint_huber(N, D, L, **kw)
    import numpy as np

    starts = kw.pop("starts", None)
    starts = chinchilla_starts() if starts is None else starts
    th, obj = fit_joint_huber_batched(N, D, L, starts, delta=kw.get("delta", 1e-3))
    obj = np.where(np.isfinite(np.asarray(obj)), np.asarray(obj), np.inf)
    return fit_joint_huber(N, D, L, starts=np.asarray(th)[np.argsort(obj)[:top]], **kw)


__all__ = [
    "BrokenFit", "JointFit", "SlopeFit", "bootstrap_joint", "broken_power_law", "chinchilla_starts",
    "fit_broken_power_law", "fit_joint", "fit_joint_huber", "fit_joint_huber_batched", "fit_joint_vp",
    "fit_offset_batched", "fit_offset_power_law", "fit_power_batched", "fit_power_law", "fit_scaling",
    "goodness_of_fit", "heldout_error", "local_slopes", "range_sensitivity", "seed_center", "seed_interval", "STATISTICS",
]
