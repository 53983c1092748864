"""The shared store: models (and kept drawings) shared by link, in SQL. No Streamlit here.

`Store(engine)` works over any SQLAlchemy Engine: an SQLite file by default (`default_url`), or
PostgreSQL (any URL in DIGIT_LAB_STORE_URL or `[connections.digit_lab]` in secrets.toml) that
several app replicas share. SQL goes only through SQLAlchemy Core with bound parameters.

Everything that arrives here is treated as hostile: ids, names and class codes are checked for
shape before any SQL; a model is stored only after `mlp.load_model` has checked it (never
unpickled), as its exact bytes, and checked again when read. Refusals are `StoreError`s whose
message can be shown to a visitor as is (never a path or a database detail); database failures
are logged under `digit_lab`.

Tables (schema version 2, see MIGRATIONS):
    schema_version  version (primary key), applied_at
    models          id, name, npz (the .npz bytes), size, summary (JSON text), test_accuracy,
                    drawn_accuracy (copies of the summary's, to sort by), published, class_code,
                    owner (an opaque per-session token), created_at, last_used_at (naive UTC)
    drawings        id, model_id, label, data (28*28 uint8 bytes), owner, created_at
    collections     id, owner, count, images (count*28*28 uint8 bytes), labels (count uint8 bytes),
                    size, created_at, updated_at, last_used_at: a user's teaching drawings kept
                    together under one id (version 2)
"""

import json
import logging
import math
import os
import re
import secrets
import threading
import unicodedata
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import sqlalchemy as sa

from data import DATASETS
from mlp import ModelFileError, load_model

from .settings import MAX_UPLOAD_MB
from .teaching import MAX_DRAWINGS

__all__ = [
    "MIGRATIONS",
    "Store",
    "StoreError",
    "StoreSettings",
    "default_url",
    "make_engine",
    "new_id",
    "store_url",
]

log = logging.getLogger("digit_lab")

STORE_FILE = "digit_lab.sqlite"
DEFAULT_DATA_DIR = Path(__file__).resolve().parent.parent / "data"
ID_BYTES = 18  # 144 random bits; token_urlsafe gives 24 characters
ID_RE = re.compile(r"[A-Za-z0-9_-]{22,43}")  # any token_urlsafe of 16-32 bytes
OWNER_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")
CLASS_CODE_RE = re.compile(r"[a-z0-9_-]{1,32}")  # after lowercasing
NAME_MAX = 80
MB = 1024 * 1024
DRAWING_SHAPE = (28, 28)
SORTS = ("test_accuracy", "drawn", "created", "name")
MAX_LIST = 1000
MAX_TRAINING_JSON = 8192  # a summary keeps a model's training settings only up to this size
# Characters that may not appear in a name: control characters, surrogates, unassigned code points
# and the bidirectional overrides that can make a leaderboard line read as something else.
_ALLOWED_FORMAT_CHARS = {"\u200c", "\u200d"}  # zero-width (non-)joiners, used inside emoji and scripts


class StoreError(ValueError):
    """A request the store refuses, or a store that cannot be reached; the message suits a visitor."""


# --- settings ---------------------------------------------------------------------------------------


def _env_number(name, default, low):
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{name} must be a number, got {raw!r}") from None
    if not math.isfinite(value) or value < low:
        raise ValueError(f"{name} must be at least {low}, got {raw!r}")
    return value


