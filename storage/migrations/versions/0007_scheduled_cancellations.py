"""scheduled_cancellations (Stripe subscriptions set to cancel, kept by the Stripe sync)

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('scheduled_cancellations',
    sa.Column('source', sa.String(length=64), nullable=False),
    sa.Column('subscription_id', sa.String(length=128), nullable=False),
    sa.Column('account_id', sa.String(length=128), nullable=False),
    sa.Column('cancel_on', sa.Date(), nullable=False),
    sa.Column('mrr', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.account_id'], name=op.f('fk_scheduled_cancellations_account_id_accounts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('source', 'subscription_id', name=op.f('pk_scheduled_cancellations'))
    )
    op.create_index('ix_scheduled_cancellations_account', 'scheduled_cancellations', ['account_id', 'cancel_on'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_scheduled_cancellations_account', table_name='scheduled_cancellations')
    op.drop_table('scheduled_cancellations')
