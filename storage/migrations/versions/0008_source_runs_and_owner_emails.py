"""source_runs (every sync of a source: when, how it ended, exactly-once key), owner_email on accounts,
slack_users_by_email (the cache of users.lookupByEmail)

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('source_runs',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('source', sa.String(length=64), nullable=False),
    sa.Column('run_key', sa.String(length=255), nullable=True),
    sa.Column('state', sa.String(length=8), nullable=False),
    sa.Column('started_at', sa.DateTime(), nullable=False),
    sa.Column('finished_at', sa.DateTime(), nullable=True),
    sa.Column('claimed_by', sa.String(length=128), nullable=True),
    sa.Column('rows', sa.Integer(), nullable=True),
    sa.Column('report', sa.Text(), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.CheckConstraint("state IN ('running', 'ok', 'failed')", name=op.f('ck_source_runs_state')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_source_runs')),
    sa.UniqueConstraint('run_key', name=op.f('uq_source_runs_run_key'))
    )
    op.create_index('ix_source_runs_source', 'source_runs', ['source', 'state', 'started_at'], unique=False)
    op.create_table('slack_users_by_email',
    sa.Column('email', sa.String(length=320), nullable=False),
    sa.Column('slack_user_id', sa.String(length=64), nullable=True),
    sa.Column('checked_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('email', name=op.f('pk_slack_users_by_email'))
    )
    with op.batch_alter_table('accounts') as batch:
        batch.add_column(sa.Column('owner_email', sa.String(length=320), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('accounts') as batch:
        batch.drop_column('owner_email')
    op.drop_table('slack_users_by_email')
    op.drop_index('ix_source_runs_source', table_name='source_runs')
    op.drop_table('source_runs')
