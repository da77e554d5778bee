"""The monitoring store: SQLite by default (one file, WAL), PostgreSQL for many probers.

``open_store(url)`` connects and runs the Alembic migrations programmatically (under an
advisory lock on PostgreSQL, so probers starting together migrate once). Rounds are claimed
with an insert against the unique round key; a round's requests and its ``done`` status
are written in one transaction.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from conformance._core.errors import InputError, Problem
from conformance.monitor import tables as t

_MIGRATIONS = Path(__file__).resolve().parent / "migrations"
_LOCK_KEY = 0x746F6B6D6F6E  # "tokmon": PostgreSQL advisory lock for migrations


def utc_naive(when: datetime | None = None) -> datetime:
    """UTC without tzinfo: what the store keeps."""
    w = when or datetime.now(UTC)
    return w.astimezone(UTC).replace(tzinfo=None) if w.tzinfo else w


@dataclass(frozen=True)
class RoundKey:
    campaign: str
    prober: str
    target: str
    workload: str
    scenario: str
    slot: datetime  # UTC, naive

    def as_row(self) -> dict[str, Any]:
        return {"campaign": self.campaign, "prober": self.prober, "target": self.target,
                "workload": self.workload, "scenario": self.scenario, "slot": self.slot}


def database_url(value: str | Path) -> str:
    """A SQLAlchemy URL from ``--db``: a URL as given, a path as a SQLite file."""
    text = str(value)
    if "://" in text:
        if text.startswith("postgresql://"):
            return "postgresql+psycopg://" + text[len("postgresql://"):]
        if text.startswith(("postgresql+psycopg://", "sqlite://")):
            return text
        raise InputError(f"unsupported database URL {text.split('://')[0]}://", [Problem(
            "use a file path (SQLite) or postgresql://user@host:port/db")])
    return f"sqlite:///{Path(text).expanduser().resolve()}"


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def migrate(conn: Connection) -> None:
    """Bring the schema to the newest revision (Alembic, run in-process)."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(_MIGRATIONS))
    cfg.attributes["connection"] = conn
    command.upgrade(cfg, "head")


