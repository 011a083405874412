"""Drop ``sitewatch_meta``: a key/value table of sitewatch 0.1.0 that no version ever wrote or read.

A store's version is Alembic's ``alembic_version``; a 0.1.0 store is recognised by its ``scans`` table without
one. The downgrade creates the empty table again.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if sa.inspect(op.get_bind()).has_table("sitewatch_meta"):
        op.drop_table("sitewatch_meta")


def downgrade() -> None:
    op.create_table("sitewatch_meta", sa.Column("key", sa.String(40), primary_key=True),
                    sa.Column("value", sa.Text, nullable=False))
