"""Engine and session factory: SQLite in WAL mode by default, PostgreSQL by URL; migrations on start."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: object) -> None:  # DB-API connection: untyped
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()
        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    return create_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True)


def _head_revision() -> str | None:
    """The newest migration's revision: its file name's number (``0004_rollout_safety.py``)."""
    versions = resources.files("backend.db.migrations").joinpath("versions")
    numbers = [p.name[:4] for p in versions.iterdir() if p.name[:4].isdigit() and p.name.endswith(".py")]
    return max(numbers) if numbers else None


def at_head(engine: Engine) -> bool:
    """Whether the database is already at the newest revision (then Alembic, ~0.5 s of a start,
    is not needed)."""
    head = _head_revision()
    if head is None:
        return False
    try:
        with engine.connect() as conn:
            return conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == head
    except SQLAlchemyError:
        return False  # a new database: no version table yet


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest Alembic revision."""
    if at_head(engine):
        return
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(resources.files("backend.db.migrations")))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


def after_commit(session: Session, fn) -> None:  # noqa: ANN001
    """Run fn() once the session's transaction has committed (never if it rolls back)."""
    session.info.setdefault("after_commit", []).append(fn)


def _run_after_commit(session: Session) -> None:
    for fn in session.info.pop("after_commit", []):
        fn()


def _drop_after_commit(session: Session, *_args) -> None:  # noqa: ANN002
    session.info.pop("after_commit", None)


class Database:
    def __init__(self, url: str):
        self.engine = make_engine(url)
        self._factory = sessionmaker(self.engine, expire_on_commit=False)
        event.listen(self._factory, "after_commit", _run_after_commit)
        event.listen(self._factory, "after_soft_rollback", _drop_after_commit)

    def migrate(self) -> None:
        migrate(self.engine)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """One unit of work: commits on success, rolls back on any error."""
        with self._factory() as s:
            try:
                yield s
                s.commit()
            except BaseException:
                s.rollback()
                raise

    def dispose(self) -> None:
        self.engine.dispose()