@dataclass(frozen=True)
class StoreSettings:
    """The store's limits; `from_env()` reads them from DIGIT_LAB_* variables."""

    max_model_bytes: int = MAX_UPLOAD_MB * MB  # one shared model file
    quota_bytes: int = 500 * MB  # all models together; least recently used ones make room
    shares_per_hour: int = 20  # models one owner may share in any hour
    drawings_per_hour: int = 600  # drawings one owner may keep in any hour
    collections_per_hour: int = 20  # new collections of drawings one owner may keep in any hour
    collections_quota_bytes: int = 100 * MB  # all collections together; least recently used ones make room

    @classmethod
    def from_env(cls):
        """DIGIT_LAB_STORE_MAX_MODEL_MB, DIGIT_LAB_STORE_QUOTA_MB, DIGIT_LAB_SHARES_PER_HOUR,
        DIGIT_LAB_DRAWINGS_PER_HOUR, DIGIT_LAB_COLLECTIONS_PER_HOUR, DIGIT_LAB_COLLECTIONS_QUOTA_MB,
        each defaulting to the class's value."""
        d = cls()
        return cls(
            max_model_bytes=int(_env_number("DIGIT_LAB_STORE_MAX_MODEL_MB", d.max_model_bytes / MB, 0.001) * MB),
            quota_bytes=int(_env_number("DIGIT_LAB_STORE_QUOTA_MB", d.quota_bytes / MB, 0.001) * MB),
            shares_per_hour=int(_env_number("DIGIT_LAB_SHARES_PER_HOUR", d.shares_per_hour, 0)),
            drawings_per_hour=int(_env_number("DIGIT_LAB_DRAWINGS_PER_HOUR", d.drawings_per_hour, 0)),
            collections_per_hour=int(_env_number("DIGIT_LAB_COLLECTIONS_PER_HOUR", d.collections_per_hour, 0)),
            collections_quota_bytes=int(_env_number("DIGIT_LAB_COLLECTIONS_QUOTA_MB",
                                                    d.collections_quota_bytes / MB, 0.001) * MB),
        )


def default_url(data_dir=None):
    """The SQLite URL of `digit_lab.sqlite` in `data_dir` (default: the project's data/), which is created."""
    folder = Path(data_dir) if data_dir is not None else DEFAULT_DATA_DIR
    folder.mkdir(parents=True, exist_ok=True)
    return sa.URL.create("sqlite", database=str((folder / STORE_FILE).resolve())).render_as_string()


def store_url(data_dir=None):
    """DIGIT_LAB_STORE_URL if set, else `default_url(data_dir)`."""
    return os.environ.get("DIGIT_LAB_STORE_URL", "").strip() or default_url(data_dir)


def make_engine(url, **kwargs):
    """An Engine for `url` fit for many sessions' threads (SQLite: any thread, a 10 s wait for locks)."""
    url = sa.make_url(url)
    if url.get_backend_name() == "sqlite":
        connect_args = {"check_same_thread": False, "timeout": 10, **kwargs.pop("connect_args", {})}
        if url.database and url.database != ":memory:":
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        kwargs["connect_args"] = connect_args
    return sa.create_engine(url, **kwargs)


def new_id():
    """An unguessable id: 144 random bits, URL-safe."""
    return secrets.token_urlsafe(ID_BYTES)


# --- schema -----------------------------------------------------------------------------------------


