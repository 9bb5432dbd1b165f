"""deliveries: 'unconfirmed' and 'unknown' states, the chart's file id; the scheduler's heartbeat

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

NEW_STATES = "state IN ('claimed', 'posted', 'failed', 'skipped', 'unconfirmed', 'unknown')"
OLD_STATES = "state IN ('claimed', 'posted', 'failed', 'skipped')"


def upgrade() -> None:
    with op.batch_alter_table('deliveries') as batch:
        batch.drop_constraint(op.f('ck_deliveries_state'), type_='check')
        batch.alter_column('state', existing_type=sa.String(length=8), type_=sa.String(length=16),
                           existing_nullable=False)
        batch.add_column(sa.Column('chart_file_id', sa.String(length=64), nullable=True))
        batch.create_check_constraint('state', NEW_STATES)
    op.create_table('scheduler_heartbeats',
                    sa.Column('name', sa.String(length=64), nullable=False),
                    sa.Column('at', sa.DateTime(), nullable=False),
                    sa.PrimaryKeyConstraint('name', name=op.f('pk_scheduler_heartbeats')))


def downgrade() -> None:
    op.drop_table('scheduler_heartbeats')
    with op.batch_alter_table('deliveries') as batch:
        batch.drop_constraint(op.f('ck_deliveries_state'), type_='check')
        batch.drop_column('chart_file_id')
        batch.alter_column('state', existing_type=sa.String(length=16), type_=sa.String(length=8),
                           existing_nullable=False)
        batch.create_check_constraint('state', OLD_STATES)
