"""Which watch-lists a mention belongs to (matching), and which cascade (linking)."""

from __future__ import annotations

from monitor.cascades.link import Linked, Linker, Lookup
from monitor.cascades.match import Matcher

__all__ = ["Linked", "Linker", "Lookup", "Matcher"]
