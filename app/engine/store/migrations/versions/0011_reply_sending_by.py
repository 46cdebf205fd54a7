"""replies.sending_by: the engine that is sending a reply, so another does not send it again

Revision ID: 0011_reply_sending_by
Revises: 0010_partial_reply_index

Two `hiscrm serve` processes on one PostgreSQL database: the one that starts took every
`sending` reply for a crash's leftover and queued it again, also the replies the other was
sending at that moment. The claim now names its engine instance (store/engine_liveness.py);
a reply is requeued only when that engine is gone. Rows from before have none: no engine
is sending them, so they are a crash's, as before.
"""
import sqlalchemy as sa
from alembic import op

revision = "0011_reply_sending_by"
down_revision = "0010_partial_reply_index"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("replies", sa.Column("sending_by", sa.String(length=36), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("replies") as batch:
        batch.drop_column("sending_by")
