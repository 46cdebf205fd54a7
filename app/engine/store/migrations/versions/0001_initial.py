"""The initial schema: every table of models.py as of the first release.

Times are BIGINT milliseconds since the epoch (models.UtcMillis). The schema is written out
here rather than taken from the models, so later model changes need their own revision.

Revision ID: 0001_initial
Revises:
"""
import sqlalchemy as sa
from alembic import op

revision = "0001_initial"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('audit_log',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('at', sa.BigInteger(), nullable=False),
    sa.Column('actor', sa.String(length=64), nullable=True),
    sa.Column('action', sa.String(length=64), nullable=False),
    sa.Column('account_id', sa.String(length=64), nullable=True),
    sa.Column('detail', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_audit_log_at', 'audit_log', ['at'])

    op.create_table('proxies',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('server', sa.String(length=255), nullable=False),
    sa.Column('protocol', sa.String(length=10), nullable=False),
    sa.Column('username', sa.String(length=255), nullable=True),
    sa.Column('password_encrypted', sa.LargeBinary(), nullable=True),
    sa.Column('country', sa.String(length=64), nullable=True),
    sa.Column('city', sa.String(length=64), nullable=True),
    sa.Column('last_test_ok', sa.Boolean(), nullable=True),
    sa.Column('last_test_ms', sa.Integer(), nullable=True),
    sa.Column('last_test_error', sa.Text(), nullable=True),
    sa.Column('created_at', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('quick_replies',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('title', sa.String(length=100), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('created_at', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('settings',
    sa.Column('key', sa.String(length=100), nullable=False),
    sa.Column('value', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('key')
    )
    op.create_table('workers',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('host', sa.String(length=255), nullable=True),
    sa.Column('port', sa.Integer(), nullable=True),
    sa.Column('version', sa.String(length=32), nullable=True),
    sa.Column('capabilities', sa.JSON(), nullable=False),
    sa.Column('max_accounts', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('last_heartbeat_at', sa.BigInteger(), nullable=True),
    sa.Column('started_at', sa.BigInteger(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('accounts',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('platform', sa.String(length=32), nullable=False),
    sa.Column('display_name', sa.String(length=100), nullable=False),
    sa.Column('avatar_url', sa.Text(), nullable=True),
    sa.Column('platform_user_id', sa.String(length=128), nullable=True),
    sa.Column('platform_username', sa.String(length=128), nullable=True),
    sa.Column('user_info', sa.JSON(), nullable=False),
    sa.Column('login_status', sa.String(length=24), nullable=False),
    sa.Column('monitor_enabled', sa.Boolean(), nullable=False),
    sa.Column('proxy_id', sa.Integer(), nullable=True),
    sa.Column('fingerprint', sa.JSON(), nullable=False),
    sa.Column('storage_state_encrypted', sa.LargeBinary(), nullable=True),
    sa.Column('worker_id', sa.String(length=64), nullable=True),
    sa.Column('monitor_interval_s', sa.Integer(), nullable=True),
    sa.Column('last_crawl_at', sa.BigInteger(), nullable=True),
    sa.Column('last_login_at', sa.BigInteger(), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('message_count', sa.Integer(), nullable=False),
    sa.Column('unread_count', sa.Integer(), nullable=False),
    sa.Column('last_message_at', sa.BigInteger(), nullable=True),
    sa.Column('last_message_preview', sa.Text(), nullable=True),
    sa.Column('created_at', sa.BigInteger(), nullable=False),
    sa.Column('updated_at', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['proxy_id'], ['proxies.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_accounts_platform', 'accounts', ['platform'])

    op.create_table('comments',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('account_id', sa.String(length=64), nullable=False),
    sa.Column('platform_comment_id', sa.String(length=128), nullable=False),
    sa.Column('platform_content_id', sa.String(length=128), nullable=False),
    sa.Column('parent_platform_comment_id', sa.String(length=128), nullable=True),
    sa.Column('author_id', sa.String(length=128), nullable=True),
    sa.Column('author_name', sa.String(length=128), nullable=True),
    sa.Column('author_avatar', sa.Text(), nullable=True),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('created_at', sa.BigInteger(), nullable=False),
    sa.Column('detected_at', sa.BigInteger(), nullable=False),
    sa.Column('direction', sa.String(length=3), nullable=False),
    sa.Column('is_read', sa.Boolean(), nullable=False),
    sa.Column('like_count', sa.Integer(), nullable=False),
    sa.Column('reply_id', sa.String(length=36), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('account_id', 'platform_comment_id', name='uq_comments_key')
    )
    op.create_index('ix_comments_reply_id', 'comments', ['reply_id'])
    op.create_index('ix_comments_topic_time', 'comments', ['account_id', 'platform_content_id', 'created_at', 'id'])
    op.create_index('ix_comments_unread', 'comments', ['account_id', 'platform_content_id', 'is_read', 'direction'])

    op.create_table('contents',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('account_id', sa.String(length=64), nullable=False),
    sa.Column('platform_content_id', sa.String(length=128), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('title', sa.Text(), nullable=True),
    sa.Column('cover_url', sa.Text(), nullable=True),
    sa.Column('url', sa.Text(), nullable=True),
    sa.Column('publish_at', sa.BigInteger(), nullable=True),
    sa.Column('stats', sa.JSON(), nullable=False),
    sa.Column('first_seen_at', sa.BigInteger(), nullable=False),
    sa.Column('updated_at', sa.BigInteger(), nullable=False),
    sa.Column('message_count', sa.Integer(), nullable=False),
    sa.Column('unread_count', sa.Integer(), nullable=False),
    sa.Column('last_message_at', sa.BigInteger(), nullable=True),
    sa.Column('last_message_preview', sa.Text(), nullable=True),
    sa.Column('last_message_from', sa.String(length=128), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('account_id', 'platform_content_id', name='uq_contents_key')
    )
    op.create_index('ix_contents_activity', 'contents', ['account_id', 'last_message_at'])

    op.create_table('conversations',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('account_id', sa.String(length=64), nullable=False),
    sa.Column('platform_conversation_id', sa.String(length=128), nullable=False),
    sa.Column('peer_id', sa.String(length=128), nullable=True),
    sa.Column('peer_name', sa.String(length=128), nullable=True),
    sa.Column('peer_avatar', sa.Text(), nullable=True),
    sa.Column('first_seen_at', sa.BigInteger(), nullable=False),
    sa.Column('updated_at', sa.BigInteger(), nullable=False),
    sa.Column('message_count', sa.Integer(), nullable=False),
    sa.Column('unread_count', sa.Integer(), nullable=False),
    sa.Column('last_message_at', sa.BigInteger(), nullable=True),
    sa.Column('last_message_preview', sa.Text(), nullable=True),
    sa.Column('last_message_from', sa.String(length=128), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('account_id', 'platform_conversation_id', name='uq_conversations_key')
    )
    op.create_index('ix_conversations_activity', 'conversations', ['account_id', 'last_message_at'])

    op.create_table('direct_messages',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('account_id', sa.String(length=64), nullable=False),
    sa.Column('platform_message_id', sa.String(length=128), nullable=False),
    sa.Column('platform_conversation_id', sa.String(length=128), nullable=False),
    sa.Column('sender_id', sa.String(length=128), nullable=True),
    sa.Column('sender_name', sa.String(length=128), nullable=True),
    sa.Column('sender_avatar', sa.Text(), nullable=True),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('message_type', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.BigInteger(), nullable=False),
    sa.Column('detected_at', sa.BigInteger(), nullable=False),
    sa.Column('direction', sa.String(length=3), nullable=False),
    sa.Column('is_read', sa.Boolean(), nullable=False),
    sa.Column('is_recalled', sa.Boolean(), nullable=False),
    sa.Column('reply_id', sa.String(length=36), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('account_id', 'platform_message_id', name='uq_direct_messages_key')
    )
    op.create_index('ix_direct_messages_reply_id', 'direct_messages', ['reply_id'])
    op.create_index('ix_dms_topic_time', 'direct_messages', ['account_id', 'platform_conversation_id', 'created_at', 'id'])
    op.create_index('ix_dms_unread', 'direct_messages', ['account_id', 'platform_conversation_id', 'is_read', 'direction'])

    op.create_table('replies',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('request_id', sa.String(length=128), nullable=True),
    sa.Column('account_id', sa.String(length=64), nullable=False),
    sa.Column('target_type', sa.String(length=16), nullable=False),
    sa.Column('topic_platform_id', sa.String(length=128), nullable=False),
    sa.Column('target_platform_id', sa.String(length=128), nullable=True),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.BigInteger(), nullable=True),
    sa.Column('platform_reply_id', sa.String(length=128), nullable=True),
    sa.Column('error_code', sa.String(length=64), nullable=True),
    sa.Column('error_message', sa.Text(), nullable=True),
    sa.Column('operator', sa.String(length=64), nullable=True),
    sa.Column('created_at', sa.BigInteger(), nullable=False),
    sa.Column('updated_at', sa.BigInteger(), nullable=False),
    sa.Column('sent_at', sa.BigInteger(), nullable=True),
    sa.Column('confirmed_at', sa.BigInteger(), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('request_id')
    )
    op.create_index('ix_replies_platform_id', 'replies', ['account_id', 'platform_reply_id'])
    op.create_index('ix_replies_status', 'replies', ['status'])


def downgrade() -> None:
    for table in (
        "replies", "direct_messages", "conversations", "contents", "comments", "accounts",
        "workers", "settings", "quick_replies", "proxies", "audit_log",
    ):
        op.drop_table(table)
