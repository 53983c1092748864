"""The store's tables as they are now (the queries use these; Alembic's migrations build them).

    models       id, name, npz (the model file's bytes), size (bytes held), summary (JSON text),
                 test_accuracy, drawn_accuracy (copies of the summary's, to sort by), published,
                 class_code, owner (the sharing client's token), address (the client's network
                 address, an IPv6 one as its /64), created_at, last_used_at (naive UTC)
    collections  id, owner, address, count, images (count*28*28 uint8 bytes), labels (count uint8
                 bytes), size, created_at, updated_at, last_used_at: a user's teaching drawings kept
                 together under one private id

A change here is a new migration in migrations/versions/ (`alembic -c webapp/store/alembic.ini
revision -m "..."`), written out in full there: migrations never import these tables, which go on changing.
"""

import sqlalchemy as sa

__all__ = ["COLLECTIONS", "HEAD", "METADATA", "MODELS", "NAME_MAX"]

#: The newest migration's revision: a database at this revision has exactly these tables.
HEAD = "0003"
NAME_MAX = 80

METADATA = sa.MetaData()

MODELS = sa.Table(
    "models", METADATA,
    sa.Column("id", sa.String(43), primary_key=True),
    sa.Column("name", sa.String(NAME_MAX), nullable=False),
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
    sa.Column("address", sa.String(64)),
    sa.Index("models_published_class", "published", "class_code"),
    sa.Index("models_owner_created", "owner", "created_at"),
    sa.Index("models_last_used", "last_used_at"),
    sa.Index("models_address_created", "address", "created_at"),
)

COLLECTIONS = sa.Table(
    "collections", METADATA,
    sa.Column("id", sa.String(43), primary_key=True),
    sa.Column("owner", sa.String(64), nullable=False),
    sa.Column("count", sa.Integer, nullable=False),
    sa.Column("images", sa.LargeBinary, nullable=False),
    sa.Column("labels", sa.LargeBinary, nullable=False),
    sa.Column("size", sa.Integer, nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("updated_at", sa.DateTime, nullable=False),
    sa.Column("last_used_at", sa.DateTime, nullable=False),
    sa.Column("address", sa.String(64)),
    sa.Index("collections_owner_created", "owner", "created_at"),
    sa.Index("collections_last_used", "last_used_at"),
    sa.Index("collections_address_created", "address", "created_at"),
)
