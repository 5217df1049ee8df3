"""Model registry. ``get_model(name)`` returns a :class:`~toyscale.protocol.Model`.

A model is registered by calling :func:`register` when its module is imported. On the first
lookup every public module of this package (``toyscale/models/NAME.py``, names not starting with
``_``) is imported, so adding a model is a files-only change: drop in ``models/NAME.py`` (and its
``theory/NAME.py``); nothing else lists it. Models defined elsewhere (a notebook, a test) call
:func:`register` themselves before use.
"""

from __future__ import annotations

import importlib
import pkgutil

from toyscale.errors import UserError
from toyscale.protocol import Metric, Model, Status
from toyscale.theory.base import Frontier, Overlay, Prediction, Slice, Theory

_REGISTRY: dict[str, Model] = {}
_BUILTINS_LOADED = False


def register(model: Model) -> Model:
    """Add ``model`` to the registry under ``model.name`` (replacing one of the same name) and
    return it, so a module can write ``MODEL = register(Model(...))``."""
    if not isinstance(model, Model):
        raise TypeError(f"register expects a toyscale Model, got {type(model).__name__}")
    _REGISTRY[model.name] = model
    return model


def builtin_modules() -> list[str]:
    """Names of the model modules shipped in this package (every public ``toyscale/models/*.py``
    except the protocol re-export ``base``)."""
    return sorted(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_") and m.name != "base")


def _load_builtin() -> None:
    # A flag, not "registry is empty": a user (or test) model registered before the first lookup
    # must not hide the built-in models.
    global _BUILTINS_LOADED
    if _BUILTINS_LOADED:
        return
    _BUILTINS_LOADED = True
    for name in builtin_modules():
        importlib.import_module(f"{__name__}.{name}")


def list_models() -> list[str]:
    """Names of all registered models, sorted (names starting with ``_`` are private test models)."""
    _load_builtin()
    return sorted(n for n in _REGISTRY if not n.startswith("_"))


def get_model(name: str, field: str = "model") -> Model:
    """Return the registered model ``name`` or raise :class:`UserError` listing the choices."""
    _load_builtin()
    if name not in _REGISTRY:
        raise UserError(field, f"unknown model {name!r}; allowed: {', '.join(list_models())}")
    return _REGISTRY[name]


def describe(name: str | None = None, field: str = "list") -> str:
    """The text of ``toyscale list [MODEL]``: every model with its summary, or one model's
    parameters (type, default, allowed values including ``inf`` where a parameter takes it, role,
    description), its cross-parameter limits (:attr:`Model.limits`), metrics, default precision
    and references."""
    import math

    if not name:
        return "\n".join(f"{n:20s} {get_model(n).summary}" for n in list_models())
    m = get_model(name, field=field)
    out = [f"{m.name}: {m.summary}", "", "parameters (name, type, default, allowed, role -- description):"]
    for p in m.params:
        d = "inf" if isinstance(p.default, float) and math.isinf(p.default) else repr(p.default)
        out.append(f"  {p.name:12s} {p.type.__name__:5s} {d:10s} {p.allowed():28s} {p.role:8s} -- {p.doc}")
    out.append("  seed         int   0          set by top-level `seeds`     dynamic  -- PRNG seed of the draw")
    if m.limits:
        out += ["", "limits across parameters (checked before any compute):"] + [f"  {t}" for t in m.limits]
    out += ["", "metrics:"] + [f"  {mt.name:12s} {mt.doc}" for mt in m.metrics]

    def declared(x, what):
        return f"{what}: " + (f"depends on the configuration: {' '.join((x.__doc__ or '').split())}" if callable(x) else x)

    out += ["", declared(m.precision, "declared precision") + " (the default of its experiments on every device)",
            declared(m.audit_rule, "precision audit rule") + " (docs/precision.md)"]
    if m.references:
        out += ["references:"] + [f"  {r}" for r in m.references]
    return "\n".join(out)


__all__ = ["Frontier", "Metric", "Model", "Overlay", "Prediction", "Slice", "Status", "Theory", "builtin_modules",
           "describe", "get_model", "list_models", "register"]
