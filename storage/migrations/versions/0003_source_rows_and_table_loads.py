"""source_rows (row provenance per source) and table_loads (freshness per table and source)

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('source_rows',
    sa.Column('source', sa.String(length=64), nullable=False),
    sa.Column('table_name', sa.String(length=32), nullable=False),
    sa.Column('row_key', sa.String(length=512), nullable=False),
    sa.PrimaryKeyConstraint('source', 'table_name', 'row_key', name=op.f('pk_source_rows'))
    )
    op.create_table('table_loads',
    sa.Column('table_name', sa.String(length=32), nullable=False),
    sa.Column('source', sa.String(length=64), nullable=False),
    sa.Column('loaded_at', sa.DateTime(), nullable=False),
    sa.Column('rows', sa.Integer(), nullable=False),
    sa.Column('detail', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('table_name', 'source', name=op.f('pk_table_loads'))
    )
    # every table already filled by an import counts as loaded by `import` at its last import
    op.execute(
        "INSERT INTO table_loads (table_name, source, loaded_at, rows, detail) "
        "SELECT r.kind, 'import', r.imported_at, r.rows, r.source FROM import_runs r "
        "WHERE r.id = (SELECT MAX(r2.id) FROM import_runs r2 WHERE r2.kind = r.kind)"
    )


def downgrade() -> None:
    op.drop_table('table_loads')
    op.drop_table('source_rows')
