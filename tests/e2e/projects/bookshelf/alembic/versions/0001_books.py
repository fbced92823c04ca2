"""books

Revision ID: 0001
Revises:
"""
import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None


def upgrade() -> None:
    op.create_table(
        "book",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("title", sa.String(200), nullable=False),
    )
    op.bulk_insert(sa.table("book", sa.column("title", sa.String)), [{"title": "Dune"}])


def downgrade() -> None:
    op.drop_table("book")
