"""The shared store: models shared by link (and published to the gallery) and drawings kept by private
link, in SQL that every replica of the server can reach. No Streamlit here.

    engine = create_engine(store_url())         # engine.py: the one way, for the server and the tests
    store = Store(engine); store.migrate()      # core.py; migrate.py runs Alembic (migrations/)
    model_id = store.put_model(npz_bytes, name="My model 1", owner=client_token, address="203.0.113.7")

    schema.py    the tables as they are now        checks.py   what is checked before any SQL
    summary.py   what the gallery shows of a model __main__.py the operators' command (moderation)
"""

from webapp.store.checks import (
    DRAWING_SHAPE,
    StoreError,
    StoreUnavailable,
    clean_class_code,
    clean_name,
    new_id,
    valid_id,
)
from webapp.store.core import SORTS, Store
from webapp.store.engine import create_engine, default_url, store_url
from webapp.store.schema import COLLECTIONS, HEAD, MODELS
from webapp.store.summary import summarize

__all__ = ["COLLECTIONS", "DRAWING_SHAPE", "HEAD", "MODELS", "SORTS", "Store", "StoreError", "StoreUnavailable",
           "clean_class_code", "clean_name", "create_engine", "default_url", "new_id", "store_url", "summarize",
           "valid_id"]
