"""The one shape of an evaluated check or frontier: a frozen mapping over its JSON entry."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from toyscale.jsonio import clean


@dataclass(frozen=True)
class EntryResult:
    """A result whose content is one JSON entry (``entry``): read like a mapping
    (``result["fitted"]``, ``result.get(...)``, ``"x" in result``) and written by :meth:`to_json`
    exactly as the result file holds it (NaN/inf as ``null``)."""

    entry: Mapping[str, Any]

    def __getitem__(self, key: str) -> Any:
        return self.entry[key]

    def get(self, key: str, default: Any = None) -> Any:
        """``to_json().get(key, default)``."""
        return self.entry.get(key, default)

    def __contains__(self, key: str) -> bool:
        return key in self.entry

    def __iter__(self):
        return iter(self.entry)

    @property
    def name(self) -> str:
        """The check's or frontier's name."""
        return self.entry["name"]

    def to_json(self) -> dict:
        """The entry as the result file holds it (NaN/inf as ``null``)."""
        return clean(dict(self.entry))