class Store:
    """One database. Thread-safe (SQLAlchemy pools connections)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def close(self) -> None:
        self.engine.dispose()

    @contextlib.contextmanager
    def begin(self) -> Iterator[Connection]:
        with self.engine.begin() as conn:
            yield conn

    # -- rounds ----------------------------------------------------------------------------
    def claim(self, key: RoundKey, region: str, now: datetime) -> int | None:
        """Claim a round; its id, or None when the key is already taken (ran or running)."""
        try:
            with self.engine.begin() as conn:
                res = conn.execute(t.rounds.insert().values(
                    **key.as_row(), region=region, status="running", claimed_at=now,
                    n_requests=0))
                pk = res.inserted_primary_key
                return int(pk[0]) if pk else None
        except IntegrityError:
            return None

    def record_missed(self, key: RoundKey, region: str, now: datetime, detail: str) -> bool:
        """Mark a slot that passed while no prober ran as ``missed`` (unless taken)."""
        try:
            with self.engine.begin() as conn:
                conn.execute(t.rounds.insert().values(
                    **key.as_row(), region=region, status="missed", claimed_at=now,
                    finished_at=now, n_requests=0, detail=detail[:500]))
            return True
        except IntegrityError:
            return False

    def finish(self, round_id: int, status: str, rows: Sequence[Mapping[str, Any]],
               now: datetime, detail: str | None = None) -> None:
        """Write a round's requests and close it, atomically."""
        with self.engine.begin() as conn:
            if rows:
                conn.execute(t.requests.insert(), [{**r, "round_id": round_id} for r in rows])
            conn.execute(t.rounds.update().where(t.rounds.c.id == round_id).values(
                status=status, finished_at=now, n_requests=len(rows),
                detail=(detail or "")[:500] or None))

    def stale_rounds(self, campaign: str, prober: str, before: datetime) -> list[int]:
        """Rounds of this prober still ``running`` since before ``before`` (it crashed)."""
        r = t.rounds.c
        with self.engine.connect() as conn:
            return [int(x) for x in conn.execute(sa.select(r.id).where(
                r.campaign == campaign, r.prober == prober, r.status == "running",
                r.claimed_at < before)).scalars()]

    def reclaim(self, round_id: int, now: datetime) -> bool:
        """Take over a stale round (compare-and-set on its claim time)."""
        r = t.rounds.c
        with self.engine.begin() as conn:
            res = conn.execute(t.rounds.update().where(
                r.id == round_id, r.status == "running").values(claimed_at=now,
                                                                 detail="re-run after restart"))
            return res.rowcount == 1

    def round_key(self, round_id: int) -> RoundKey:
        r = t.rounds.c
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(r.campaign, r.prober, r.target, r.workload,
                                         r.scenario, r.slot).where(r.id == round_id)).one()
        return RoundKey(*row)

    def last_slot(self, campaign: str, prober: str, target: str, workload: str,
                  scenario: str) -> datetime | None:
        r = t.rounds.c
        with self.engine.connect() as conn:
            value = conn.execute(sa.select(sa.func.max(r.slot)).where(
                r.campaign == campaign, r.prober == prober, r.target == target,
                r.workload == workload, r.scenario == scenario)).scalar()
        return value if isinstance(value, datetime) else None

    # -- reading ---------------------------------------------------------------------------
    def rounds(self, campaign: str | None = None) -> list[dict[str, Any]]:
        q = sa.select(t.rounds).order_by(t.rounds.c.slot, t.rounds.c.id)
        if campaign is not None:
            q = q.where(t.rounds.c.campaign == campaign)
        with self.engine.connect() as conn:
            return [dict(m) for m in conn.execute(q).mappings()]

    def requests(self, start: datetime | None = None, end: datetime | None = None,
                 campaign: str | None = None, columns: Sequence[str] | None = None,
                 **equal: str | None) -> list[dict[str, Any]]:
        """Stored requests with ``start <= sent_at < end`` (and column == value filters)."""
        c = t.requests.c
        cols = [c[name] for name in columns] if columns else list(c)
        q = sa.select(*cols)
        if start is not None:
            q = q.where(c.sent_at >= start)
        if end is not None:
            q = q.where(c.sent_at < end)
        if campaign is not None:
            q = q.where(c.campaign == campaign)
        for name, value in equal.items():
            if value is not None:
                q = q.where(c[name] == value)
        with self.engine.connect() as conn:
            return [dict(m) for m in conn.execute(q).mappings()]

    def campaigns(self) -> list[str]:
        with self.engine.connect() as conn:
            return [str(x) for x in conn.execute(
                sa.select(t.rounds.c.campaign).distinct().order_by(t.rounds.c.campaign)
            ).scalars()]


def open_store(db: str | Path, *, migrate_schema: bool = True) -> Store:
    """Connect to ``db`` (a SQLite path or a PostgreSQL URL) and migrate it."""
    url = database_url(db)
    if url.startswith("sqlite"):
        engine = sa.create_engine(url, connect_args={"timeout": 30})
        sa.event.listen(engine, "connect", _sqlite_pragmas)
    else:
        engine = sa.create_engine(url, pool_pre_ping=True, pool_size=8, max_overflow=8)
    try:
        if migrate_schema:
            with engine.begin() as conn:
                if engine.dialect.name == "postgresql":
                    conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})
                migrate(conn)
    except sa.exc.OperationalError as exc:
        engine.dispose()
        raise InputError(f"cannot open the monitoring store: {exc.orig}", [Problem(
            str(exc.orig), hint="check --db (a writable file, or a reachable PostgreSQL)")]
        ) from None
    return Store(engine)
