"""Schema 2: collections, a user's teaching drawings kept together under one private link.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "collections",
        sa.Column("id", sa.String(43), primary_key=True),
        sa.Column("owner", sa.String(64), nullable=False),
        sa.Column("count", sa.Integer, nullable=False),
        sa.Column("images", sa.LargeBinary, nullable=False),  # count*784 bytes, drawing after drawing
        sa.Column("labels", sa.LargeBinary, nullable=False),  # count bytes, one digit each
        sa.Column("size", sa.Integer, nullable=False),  # len(images) + len(labels), for the quota
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
        sa.Column("last_used_at", sa.DateTime, nullable=False),
    )
    op.create_index("collections_owner_created", "collections", ["owner", "created_at"])
    op.create_index("collections_last_used", "collections", ["last_used_at"])


def downgrade() -> None:
    op.drop_table("collections")
