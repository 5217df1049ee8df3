"""One plotting style: figures, log axes with readable ticks, saving.

Figures use matplotlib's object API (``matplotlib.figure.Figure``): no pyplot, no backend
switch, so a notebook's backend is left alone.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

#: Most axis values labelled one by one on a short log axis.
MAX_VALUE_TICKS = 12
#: A log axis spanning less than this ratio gets its values as tick labels.
SHORT_RATIO = 100.0


def figure(ncols: int = 1, size=(5.2, 4.0), nrows: int = 1):
    """``(fig, axes)``: a ``Figure`` with ``nrows x ncols`` panels (``axes`` flat, row-major)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(size[0] * ncols, size[1] * nrows), dpi=110)
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    return fig, axes


def _readable(axis, values) -> None:
    from matplotlib.ticker import LogLocator, NullFormatter

    axis.set_minor_formatter(NullFormatter())
    v = np.unique(np.asarray([x for x in (values if values is not None else []) if np.isfinite(x) and x > 0], float))
    if len(v) >= 2 and len(v) <= MAX_VALUE_TICKS and v[-1] / v[0] < SHORT_RATIO:
        axis.set_ticks(v, [f"{x:g}" for x in v])  # a short range: label the swept values themselves
    else:
        axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0), numticks=8))


def log_axes(ax, xlabel: str, ylabel: str, xvalues=None, yvalues=None) -> None:
    """Log-log axes with labels. On a short range (less than two decades, at most 12 values)
    the given ``xvalues``/``yvalues`` are the tick labels (a width axis 8..64 reads 8, 16, 32,
    64, not just 10 and 20); otherwise ticks at 1, 2, 5 per decade. Minor labels are off."""
    ax.set_xscale("log")
    ax.set_yscale("log")
    _readable(ax.xaxis, xvalues)
    _readable(ax.yaxis, yvalues)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)


def colorbar_for(fig, ax, cmap, lo: float, hi: float, label: str, log: bool = False):
    """A colorbar for lines coloured by value in ``[lo, hi]`` (a ``ScalarMappable``, no image)."""
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import LogNorm, Normalize

    norm = LogNorm(lo, hi) if log and lo > 0 and hi > lo else Normalize(lo, hi if hi > lo else lo + 1)
    sm = ScalarMappable(norm=norm, cmap=cmap)
    cb = fig.colorbar(sm, ax=ax, shrink=0.85)
    cb.set_label(label)
    return norm


def save(fig, path: str | Path) -> Path:
    """Lay out and write ``fig`` to ``path`` (parent directories created); returns the path."""
    path = Path(path)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    return path
