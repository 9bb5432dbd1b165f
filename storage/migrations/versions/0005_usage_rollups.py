"""usage rollups (usage_days, usage_feature_days, usage_user_months, usage_feature_user_months,
usage_periods), their
state and dirty slices, and the triggers that keep them marked

Revision ID: 0005
Revises: 0004

The rollups themselves are built by `csbot rebuild-rollups` / `csbot init-db` / the next import, or by the
first question on a small store (see storage/rollups.py): the reporting time zone is a setting the
migration does not know.
"""

import sqlalchemy as sa
from alembic import op

from storage.rollups import drop_triggers, install_triggers

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

_WITHOUT_ROWID = {"sqlite_with_rowid": False}


def upgrade() -> None:
    op.create_table(
        'usage_days',
        sa.Column('account_id', sa.String(length=128), nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('events', sa.Integer(), nullable=False),
        sa.Column('users', sa.Integer(), nullable=False),
        sa.Column('seconds', sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint('account_id', 'day', name=op.f('pk_usage_days')),
        **_WITHOUT_ROWID,
    )
    op.create_index('ix_usage_days_day', 'usage_days', ['day', 'account_id', 'events', 'users', 'seconds'])
    op.create_table(
        'usage_feature_days',
        sa.Column('account_id', sa.String(length=128), nullable=False),
        sa.Column('feature', sa.String(length=256), nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('events', sa.Integer(), nullable=False),
        sa.Column('users', sa.Integer(), nullable=False),
        sa.Column('seconds', sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint('account_id', 'feature', 'day', name=op.f('pk_usage_feature_days')),
        **_WITHOUT_ROWID,
    )
    op.create_index('ix_usage_feature_days_day', 'usage_feature_days',
                    ['feature', 'day', 'account_id', 'users', 'seconds'])
    op.create_table(
        'usage_user_months',
        sa.Column('account_id', sa.String(length=128), nullable=False),
        sa.Column('month', sa.Date(), nullable=False),
        sa.Column('user_id', sa.String(length=128), nullable=False),
        sa.Column('day_mask', sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint('account_id', 'user_id', 'month', name=op.f('pk_usage_user_months')),
        **_WITHOUT_ROWID,
    )
    op.create_index('ix_usage_user_months_month', 'usage_user_months',
                    ['month', 'account_id', 'user_id', 'day_mask'])
    op.create_table(
        'usage_feature_user_months',
        sa.Column('account_id', sa.String(length=128), nullable=False),
        sa.Column('feature', sa.String(length=256), nullable=False),
        sa.Column('month', sa.Date(), nullable=False),
        sa.Column('user_id', sa.String(length=128), nullable=False),
        sa.Column('day_mask', sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint('account_id', 'feature', 'user_id', 'month',
                                name=op.f('pk_usage_feature_user_months')),
        **_WITHOUT_ROWID,
    )
    op.create_index('ix_usage_feature_user_months_month', 'usage_feature_user_months',
                    ['feature', 'month', 'account_id', 'user_id', 'day_mask'])
    op.create_table(
        'usage_periods',
        sa.Column('kind', sa.String(length=8), nullable=False),
        sa.Column('start', sa.Date(), nullable=False),
        sa.Column('account_id', sa.String(length=128), nullable=False),
        sa.Column('events', sa.BigInteger(), nullable=False),
        sa.Column('user_days', sa.BigInteger(), nullable=False),
        sa.Column('seconds', sa.BigInteger(), nullable=False),
        sa.Column('users', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('kind', 'start', 'account_id', name=op.f('pk_usage_periods')),
        **_WITHOUT_ROWID,
    )
    op.create_index('ix_usage_periods_account', 'usage_periods', ['account_id', 'kind', 'start'])
    op.create_table(
        'rollup_state',
        sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('timezone', sa.String(length=64), nullable=False),
        sa.Column('token', sa.String(length=32), nullable=False),
        sa.Column('version', sa.BigInteger(), nullable=False),
        sa.Column('built_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_rollup_state')),
    )
    op.create_table(
        'rollup_dirty',
        sa.Column('account_id', sa.String(length=128), nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint('account_id', 'day', name=op.f('pk_rollup_dirty')),
        **_WITHOUT_ROWID,
    )
    install_triggers(op.get_bind())


def downgrade() -> None:
    drop_triggers(op.get_bind())
    for table in ('rollup_dirty', 'rollup_state', 'usage_periods', 'usage_feature_user_months', 'usage_user_months',
                  'usage_feature_days', 'usage_days'):
        op.drop_table(table)
