"""Model registry. ``get_model(name)`` returns a :class:`~toyscale.models.base.Model`."""

from __future__ import annotations

from toyscale.errors import UserError
from toyscale.models.base import Frontier, FunctionTheory, Metric, Model, Prediction, Status, Theory

_REGISTRY: dict[str, Model] = {}
_BUILTINS_LOADED = False


def register(model: Model) -> Model:
    """Add ``model`` to the registry (used by each model module at import)."""
    _REGISTRY[model.name] = model
    return model


def _load_builtin() -> None:
    # A flag, not "registry is empty": a user (or test) model registered before the first lookup
    # must not hide the built-in models.
    global _BUILTINS_LOADED
    if _BUILTINS_LOADED:
        return
    _BUILTINS_LOADED = True
    from toyscale.models import (associative_memory, lottery, perceptron, random_features,  # noqa: F401
                                 superposition, ticket_ensemble)


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


__all__ = ["Frontier", "FunctionTheory", "Metric", "Model", "Prediction", "Status", "Theory", "get_model",
           "list_models", "register"]
