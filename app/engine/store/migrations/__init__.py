"""Schema migrations (Alembic), configured in code so an installed wheel finds its scripts.

Revisions live in `versions/`, named `NNNN_<what>.py` with revision id `NNNN_<what>` and a
linear history (`0001_initial`, `0002_fts`, ...). `upgrade_to_head` refuses a database whose
revision this code does not know: it was written by a newer HisCRM, and migrating or using it
could damage data the newer version relies on.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

if TYPE_CHECKING:
    from ..db import Database

SCRIPT_LOCATION = Path(__file__).resolve().parent


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(SCRIPT_LOCATION))
    return config


def current_revisions(db: "Database") -> tuple[str, ...]:
    """The revisions recorded in the database (empty for a new database)."""
    with db.engine.connect() as connection:
        return tuple(MigrationContext.configure(connection).get_current_heads())


def upgrade_to_head(db: "Database") -> None:
    """Bring the schema up to date (blocking; the Database runs it on its writer thread)."""
    from ..db import DatabaseError

    config = alembic_config()
    script = ScriptDirectory.from_config(config)
    known = {rev.revision for rev in script.walk_revisions()}
    unknown = [rev for rev in current_revisions(db) if rev not in known]
    if unknown:
        raise DatabaseError(
            f"the database {db.redacted(db.url)} was created by a newer HisCRM version "
            f"(schema revision {', '.join(unknown)}); update HisCRM to open it"
        )
    with db.engine.connect() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
        connection.commit()
