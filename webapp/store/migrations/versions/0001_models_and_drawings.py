"""Schema 1: shared models, and drawings (the store's first release, then versioned by hand as 1).

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "models",
        sa.Column("id", sa.String(43), primary_key=True),
        sa.Column("name", sa.String(80), nullable=False),
        sa.Column("npz", sa.LargeBinary, nullable=False),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("summary", sa.Text, nullable=False),
        sa.Column("test_accuracy", sa.Float),
        sa.Column("drawn_accuracy", sa.Float),
        sa.Column("published", sa.Boolean, nullable=False),
        sa.Column("class_code", sa.String(32)),
        sa.Column("owner", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("last_used_at", sa.DateTime, nullable=False),
    )
    op.create_index("models_published_class", "models", ["published", "class_code"])
    op.create_index("models_owner_created", "models", ["owner", "created_at"])
    op.create_index("models_last_used", "models", ["last_used_at"])
    op.create_table(
        "drawings",
        sa.Column("id", sa.String(43), primary_key=True),
        sa.Column("model_id", sa.String(43)),
        sa.Column("label", sa.SmallInteger),
        sa.Column("data", sa.LargeBinary, nullable=False),
        sa.Column("owner", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )
    op.create_index("drawings_owner_created", "drawings", ["owner", "created_at"])
    op.create_index("drawings_model", "drawings", ["model_id"])


def downgrade() -> None:
    op.drop_table("drawings")
    op.drop_table("models")
