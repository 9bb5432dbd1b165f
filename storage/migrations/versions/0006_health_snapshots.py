"""health snapshots: one row per account and day

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('health_snapshots',
    sa.Column('snapshot_date', sa.Date(), nullable=False),
    sa.Column('account_id', sa.String(length=128), nullable=False),
    sa.Column('score', sa.Float(), nullable=True),
    sa.Column('band', sa.String(length=8), nullable=True),
    sa.Column('engagement', sa.Float(), nullable=True),
    sa.Column('sentiment', sa.Float(), nullable=True),
    sa.Column('support', sa.Float(), nullable=True),
    sa.Column('revenue', sa.Float(), nullable=True),
    sa.Column('lifecycle', sa.Float(), nullable=True),
    sa.Column('rules', sa.String(length=255), nullable=False),
    sa.Column('source', sa.String(length=8), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.CheckConstraint("band IS NULL OR band IN ('green', 'yellow', 'red')", name=op.f('ck_health_snapshots_band')),
    sa.CheckConstraint("source IN ('daily', 'backfill')", name=op.f('ck_health_snapshots_source')),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.account_id'],
                            name=op.f('fk_health_snapshots_account_id_accounts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('snapshot_date', 'account_id', name=op.f('pk_health_snapshots'))
    )
    op.create_index('ix_health_snapshots_account', 'health_snapshots', ['account_id', 'snapshot_date'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_health_snapshots_account', table_name='health_snapshots')
    op.drop_table('health_snapshots')
