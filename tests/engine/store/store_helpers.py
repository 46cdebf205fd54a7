"""Record builders, database peeks and migration steps shared by the store tests."""
from alembic import command
from sqlalchemy import select

from app.engine.im.types import TopicRef
from app.engine.store.db import Database
from app.engine.store.migrations import alembic_config
from app.engine.store.models import Account, Comment, Content, Conversation, DirectMessage

ACCOUNT = "acc-00000000-0000-4000-8000-000000000001"
T0 = 1_700_000_000  # 2023-11-14T22:13:20Z, in seconds


def comment(cid, content="v1", *, t=0, text=None, **extra):
    return dict(platform_comment_id=cid, platform_content_id=content, author_id=f"u-{cid}",
                author_name=f"fan {cid}", text=text or f"comment {cid}", created_at=T0 + t) | extra


def dm(mid, conversation="peer-1", *, t=0, text=None, **extra):
    return dict(platform_message_id=mid, platform_conversation_id=conversation,
                sender_id=conversation, sender_name=f"peer {conversation}",
                text=text or f"message {mid}", created_at=(T0 + t) * 1000) | extra


def content_ref(platform_id="v1"):
    return TopicRef(ACCOUNT, "content", platform_id)


def conversation_ref(platform_id="peer-1"):
    return TopicRef(ACCOUNT, "conversation", platform_id)


async def comments(db, **where):
    """{platform id: row} of the stored comments."""
    return await _rows(db, Comment, "platform_comment_id", where)


async def messages(db, **where):
    return await _rows(db, DirectMessage, "platform_message_id", where)


async def contents(db):
    return await _rows(db, Content, "platform_content_id", {})


async def conversations(db):
    return await _rows(db, Conversation, "platform_conversation_id", {})


async def channel(db, account_id=ACCOUNT):
    return await db.read(lambda s: s.get(Account, account_id))


async def _rows(db, model, key, where):
    def read(session):
        query = select(model).filter_by(**where)
        return {getattr(row, key): row for row in session.scalars(query)}

    return await db.read(read)


def migrate(db: Database, way: str, revision: str) -> None:
    """alembic `way` ("upgrade", "downgrade") to `revision` on the database's own connection."""
    config = alembic_config()
    with db.engine.connect() as connection:
        config.attributes["connection"] = connection
        getattr(command, way)(config, revision)
        connection.commit()
