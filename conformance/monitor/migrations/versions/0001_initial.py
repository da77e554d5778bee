"""monitor store: rounds and requests

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    op.create_table(
        "monitor_rounds",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("campaign", sa.String(64), nullable=False),
        sa.Column("prober", sa.String(64), nullable=False),
        sa.Column("region", sa.String(64), nullable=False),
        sa.Column("target", sa.String(64), nullable=False),
        sa.Column("workload", sa.String(64), nullable=False),
        sa.Column("scenario", sa.String(64), nullable=False),
        sa.Column("slot", sa.DateTime(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("claimed_at", sa.DateTime(), nullable=False),
        sa.Column("finished_at", sa.DateTime()),
        sa.Column("n_requests", sa.Integer, nullable=False),
        sa.Column("detail", sa.String(500)),
        sa.UniqueConstraint("campaign", "prober", "target", "workload", "scenario", "slot",
                            name="uq_monitor_round"),
    )
    op.create_table(
        "monitor_requests",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("round_id", _ID, sa.ForeignKey("monitor_rounds.id"), nullable=False),
        sa.Column("request_uid", sa.String(64), nullable=False, unique=True),
        sa.Column("campaign", sa.String(64), nullable=False),
        sa.Column("prober", sa.String(64), nullable=False),
        sa.Column("region", sa.String(64), nullable=False),
        sa.Column("target", sa.String(64), nullable=False),
        sa.Column("workload", sa.String(64), nullable=False),
        sa.Column("scenario", sa.String(64), nullable=False),
        sa.Column("sent_at", sa.DateTime(), nullable=False),
        sa.Column("ttft_ms", sa.Float),
        sa.Column("e2e_ms", sa.Float),
        sa.Column("output_tps", sa.Float),
        sa.Column("http_status", sa.Integer),
        sa.Column("error_class", sa.String(32)),
        sa.Column("ok", sa.Boolean, nullable=False),
        sa.Column("prompt_tokens_reported", sa.Integer),
        sa.Column("prompt_tokens_audited", sa.Integer),
        sa.Column("completion_tokens_reported", sa.Integer),
        sa.Column("completion_tokens_audited", sa.Integer),
        sa.Column("cost", sa.Float),
        sa.Column("currency", sa.String(8)),
    )
    op.create_index("ix_monitor_requests_campaign_sent", "monitor_requests",
                    ["campaign", "sent_at"])
    op.create_index("ix_monitor_requests_target_sent", "monitor_requests", ["target", "sent_at"])


def downgrade() -> None:
    op.drop_table("monitor_requests")
    op.drop_table("monitor_rounds")
