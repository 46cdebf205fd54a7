"""Alembic's entry point: runs the migrations on the connection `upgrade_to_head` passes in."""
from alembic import context

from app.engine.store.models import Base

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=True,  # SQLite can only alter tables by copying them
)
with context.begin_transaction():
    context.run_migrations()
