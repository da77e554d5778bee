"""The monitoring store's tables (SQLAlchemy Core). Times are UTC, stored naive.

``rounds`` has one row per (campaign, prober, target, workload, scenario, slot): the unique
key is what keeps a restarted or doubled prober from running a round twice. A round's
requests are inserted in the same transaction that marks it done, so a crash leaves a
claimed round without requests (re-run on restart), never half a round.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    UniqueConstraint,
)

metadata = MetaData()

rounds = Table(
    "monitor_rounds", metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
           autoincrement=True),
    Column("campaign", String(64), nullable=False),
    Column("prober", String(64), nullable=False),
    Column("region", String(64), nullable=False, default=""),
    Column("target", String(64), nullable=False),
    Column("workload", String(64), nullable=False),
    Column("scenario", String(64), nullable=False),
    Column("slot", DateTime(), nullable=False),
    Column("status", String(16), nullable=False),  # running | done | unavailable | missed
    Column("claimed_at", DateTime(), nullable=False),
    Column("finished_at", DateTime()),
    Column("n_requests", Integer, nullable=False, default=0),
    Column("detail", String(500)),
    UniqueConstraint("campaign", "prober", "target", "workload", "scenario", "slot",
                     name="uq_monitor_round"),
)

requests = Table(
    "monitor_requests", metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
           autoincrement=True),
    Column("round_id", BigInteger().with_variant(Integer, "sqlite"),
           ForeignKey("monitor_rounds.id"), nullable=False),
    Column("request_uid", String(64), nullable=False, unique=True),
    Column("campaign", String(64), nullable=False),
    Column("prober", String(64), nullable=False),
    Column("region", String(64), nullable=False),
    Column("target", String(64), nullable=False),
    Column("workload", String(64), nullable=False),
    Column("scenario", String(64), nullable=False),
    Column("sent_at", DateTime(), nullable=False),
    Column("ttft_ms", Float),
    Column("e2e_ms", Float),
    Column("output_tps", Float),
    Column("http_status", Integer),
    Column("error_class", String(32)),
    Column("ok", Boolean, nullable=False),
    Column("prompt_tokens_reported", Integer),
    Column("prompt_tokens_audited", Integer),
    Column("completion_tokens_reported", Integer),
    Column("completion_tokens_audited", Integer),
    Column("cost", Float),  # at the declared price, of what the service reported (billed)
    Column("currency", String(8)),
    Index("ix_monitor_requests_campaign_sent", "campaign", "sent_at"),
    Index("ix_monitor_requests_target_sent", "target", "sent_at"),
)
