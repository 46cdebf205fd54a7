"""Aliases: a stored record's ids in the platform's other id systems

Revision ID: 0005_record_aliases
Revises: 0004_platform_state

Douyin names one comment by an encrypted `@j…` id in one API and a numeric `cid` in
another, and a work by a numeric id and an encrypted `item_id`. Each alias row maps such an
id to the key of the row it belongs to, so the two forms update one row (merge.py).
"""
import sqlalchemy as sa
from alembic import op

revision = "0005_record_aliases"
down_revision = "0004_platform_state"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "record_aliases",
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("alias", sa.String(length=128), nullable=False),
        sa.Column("platform_id", sa.String(length=128), nullable=False),
        sa.Column("system", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("account_id", "kind", "alias"),
    )


def downgrade() -> None:
    op.drop_table("record_aliases")
