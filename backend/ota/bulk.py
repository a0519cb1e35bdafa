"""Many new rows of one table in one go, straight through the DB-API driver.

SQLAlchemy's bulk insert with RETURNING spends most of a 100,000-row insert building batched
statements (and PostgreSQL parsing them); here SQLite gets one ``executemany`` of a plain
INSERT, PostgreSQL one ``COPY`` (from ``COPY_FROM`` rows). The new ids are read back afterwards, matched to the rows by a
column that is unique among them (e.g. the device name within a task).
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import Table
from sqlalchemy.orm import DeclarativeBase, Session

#: PostgreSQL: fewer rows go as one executemany (a round trip less than COPY; the history's one
#: or two rows of a unit of work)
COPY_FROM = 100


@functools.lru_cache(maxsize=32)
def _scalar_defaults(model: type[DeclarativeBase]) -> dict[str, Any]:
    return {c.name: c.default.arg for c in _table(model).columns  # type: ignore[attr-defined]
            if not c.primary_key and c.default is not None and c.default.is_scalar}


def _table(model: type[DeclarativeBase]) -> Table:
    return cast(Table, model.__table__)


def scalar_defaults(model: type[DeclarativeBase]) -> dict[str, Any]:
    """The model's scalar Python defaults (``default=0``) of its columns, by name."""
    return dict(_scalar_defaults(model))


def insert_rows(s: Session, model: type[DeclarativeBase], rows: Sequence[dict[str, Any]], key: str | None = None,
                scope: dict[str, Any] | None = None) -> list[int]:
    """Insert ``rows`` (dicts with the same keys) into ``model``'s table in the session's transaction.

    Columns a row leaves out get their scalar Python default (``default=0`` in the model).
    With ``key`` and ``scope``: the new rows' ids, in the order of ``rows`` (``scope``, column
    values, selects exactly the inserted rows, e.g. ``{"task_id": task.id}`` for a new task's
    records; ``key`` tells them apart); else nothing is read back ([]).
    """
    if not rows:
        return []
    conn = s.connection()
    dialect = conn.dialect
    given = list(rows[0])
    table = _table(model)
    defaults = {k: v for k, v in _scalar_defaults(model).items() if k not in rows[0]}
    names = given + list(defaults)
    extra = tuple(defaults.values())
    get = operator.itemgetter(*given)
    if len(given) == 1:
        values = [(get(r), *extra) for r in rows]
    else:
        values = [get(r) + extra for r in rows]
    q = dialect.identifier_preparer
    columns = ", ".join(q.quote(n) for n in names)
    mark = "?" if dialect.paramstyle == "qmark" else "%s"
    if dialect.name == "postgresql" and len(values) >= COPY_FROM:
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        with cursor, cursor.copy(f"COPY {q.format_table(table)} ({columns}) FROM STDIN") as copy:
            for v in values:
                copy.write_row(v)
    else:
        conn.exec_driver_sql(f"INSERT INTO {q.format_table(table)} ({columns}) VALUES ({', '.join([mark] * len(names))})",
                             values)
    if key is None or scope is None:
        return []
    where = " AND ".join(f"{q.quote(c)} = {mark}" for c in scope)
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:  # plain tuples from the driver: 100,000 of them in a few milliseconds
        cursor.execute(f"SELECT {q.quote(key)}, {q.quote('id')} FROM {q.format_table(table)} WHERE {where}",
                       tuple(scope.values()))
        ids = dict(cursor.fetchall())
    finally:
        cursor.close()
    if len(ids) != len(rows):
        raise RuntimeError(f"{table.name}: inserted {len(rows)} rows, found {len(ids)} by {key}")
    return [ids[r[key]] for r in rows]