def _v1_tables(metadata):
    """Schema version 1's tables. Frozen: a later change is a new migration (and edits MODELS/DRAWINGS)."""
    models = sa.Table(
        "models", metadata,
        sa.Column("id", sa.String(43), primary_key=True),
        sa.Column("name", sa.String(NAME_MAX), nullable=False),
        sa.Column("npz", sa.LargeBinary, nullable=False),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("summary", sa.Text, nullable=False),
        sa.Column("test_accuracy", sa.Float),
        sa.Column("drawn_accuracy", sa.Float),
        sa.Column("published", sa.Boolean, nullable=False, default=False),
        sa.Column("class_code", sa.String(32)),
        sa.Column("owner", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("last_used_at", sa.DateTime, nullable=False),
        sa.Index("models_published_class", "published", "class_code"),
        sa.Index("models_owner_created", "owner", "created_at"),
        sa.Index("models_last_used", "last_used_at"),
    )
    drawings = sa.Table(
        "drawings", metadata,
        sa.Column("id", sa.String(43), primary_key=True),
        sa.Column("model_id", sa.String(43)),
        sa.Column("label", sa.SmallInteger),
        sa.Column("data", sa.LargeBinary, nullable=False),
        sa.Column("owner", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Index("drawings_owner_created", "owner", "created_at"),
        sa.Index("drawings_model", "model_id"),
    )
    return models, drawings


def _migrate_1(conn):
    """Version 1: the models and drawings tables."""
    metadata = sa.MetaData()
    _v1_tables(metadata)
    metadata.create_all(conn)


def _v2_tables(metadata):
    """Schema version 2's table. Frozen, like version 1's."""
    return sa.Table(
        "collections", metadata,
        sa.Column("id", sa.String(43), primary_key=True),
        sa.Column("owner", sa.String(64), nullable=False),
        sa.Column("count", sa.Integer, nullable=False),
        sa.Column("images", sa.LargeBinary, nullable=False),  # count*784 bytes, drawing after drawing
        sa.Column("labels", sa.LargeBinary, nullable=False),  # count bytes, one digit each
        sa.Column("size", sa.Integer, nullable=False),  # len(images) + len(labels), for the quota
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
        sa.Column("last_used_at", sa.DateTime, nullable=False),
        sa.Index("collections_owner_created", "owner", "created_at"),
        sa.Index("collections_last_used", "last_used_at"),
    )


def _migrate_2(conn):
    """Version 2: the collections table (a user's teaching drawings kept together, by private link)."""
    metadata = sa.MetaData()
    _v2_tables(metadata)
    metadata.create_all(conn)


#: Schema migrations in order; migration i (from 1) brings the schema to version i. Only ever append.
MIGRATIONS = (_migrate_1, _migrate_2)

_META = sa.MetaData()
SCHEMA_VERSION = sa.Table(
    "schema_version", _META,
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("applied_at", sa.DateTime, nullable=False),
)
MODELS, DRAWINGS = _v1_tables(_META)  # the current schema, which the queries below use
COLLECTIONS = _v2_tables(_META)

_PG_LOCK_KEY = 0x6469676974  # "digit": the advisory lock that serialises migrations and writes


def _least_recently_used(conn, table, extra, keep=None):
    """(ids, excess): the least recently used rows of `table` (never `keep`) whose removal brings the sum of
    its sizes plus `extra` down to 0 or below, and how far over it stays (> 0 when all of them are not enough).
    """
    excess = conn.scalar(sa.select(sa.func.coalesce(sa.func.sum(table.c.size), 0))) + extra
    if excess <= 0:
        return [], excess
    query = sa.select(table.c.id, table.c.size).order_by(table.c.last_used_at, table.c.created_at, table.c.id)
    if keep is not None:
        query = query.where(table.c.id != keep)
    evicted = []
    for row in conn.execute(query):
        if excess <= 0:
            break
        evicted.append(row.id)
        excess -= row.size
    return evicted, excess


def _utcnow():
    return datetime.now(timezone.utc).replace(tzinfo=None)


# --- checks (before any SQL) ------------------------------------------------------------------------


def valid_id(value):
    """True if `value` has the shape of a store id (what new_id makes)."""
    return isinstance(value, str) and len(value) <= 43 and ID_RE.fullmatch(value) is not None


def _check_owner(owner):
    if not (isinstance(owner, str) and len(owner) <= 64 and OWNER_RE.fullmatch(owner)):
        raise StoreError("this session cannot share (no valid session token)")
    return owner


def clean_name(name):
    """`name` stripped, or StoreError: 1-80 characters, no control or direction-changing characters."""
    if not isinstance(name, str):
        raise StoreError("a model name must be text")
    name = name.strip()
    if not name:
        raise StoreError("a model needs a name")
    if len(name) > NAME_MAX:
        raise StoreError(f"a model name may have at most {NAME_MAX} characters, this one has {len(name)}")
    if any(unicodedata.category(c)[0] == "C" and c not in _ALLOWED_FORMAT_CHARS for c in name):
        raise StoreError("a model name may not contain control or formatting characters")
    return name


def clean_class_code(code):
    """`code` lowercased, or None for None; StoreError unless 1-32 letters, digits, '-' or '_'."""
    if code is None:
        return None
    if isinstance(code, str) and len(code) <= 64 and code.isascii():  # ascii first: "\u212a".lower() == "k"
        lowered = code.strip().lower()
        if CLASS_CODE_RE.fullmatch(lowered):
            return lowered
    raise StoreError("a class code is 1 to 32 letters, digits, '-' or '_'")


def _finite_fraction(value):
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and 0 <= value <= 1:
        return float(value)
    return None


def summarize(model):
    """The summary a gallery shows of a loaded model, from its metadata (which may be hostile: checked)."""
    meta = model.meta
    history = meta.get("history") if isinstance(meta.get("history"), list) else []
    seconds = [r.get("seconds") for r in history if isinstance(r, dict)]
    seconds = [s for s in seconds if isinstance(s, (int, float)) and not isinstance(s, bool) and math.isfinite(s)]
    training = meta.get("training") if isinstance(meta.get("training"), dict) else None
    if training is not None and len(json.dumps(training, default=str)) > MAX_TRAINING_JSON:
        training = None
    drawn, dataset = meta.get("drawn_digits"), meta.get("dataset")
    return {
        "architecture": "-".join(str(n) for n in model.layer_sizes) + f" {model.activation}",
        "layer_sizes": list(model.layer_sizes),
        "activation": model.activation,
        "dropout": model.dropout,
        "parameters": int(sum(p.size for p, _, _ in model.parameters())),
        "dataset": dataset if isinstance(dataset, str) and dataset in DATASETS else None,
        "training": training,
        "epochs": len(history),
        "training_seconds": round(float(sum(s for s in seconds if s > 0)), 3),
        "test_accuracy": _finite_fraction(meta.get("test_accuracy")),
        "drawn_accuracy": _finite_fraction(drawn.get("accuracy")) if isinstance(drawn, dict) else None,
        "created": _iso_time(meta.get("created")),
    }


def _iso_time(value):
    """`value` as an ISO 8601 time if it is one (a model's own claim), else None."""
    if not isinstance(value, str) or len(value) > 40:
        return None
    try:
        return datetime.fromisoformat(value).isoformat(timespec="seconds")
    except ValueError:
        return None


def _check_drawing(image):
    a = np.asarray(image)
    if a.shape != DRAWING_SHAPE or a.dtype != np.uint8:
        raise StoreError(f"a drawing is a 28x28 uint8 image, got shape {a.shape} of {a.dtype}")
    return np.ascontiguousarray(a).tobytes()


def _check_collection(images, labels, cap):
    """(images bytes, labels bytes, count) of a checked collection, or StoreError naming what is wrong."""
    if not isinstance(images, np.ndarray) or images.dtype != np.uint8 or images.ndim != 3 \
            or images.shape[1:] != DRAWING_SHAPE:
        got = f"shape {images.shape} of {images.dtype}" if isinstance(images, np.ndarray) else type(images).__name__
        raise StoreError(f"kept drawings are an (n, 28, 28) uint8 array, got {got}")
    count = len(images)
    if count == 0:
        raise StoreError("there are no drawings to keep")
    if count > cap:
        raise StoreError(f"at most {cap} drawings are kept together, got {count}")
    if not isinstance(labels, np.ndarray) or labels.dtype.kind not in "iu" or labels.shape != (count,):
        got = f"shape {labels.shape} of {labels.dtype}" if isinstance(labels, np.ndarray) else type(labels).__name__
        raise StoreError(f"kept drawings need one integer label each ({count}), got {got}")
    wrong = labels[(labels < 0) | (labels > 9)]
    if wrong.size:
        raise StoreError(f"a drawing's label is a digit 0-9, got {int(wrong[0])}")
    return np.ascontiguousarray(images).tobytes(), labels.astype(np.uint8).tobytes(), count


def _check_label(label):
    if label is None:
        return None
    if isinstance(label, (int, np.integer)) and not isinstance(label, bool) and 0 <= int(label) <= 9:
        return int(label)
    raise StoreError("a drawing's label is a digit 0-9")


# --- the store --------------------------------------------------------------------------------------


class Store:
    """Shared models and drawings over a SQLAlchemy Engine; safe to share between threads (sessions).

    `settings` default to StoreSettings.from_env(); `clock` (naive UTC datetimes) is for tests.
    Call migrate() once before use.
    """

    def __init__(self, engine, *, settings=None, clock=_utcnow):
        self.engine = engine
        self.settings = settings if settings is not None else StoreSettings.from_env()
        self.clock = clock
        self.dialect = engine.dialect.name
        # One operation at a time in this process. CPython 3.11 can fail with "SystemError: AST
        # constructor recursion depth mismatch" when threads compile code at once, which SQLAlchemy
        # does lazily on first use of a statement (seen in CI: 8 sessions sharing at once on
        # PostgreSQL). Each operation takes milliseconds; the database orders writes anyway.
        self._lock = threading.RLock()

    def __repr__(self):
        return f"Store({self.dialect}, {self.settings})"

    # -- transactions --

    @contextmanager
    def _connect(self):
        """A connection, holding this process's store lock."""
        with self._lock, self.engine.connect() as conn:
            yield conn

    @contextmanager
    def _begin(self):
        """A connection in a transaction, holding this process's store lock."""
        with self._lock, self.engine.begin() as conn:
            yield conn

    @contextmanager
    def _write(self):
        """A transaction holding the store's write lock until it ends, so checks and writes are atomic.

        SQLite: BEGIN IMMEDIATE (pysqlite would otherwise begin only at the first INSERT, after the
        checks, and run DDL outside any transaction). PostgreSQL: a transaction-scoped advisory lock.
        """
        with self._connect() as conn:
            if self.dialect == "sqlite":
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            elif self.dialect == "postgresql":
                conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_PG_LOCK_KEY)))
            try:
                yield conn
                conn.commit()
            except BaseException:
                conn.rollback()
                raise

    @contextmanager
    def _unavailable_as_store_error(self, doing):
        try:
            yield
        except sa.exc.SQLAlchemyError:
            log.exception("store: %s failed", doing)
            raise StoreError("the shared store is not available right now; try again later") from None

    # -- schema --

    def schema_version(self):
        """The schema version the database is at (0: empty)."""
        with self._connect() as conn:
            if not sa.inspect(conn).has_table(SCHEMA_VERSION.name):
                return 0
            return conn.scalar(sa.select(sa.func.max(SCHEMA_VERSION.c.version))) or 0

    def migrate(self):
        """Apply the migrations the database lacks, in one transaction; the version reached.

        Idempotent, and safe when several processes start at once: the write lock serialises them,
        and a concurrent migration that still collides (a unique or existing-table error) is
        re-checked rather than raised.
        """
        if self.dialect == "sqlite" and self.engine.url.database not in (None, "", ":memory:"):
            try:  # persistent in the file: readers no longer wait for a writer
                with self._connect() as conn:
                    conn.exec_driver_sql("PRAGMA journal_mode=WAL")
            except sa.exc.OperationalError:
                log.warning("store: could not switch SQLite to WAL mode", exc_info=True)
        for attempt in range(3):
            try:
                return self._migrate_once()
            except (sa.exc.IntegrityError, sa.exc.ProgrammingError, sa.exc.OperationalError):
                if attempt == 2:
                    raise
                log.info("store: a concurrent migration collided; checking again", exc_info=True)
        return None  # unreachable

    def _migrate_once(self):
        with self._write() as conn:
            SCHEMA_VERSION.create(conn, checkfirst=True)
            current = conn.scalar(sa.select(sa.func.max(SCHEMA_VERSION.c.version))) or 0
            for version in range(current + 1, len(MIGRATIONS) + 1):
                MIGRATIONS[version - 1](conn)
                conn.execute(sa.insert(SCHEMA_VERSION).values(version=version, applied_at=self.clock()))
                log.info("store: schema migrated to version %d", version)
            return max(current, len(MIGRATIONS))

    # -- models --

    def put_model(self, model_bytes, *, name, owner, published=False, class_code=None):
        """Store a checked Digit Lab model file's exact bytes; its new id. StoreError if refused."""
        name, owner, class_code = clean_name(name), _check_owner(owner), clean_class_code(class_code)
        if not isinstance(model_bytes, (bytes, bytearray)):
            raise StoreError("a model is shared as the bytes of its .npz file")
        model_bytes, cap = bytes(model_bytes), self.settings.max_model_bytes
        if len(model_bytes) > cap:
            raise StoreError(f"the model file is {len(model_bytes) / MB:.1f} MB; shared models may be at most "
                             f"{cap / MB:.3g} MB")
        try:
            model = load_model(model_bytes, max_bytes=cap)
        except ModelFileError as e:
            raise StoreError(f"not a Digit Lab model file: {str(e).removeprefix('uploaded file: ')}") from None
        summary = summarize(model)
        size, now = len(model_bytes), self.clock()
        if size > self.settings.quota_bytes:
            raise StoreError("the model file is larger than this server's whole store")
        model_id = new_id()
        with self._unavailable_as_store_error("sharing a model"), self._write() as conn:
            recent = conn.scalar(sa.select(sa.func.count()).select_from(MODELS).where(
                MODELS.c.owner == owner, MODELS.c.created_at > now - timedelta(hours=1)))
            if recent >= self.settings.shares_per_hour:
                raise StoreError(f"this session has shared {recent} models in the last hour, the most allowed; "
                                 "try again later")
            self._make_room(conn, size)
            conn.execute(sa.insert(MODELS).values(
                id=model_id, name=name, npz=model_bytes, size=size, summary=json.dumps(summary),
                test_accuracy=summary["test_accuracy"], drawn_accuracy=summary["drawn_accuracy"],
                published=bool(published), class_code=class_code, owner=owner, created_at=now, last_used_at=now))
        log.info("store: model %s shared (%d bytes)", model_id, size)
        return model_id

    def _make_room(self, conn, size):
        """Delete least recently used models until `size` more bytes fit in the quota (under the write lock)."""
        evicted, excess = _least_recently_used(conn, MODELS, size - self.settings.quota_bytes)
        if excess > 0:  # cannot happen while size <= quota; kept for a quota lowered under a full store
            raise StoreError("the shared store is full; try again later")
        if not evicted:
            return
        for chunk in range(0, len(evicted), 500):
            ids = evicted[chunk:chunk + 500]
            conn.execute(sa.delete(MODELS).where(MODELS.c.id.in_(ids)))
            conn.execute(sa.update(DRAWINGS).where(DRAWINGS.c.model_id.in_(ids)).values(model_id=None))
        log.info("store: evicted %d least recently used models to stay within the quota", len(evicted))

    def get_model(self, model_id):
        """(MLP, summary row, the .npz bytes) for a stored id, or None: unknown, malformed, corrupt or no store.

        Never raises: a corrupt row or an unreachable database is logged. A hit marks the model used.
        """
        row = self._read_row(MODELS, model_id, "model")
        if row is None:
            return None
        data = bytes(row.npz)
        try:
            model = load_model(data)
            summary = self._row_summary(row)
        except Exception:  # noqa: BLE001 - a corrupt row is the operator's problem, not the visitor's
            log.exception("store: model %s is corrupt; ignored", model_id)
            return None
        self._mark_used(MODELS, model_id, "model")
        return model, summary, data

    def _read_row(self, table, row_id, what):
        """The row of `table` with id `row_id`, or None: a malformed or unknown id, or an unreachable store (logged)."""
        if not valid_id(row_id):
            return None
        try:
            with self._connect() as conn:
                return conn.execute(sa.select(table).where(table.c.id == row_id)).one_or_none()
        except sa.exc.SQLAlchemyError:
            log.exception("store: reading %s %s failed", what, row_id)
            return None

    def _mark_used(self, table, row_id, what):
        """Record that the row was just opened (the quota removes the least recently used first); never raises."""
        try:
            with self._begin() as conn:
                conn.execute(sa.update(table).where(table.c.id == row_id).values(last_used_at=self.clock()))
        except sa.exc.SQLAlchemyError:
            log.warning("store: could not mark %s %s used", what, row_id, exc_info=True)

    @staticmethod
    def _row_summary(row):
        summary = json.loads(row.summary)
        if not isinstance(summary, dict):
            raise ValueError("summary is not a JSON object")
        summary.update(id=row.id, name=row.name, class_code=row.class_code, published=bool(row.published),
                       size=row.size, shared=row.created_at.isoformat(timespec="seconds"))
        if summary.get("created") is None:
            summary["created"] = summary["shared"]
        return summary

    def publish(self, model_id, owner, published=True):
        """Show (or hide) an owner's model in the gallery; False if no such model of that owner."""
        if not valid_id(model_id) or not isinstance(owner, str) or not OWNER_RE.fullmatch(owner):
            return False
        with self._unavailable_as_store_error("publishing a model"), self._begin() as conn:
            done = conn.execute(sa.update(MODELS).where(MODELS.c.id == model_id, MODELS.c.owner == owner)
                                .values(published=bool(published)))
            return done.rowcount == 1

    def list_published(self, class_code=None, sort="test_accuracy", limit=200):
        """Summary rows of published models (of one class, if a code is given), best or newest first.

        sort: "test_accuracy" or "drawn" (highest first, unscored last), "created" (newest first) or
        "name" (A-Z). StoreError for a bad class code or sort, or an unreachable store.
        """
        code = clean_class_code(class_code)
        if sort not in SORTS:
            raise StoreError(f"cannot sort by {str(sort)[:40]!r}; choose one of {', '.join(SORTS)}")
        if not isinstance(limit, int) or isinstance(limit, bool):
            raise StoreError("the number of models to list must be a whole number")
        query = sa.select(*[c for c in MODELS.c if c.name != "npz"]).where(MODELS.c.published.is_(True))
        if code is not None:
            query = query.where(MODELS.c.class_code == code)
        column = {"test_accuracy": MODELS.c.test_accuracy, "drawn": MODELS.c.drawn_accuracy}.get(sort)
        if column is not None:
            order = [column.is_(None), column.desc(), MODELS.c.created_at.desc()]
        elif sort == "created":
            order = [MODELS.c.created_at.desc()]
        else:
            order = [sa.func.lower(MODELS.c.name), MODELS.c.created_at.desc()]
        query = query.order_by(*order, MODELS.c.id).limit(max(1, min(limit, MAX_LIST)))
        return self._summaries(query, "listing models")

    def leaderboard(self, class_code):
        """A class's published models, highest test accuracy first."""
        if class_code is None:
            raise StoreError("a leaderboard needs a class code")
        return self.list_published(class_code, sort="test_accuracy")

    def list_owned(self, owner, limit=200):
        """Summary rows of the models `owner` shared (published or not), newest first."""
        if not isinstance(owner, str) or not OWNER_RE.fullmatch(owner):
            return []
        query = (sa.select(*[c for c in MODELS.c if c.name != "npz"]).where(MODELS.c.owner == owner)
                 .order_by(MODELS.c.created_at.desc(), MODELS.c.id).limit(max(1, min(int(limit), MAX_LIST))))
        return self._summaries(query, "listing a session's models")

    def _summaries(self, query, doing):
        with self._unavailable_as_store_error(doing), self._connect() as conn:
            rows = conn.execute(query).all()
        summaries = []
        for row in rows:
            try:
                summaries.append(self._row_summary(row))
            except (ValueError, TypeError, AttributeError):
                log.exception("store: model %s has a corrupt summary; not listed", row.id)
        return summaries

    # -- drawings --

    def put_drawing(self, image, *, owner, label=None, model_id=None):
        """Keep a 28x28 uint8 drawing (with its digit and the model it taught, if given); its new id."""
        owner, data, label = _check_owner(owner), _check_drawing(image), _check_label(label)
        if model_id is not None and not valid_id(model_id):
            raise StoreError("that is not a shared model's id")
        drawing_id, now = new_id(), self.clock()
        with self._unavailable_as_store_error("keeping a drawing"), self._write() as conn:
            recent = conn.scalar(sa.select(sa.func.count()).select_from(DRAWINGS).where(
                DRAWINGS.c.owner == owner, DRAWINGS.c.created_at > now - timedelta(hours=1)))
            if recent >= self.settings.drawings_per_hour:
                raise StoreError(f"this session has kept {recent} drawings in the last hour, the most allowed")
            conn.execute(sa.insert(DRAWINGS).values(id=drawing_id, model_id=model_id, label=label, data=data,
                                                    owner=owner, created_at=now))
        return drawing_id

    def get_drawing(self, drawing_id):
        """{"id", "image" (28x28 uint8), "label", "model_id", "created"} or None (unknown, malformed, corrupt)."""
        row = self._read_row(DRAWINGS, drawing_id, "drawing")
        if row is None:
            return None
        data = bytes(row.data)
        if len(data) != math.prod(DRAWING_SHAPE):
            log.error("store: drawing %s is corrupt (%d bytes); ignored", drawing_id, len(data))
            return None
        image = np.frombuffer(data, dtype=np.uint8).reshape(DRAWING_SHAPE).copy()
        return {"id": row.id, "image": image, "label": row.label, "model_id": row.model_id,
                "created": row.created_at.isoformat(timespec="seconds")}

    # -- collections: a user's teaching drawings, kept together by private link --

    def put_collection(self, images, labels, *, owner, replace=None):
        """Keep labelled drawings together ((n, 28, 28) uint8, n integer labels 0-9, 1 <= n <= MAX_DRAWINGS); the id.

        `replace`: the id of a collection this owner kept before, whose contents are replaced in place (its
        link stays the same and shows the new drawings); a collection of another owner, or one no longer
        stored, is never touched: a new one is made. A new collection counts toward the owner's hourly
        allowance; the collections least recently used make room within their quota. StoreError if refused.
        """
        owner = _check_owner(owner)
        image_bytes, label_bytes, count = _check_collection(images, labels, MAX_DRAWINGS)
        if replace is not None and not valid_id(replace):
            raise StoreError("that is not a kept collection's id")
        size, now = len(image_bytes) + len(label_bytes), self.clock()
        with self._unavailable_as_store_error("keeping drawings"), self._write() as conn:
            if replace is not None:
                done = conn.execute(sa.update(COLLECTIONS).where(
                    COLLECTIONS.c.id == replace, COLLECTIONS.c.owner == owner).values(
                    count=count, images=image_bytes, labels=label_bytes, size=size, updated_at=now,
                    last_used_at=now))
                if done.rowcount == 1:
                    self._make_collection_room(conn, keep=replace)
                    return replace
            recent = conn.scalar(sa.select(sa.func.count()).select_from(COLLECTIONS).where(
                COLLECTIONS.c.owner == owner, COLLECTIONS.c.created_at > now - timedelta(hours=1)))
            if recent >= self.settings.collections_per_hour:
                raise StoreError(f"this session has kept {recent} sets of drawings in the last hour, the most "
                                 "allowed; try again later")
            collection_id = new_id()
            conn.execute(sa.insert(COLLECTIONS).values(
                id=collection_id, owner=owner, count=count, images=image_bytes, labels=label_bytes, size=size,
                created_at=now, updated_at=now, last_used_at=now))
            self._make_collection_room(conn, keep=collection_id)
        log.info("store: %d drawings kept as collection %s", count, collection_id)
        return collection_id

    def _make_collection_room(self, conn, keep):
        """Delete the least recently used collections (never `keep`) while all of them exceed their quota."""
        evicted, _ = _least_recently_used(conn, COLLECTIONS, -self.settings.collections_quota_bytes, keep=keep)
        for chunk in range(0, len(evicted), 500):
            conn.execute(sa.delete(COLLECTIONS).where(COLLECTIONS.c.id.in_(evicted[chunk:chunk + 500])))
        if evicted:  # none when the one kept is alone over a quota set below its size: it is kept anyway
            log.info("store: evicted %d least recently used collections to stay within their quota", len(evicted))

    def get_collection(self, collection_id):
        """(images (n, 28, 28) uint8, labels int64 (n,), created ISO time) of a kept collection, or None.

        None for an unknown, malformed or corrupt id or an unreachable store (logged); never raises.
        A hit marks the collection used, so the quota removes it last.
        """
        row = self._read_row(COLLECTIONS, collection_id, "collection")
        if row is None:
            return None
        images, labels, count = bytes(row.images), bytes(row.labels), row.count
        side = math.prod(DRAWING_SHAPE)
        if not (isinstance(count, int) and 1 <= count <= MAX_DRAWINGS and len(images) == count * side
                and len(labels) == count and max(labels) <= 9):
            log.error("store: collection %s is corrupt (%r drawings, %d image bytes, %d labels); ignored",
                      collection_id, count, len(images), len(labels))
            return None
        self._mark_used(COLLECTIONS, collection_id, "collection")
        return (np.frombuffer(images, np.uint8).reshape(count, *DRAWING_SHAPE).copy(),
                np.frombuffer(labels, np.uint8).astype(np.int64), row.created_at.isoformat(timespec="seconds"))
