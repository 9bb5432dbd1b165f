"""personal risk subscriptions, Slack Connect opt-in, processed events, OAuth installation and state tables

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op
from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore
from slack_sdk.oauth.state_store.sqlalchemy import SQLAlchemyOAuthStateStore

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

OAUTH_TABLES = ("slack_installations", "slack_bots", "slack_oauth_states")


def _oauth_metadata() -> sa.MetaData:
    """The tables slack_sdk's SQLAlchemy stores use, as slack_sdk declares them (with their indexes)."""
    metadata = sa.MetaData()
    SQLAlchemyInstallationStore.build_installations_table(metadata, "slack_installations")
    SQLAlchemyInstallationStore.build_bots_table(metadata, "slack_bots")
    SQLAlchemyOAuthStateStore.build_oauth_states_table(metadata, "slack_oauth_states")
    return metadata


def upgrade() -> None:
    with op.batch_alter_table('subscriptions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('owner_id', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('external_ok', sa.Boolean(), nullable=False, server_default=sa.false()))

    op.create_table('processed_events',
    sa.Column('event_id', sa.String(length=64), nullable=False),
    sa.Column('team_id', sa.String(length=32), nullable=True),
    sa.Column('seen_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('event_id', name=op.f('pk_processed_events'))
    )
    with op.batch_alter_table('processed_events', schema=None) as batch_op:
        batch_op.create_index('ix_processed_events_seen', ['seen_at'], unique=False)

    _oauth_metadata().create_all(op.get_bind())


def downgrade() -> None:
    metadata = _oauth_metadata()
    for name in reversed(OAUTH_TABLES):
        metadata.tables[name].drop(op.get_bind())
    with op.batch_alter_table('processed_events', schema=None) as batch_op:
        batch_op.drop_index('ix_processed_events_seen')
    op.drop_table('processed_events')
    with op.batch_alter_table('subscriptions', schema=None) as batch_op:
        batch_op.drop_column('external_ok')
        batch_op.drop_column('owner_id')
