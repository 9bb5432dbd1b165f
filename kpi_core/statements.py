"""KPI statements built once per shape and reused, so the fixed Python cost of a KPI is little more than running it.

A KPI's SQL has a *shape* (which scope filters are present, the group column of a breakdown, how many months a
range touches) and *values* (dates, ids, a segment's name). A function decorated with `@built_once` takes only the
shape and returns a statement whose values are all `bindparam`s; it runs once per distinct shape and its statement
is reused after, values supplied at execution: `conn.execute(movement(ctx.shape), ctx.params(start=...))`.

A reused statement object keeps SQLAlchemy's memoized cache key, so neither the Core construction nor the cache-key
walk is repeated; the compiled form still comes from the engine's compiled cache (one per dialect), so the same
statement serves SQLite and Postgres. It is safe because:
- a builder never sees a question's values (its arguments are the shape), so nothing stale can be baked in;
- a value left out at execution is an error (a `bindparam` without a value is required), never a stale one;
- built statements are never changed after, so threads share them; two threads building one shape keep the first.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Hashable
from typing import Any, ParamSpec, TypeVar

P = ParamSpec("P")
S = TypeVar("S")

MAX_SHAPES = 2048  # far more than the catalog uses; a safety bound, not a tuning knob

_built: dict[tuple[Hashable, ...], Any] = {}
_lock = threading.Lock()


def built_once(build: Callable[P, S]) -> Callable[P, S]:
    """Decorator: `build(*shape)` runs once per distinct (hashable, positional) arguments; its result is reused."""

    @functools.wraps(build)
    def reused(*shape: P.args, **no_kwargs: P.kwargs) -> S:
        if no_kwargs:
            raise TypeError(f"{build.__name__}: pass the shape positionally")
        key = (build, *shape)
        found = _built.get(key)
        if found is not None:
            return found
        statement = build(*shape)
        with _lock:
            if len(_built) >= MAX_SHAPES:
                _built.clear()
            return _built.setdefault(key, statement)

    return reused


def clear() -> None:
    """Forget every built statement: the next question builds its statements afresh (tests, benchmarks)."""
    with _lock:
        _built.clear()


def built_count() -> int:
    """How many statements are built and kept."""
    return len(_built)
