"""Drop the quick_replies table: nothing ever read or wrote it

Revision ID: 0007_drop_unused
Revises: 0006_search

The reply-template table was created with the first schema for a feature no issue asked for;
no code used it (issue 8 §5, dead code). It is dropped only when empty: a
database where someone put templates in by hand keeps them (and the table).
"""
import sqlalchemy as sa
from alembic import op

revision = "0007_drop_unused"
down_revision = "0006_search"
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    if not sa.inspect(bind).has_table("quick_replies"):
        return
    if bind.execute(sa.text("SELECT COUNT(*) FROM quick_replies")).scalar():
        return
    op.drop_table("quick_replies")


def downgrade() -> None:
    if sa.inspect(op.get_bind()).has_table("quick_replies"):
        return
    op.create_table(
        "quick_replies",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("title", sa.String(length=100), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
