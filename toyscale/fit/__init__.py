"""Fitting scaling laws: power laws, offset laws, bootstrap confidence intervals.

Public API:

* :func:`fit_scaling` -- fit ``y = A x^slope`` or ``y = E + A x^slope`` to a curve measured
  over several seeds, with a bootstrap confidence interval over seeds.
* :class:`SlopeFit` -- its result.
"""

from toyscale.fit._basic import SlopeFit, fit_offset_power_law, fit_power_law, fit_scaling

__all__ = ["SlopeFit", "fit_offset_power_law", "fit_power_law", "fit_scaling"]
