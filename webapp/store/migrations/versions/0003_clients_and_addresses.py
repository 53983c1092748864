"""Schema 3: limits per client and per address; the unused drawings table and hand-kept versions go.

`owner` now holds a client's long-lived token (one browser), where it held a session's; rows
shared before keep theirs. `address` is the client's network address (an IPv6 one as its /64),
for the looser per-address limits; NULL on older rows.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ("models", "collections"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("address", sa.String(64)))
            batch.create_index(f"{table}_address_created", ["address", "created_at"])
    op.drop_table("drawings")
    op.execute("DROP TABLE IF EXISTS schema_version")  # the hand-written migrations' record (webapp.store.migrate)


def downgrade() -> None:
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
    for table in ("models", "collections"):
        with op.batch_alter_table(table) as batch:
            batch.drop_index(f"{table}_address_created")
            batch.drop_column("address")
