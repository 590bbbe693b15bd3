"""SQL statements built once per shape, the one way the read models cache what they build.

A statement's *shape* is what changes its SQL text: which filters are on, the sort, the page size. A value
never does: values are bound parameters at execution. So a builder decorated with `@per_shape()` runs once
per shape and every request of that shape reuses its statement, which saves building and compiling it and
lets psycopg keep it prepared on PostgreSQL (app/web/transactions.py). Builders take only the shape, as
hashable arguments (tuples of filter names, strings, flags).

Query-string values (page numbers, dates, ids) are parsed by the one parser of each kind in app/validators.py.
"""

from collections.abc import Callable
from functools import lru_cache

_builders: list = []


def per_shape(maxsize: int = 256) -> Callable:
    """Decorator: keep the statement a builder returns for each shape (its arguments), at most `maxsize` shapes."""

    def decorate(builder: Callable) -> Callable:
        cached = lru_cache(maxsize=maxsize)(builder)
        _builders.append(cached)
        return cached

    return decorate


def forget_all() -> None:
    """Drop every cached statement (after the schema changed under a running process, e.g. in a test)."""
    for builder in _builders:
        builder.cache_clear()
