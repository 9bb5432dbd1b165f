"""The process's shared health scoring cache: one scoring per (data version, as_of, settings, scope, population).

Keys start with the usage rollups' stamp (storage/rollups.py): a token that changes at every rebuild and a
version that every write to the data tables bumps (database triggers, so writes from any process count).
Entries are tuples of frozen results, never mutated; the least recently used are dropped first.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable
from typing import Any

MAX_ENTRIES = 12
"""Scorings kept (a 10k-account scoring is tens of MB; a scoped one shares the objects of everyone's)."""


class ScoringCache:
    def __init__(self, max_entries: int = MAX_ENTRIES) -> None:
        self.max_entries = max_entries
        self._entries: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def get(self, key: Hashable) -> Any | None:
        with self._lock:
            value = self._entries.get(key)
            if value is None:
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            return value

    def put(self, key: Hashable, value: Any) -> None:
        with self._lock:
            self._entries[key] = value
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


SCORING_CACHE = ScoringCache()
