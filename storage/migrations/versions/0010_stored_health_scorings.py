"""stored health scorings and the accounts whose health inputs changed (with their triggers)

Revision ID: 0010
Revises: 0009

`account_changes` starts empty and `health_scorings` too: the first question after the upgrade scores every
account once and stores it; from then on only the accounts the triggers (storage/account_changes.py) record as
changed are scored again.
"""

import sqlalchemy as sa
from alembic import op

from storage.account_changes import drop_change_triggers, install_change_triggers

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'account_changes',
        sa.Column('account_id', sa.String(length=128), nullable=False),
        sa.Column('version', sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint('account_id', name=op.f('pk_account_changes')),
    )
    op.create_table(
        'health_scorings',
        sa.Column('settings', sa.String(length=40), nullable=False),
        sa.Column('as_of', sa.Date(), nullable=False),
        sa.Column('account_id', sa.String(length=128), nullable=False),
        sa.Column('token', sa.String(length=32), nullable=False),
        sa.Column('version', sa.BigInteger(), nullable=False),
        sa.Column('written_at', sa.DateTime(), nullable=False),
        sa.Column('body', sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint('settings', 'as_of', 'account_id', name=op.f('pk_health_scorings')),
    )
    install_change_triggers(op.get_bind())


def downgrade() -> None:
    drop_change_triggers(op.get_bind())
    op.drop_table('health_scorings')
    op.drop_table('account_changes')
