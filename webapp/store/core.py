"""The Store: models shared by link and drawings kept by private link, over any SQLAlchemy Engine. No Streamlit.

SQL goes only through SQLAlchemy Core with bound parameters. A model is stored only after
`mlp.load_model` has checked it (never unpickled, within the server's per-model limit), as its
exact bytes, and checked again when read.

Whose rows are whose: `owner` is the client (one browser's long-lived token) that shared a row,
`address` its network address. Limits hold per client (tight) and per address (looser: a class
often shares one address); the bytes counted are the bytes stored. When the store is full, only
unpublished rows nobody has opened for `store_keep_days` may make room: what someone published,
or a link opened recently, is never removed for someone else's share. Operators moderate with
`python -m webapp.store` (webapp/store/__main__.py).
"""

import json
import logging
import math
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from typing import Any

import numpy as np
import sqlalchemy as sa
from numpy.typing import NDArray

from mlp import MLP, ModelFileError, load_model
from webapp.settings import MAX_DRAWINGS, MB, MODEL_SHAPE, Settings, current
from webapp.store import migrate
from webapp.store.checks import (
    DRAWING_SHAPE,
    StoreError,
    StoreUnavailable,
    check_address,
    check_collection,
    check_owner,
    clean_class_code,
    clean_name,
    new_id,
    valid_id,
)
from webapp.store.schema import COLLECTIONS, MODELS
from webapp.store.summary import summarize

__all__ = ["SORTS", "Store"]

log = logging.getLogger("digit_lab")

SORTS = ("test_accuracy", "drawn", "created", "name")
MAX_LIST = 1000
MAX_FILE_OVERHEAD = 5 * MB  # a model file's bytes beyond its weights: metadata (at most 4 MiB) and zip headers
LISTED = [c for c in MODELS.c if c.name != "npz"]  # what a listing reads: never the model files


def _utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def _megabytes(n: float) -> str:
    return f"{n / MB:.1f} MB"


class Store:
    """Shared models and kept drawings; safe to share between threads (sessions).

    `settings` default to webapp.settings.current(); `clock` (naive UTC datetimes) is for tests.
    Call migrate() once before use.
    """

    def __init__(self, engine: sa.Engine, *, settings: Settings | None = None,
                 clock: Callable[[], datetime] = _utcnow) -> None:
        self.engine = engine
        self.settings = settings if settings is not None else current()
        self.clock = clock
        self.dialect = engine.dialect.name
        # One operation at a time in this process. CPython 3.11 can fail with "SystemError: AST
        # constructor recursion depth mismatch" when threads compile code at once, which SQLAlchemy
        # does lazily on first use of a statement (seen in CI: 8 sessions sharing at once on
        # PostgreSQL). Each operation takes milliseconds; the database orders writes anyway.
        self._lock = threading.RLock()

    def __repr__(self) -> str:
        return f"Store({self.dialect})"

    # -- transactions --

    @contextmanager
    def _connect(self) -> Iterator[sa.Connection]:
        """A connection, holding this process's store lock."""
        with self._lock, self.engine.connect() as conn:
            yield conn

    @contextmanager
    def _begin(self) -> Iterator[sa.Connection]:
        """A connection in a transaction, holding this process's store lock."""
        with self._lock, self.engine.begin() as conn:
            yield conn

    @contextmanager
    def _write(self) -> Iterator[sa.Connection]:
        """A transaction holding the store's write lock until it ends, so checks and writes are atomic."""
        with self._connect() as conn, migrate.write_lock(conn):
            yield conn

    @contextmanager
    def _unavailable(self, doing: str) -> Iterator[None]:
        """Database failures become StoreUnavailable (logged with the detail, which visitors never see)."""
        try:
            yield
        except sa.exc.SQLAlchemyError:
            log.exception("store: %s failed", doing)
            raise StoreUnavailable("the shared store is not available right now; try again later") from None

    # -- schema --

    def migrate(self) -> str:
        """Bring the database to the current schema (webapp.store.migrate); the revision reached."""
        if self.dialect == "sqlite" and self.engine.url.database not in (None, "", ":memory:"):
            try:  # persistent in the file: readers no longer wait for a writer
                with self._connect() as conn:
                    conn.exec_driver_sql("PRAGMA journal_mode=WAL")
            except sa.exc.OperationalError:
                log.warning("store: could not switch SQLite to WAL mode", exc_info=True)
        with self._lock:
            return migrate.upgrade(self.engine)

    # -- limits --

    def _check_rate(self, conn: sa.Connection, table: sa.Table, owner: str, address: str | None, what: str) -> None:
        """StoreError if `owner` (or its address) made as many rows of `table` in the last hour as allowed."""
        s, since = self.settings, self.clock() - timedelta(hours=1)
        per_client, per_address = ((s.shares_per_hour, s.address_shares_per_hour) if table is MODELS
                                   else (s.collections_per_hour, s.address_collections_per_hour))
        recent = conn.execute(sa.select(sa.func.count()).select_from(table).where(
            table.c.owner == owner, table.c.created_at > since)).scalar_one()
        if recent >= per_client:
            raise StoreError(f"this browser has {what} {recent} times in the last hour, the most allowed; "
                             "try again later")
        if address is not None:
            recent = conn.execute(sa.select(sa.func.count()).select_from(table).where(
                table.c.address == address, table.c.created_at > since)).scalar_one()
            if recent >= per_address:
                raise StoreError(f"this network has {what} {recent} times in the last hour, the most this server "
                                 "allows one network; try again later")

    def _held(self, conn: sa.Connection, column: str, value: str) -> int:
        """Bytes the store holds for the rows whose `column` ("owner" or "address") is `value`, in both tables."""
        return sum(conn.execute(sa.select(sa.func.coalesce(sa.func.sum(t.c.size), 0)).where(t.c[column] == value))
                   .scalar_one() for t in (MODELS, COLLECTIONS))

    def _check_held(self, conn: sa.Connection, owner: str, address: str | None, size: int,
                    replacing: int = 0) -> None:
        """StoreError if `size` more bytes (less `replacing`) would take the client or its address over its share."""
        s = self.settings
        held = self._held(conn, "owner", owner) - replacing
        if held + size > s.bytes("client_store_mb"):
            raise StoreError(f"what this browser keeps on the server would come to {_megabytes(held + size)}, over "
                             f"the {_megabytes(s.bytes('client_store_mb'))} one browser may keep")
        if address is not None:
            held = self._held(conn, "address", address) - replacing
            if held + size > s.bytes("address_store_mb"):
                raise StoreError(f"what this network keeps on the server would come to {_megabytes(held + size)}, "
                                 f"over the {_megabytes(s.bytes('address_store_mb'))} one network may keep")

    def _forget_addresses(self, conn: sa.Connection) -> None:
        """Rows older than store_keep_days forget the address they were shared from (kept only for the limits;
        such rows then count for their browser's limit alone)."""
        cutoff = self.clock() - timedelta(days=self.settings.store_keep_days)
        for table in (MODELS, COLLECTIONS):
            conn.execute(sa.update(table).where(table.c.created_at < cutoff, table.c.address.is_not(None))
                         .values(address=None))

    def _make_room(self, conn: sa.Connection, table: sa.Table, size: int, quota: int, keep: str | None = None) -> None:
        """Make `size` more bytes fit in `table`'s quota by removing stale rows, or StoreError ("full").

        Stale: not opened for store_keep_days and, for models, not published, the least recently used
        first. Nothing else is ever removed to make room.
        """
        total = conn.execute(sa.select(sa.func.coalesce(sa.func.sum(table.c.size), 0))).scalar_one()
        excess = total + size - quota
        if excess <= 0:
            return
        stale = table.c.last_used_at < self.clock() - timedelta(days=self.settings.store_keep_days)
        query = sa.select(table.c.id, table.c.size).where(stale)
        if table is MODELS:
            query = query.where(MODELS.c.published.is_(False))
        if keep is not None:
            query = query.where(table.c.id != keep)
        removed = []
        for row in conn.execute(query.order_by(table.c.last_used_at, table.c.created_at, table.c.id)):
            if excess <= 0:
                break
            removed.append(row.id)
            excess -= row.size
        if excess > 0:
            log.warning("store: %s is full (%d bytes held of %d); a share of %d bytes was refused: nothing was "
                        "stale enough to remove (python -m webapp.store usage)", table.name, total, quota, size)
            days = f"{self.settings.store_keep_days:g}"
            raise StoreError(f"this server's store is full: it keeps everything published and everything opened in "
                             f"the last {days} days, so nothing could make room. Download instead, or ask whoever "
                             "runs this server to remove old items")
        for chunk in range(0, len(removed), 500):
            conn.execute(sa.delete(table).where(table.c.id.in_(removed[chunk:chunk + 500])))
        log.info("store: removed %d %s unopened for %s days to make room", len(removed), table.name,
                 self.settings.store_keep_days)

    # -- models --

    def put_model(self, model_bytes: bytes | bytearray, *, name: str, owner: str, address: str | None = None,
                  published: bool = False, class_code: str | None = None,
                  scores: Mapping[str, float | None] | None = None) -> str:
        """Store a checked Digit Lab model file's exact bytes; its new id. StoreError if refused.

        `scores` ({"test_accuracy": ..., "drawn_accuracy": ...}, fractions or None), measured by the
        caller, replace the file's own claims in the summary a gallery ranks by.
        """
        name, owner = clean_name(name), check_owner(owner)
        address, class_code = check_address(address), clean_class_code(class_code)
        if not isinstance(model_bytes, (bytes, bytearray)):
            raise StoreError("a model is shared as the bytes of its .npz file")
        model_bytes, limit = bytes(model_bytes), self.settings.bytes("max_model_mb")
        try:
            model = load_model(model_bytes, max_bytes=limit + MAX_FILE_OVERHEAD, max_loaded_bytes=limit,
                               shape=MODEL_SHAPE)
        except ModelFileError as e:
            raise StoreError(f"not a Digit Lab model file: {str(e).removeprefix('uploaded file: ')}") from None
        scores = summarize(model, measured=scores)
        summary = json.dumps(scores)
        del model
        size, now = len(model_bytes) + len(summary.encode()) + len(name.encode()), self.clock()
        with self._unavailable("sharing a model"), self._write() as conn:
            self._forget_addresses(conn)
            self._check_rate(conn, MODELS, owner, address, "shared a model")
            self._check_held(conn, owner, address, size)
            self._make_room(conn, MODELS, size, self.settings.bytes("store_quota_mb"))
            model_id = new_id()
            conn.execute(sa.insert(MODELS).values(
                id=model_id, name=name, npz=model_bytes, size=size, summary=summary,
                test_accuracy=scores["test_accuracy"], drawn_accuracy=scores["drawn_accuracy"],
                published=bool(published), class_code=class_code, owner=owner, address=address, created_at=now,
                last_used_at=now))
        log.info("store: model %s shared (%d bytes)", model_id, size)
        return model_id

    def get_model(self, model_id: str, opener: str | None = None) -> tuple[MLP, dict[str, Any], bytes] | None:
        """(MLP, summary row, the .npz bytes) for a stored id, or None for a malformed or unknown id.

        StoreUnavailable when the database cannot be read; StoreError when the row is damaged (logged).
        A hit marks the model used, unless `opener` (a client token) is its owner: a model is kept for
        being opened by others, not by whoever shared it.
        """
        row = self._read_row(MODELS, model_id, "model")
        if row is None:
            return None
        data = bytes(row.npz)
        try:
            model = load_model(data, max_loaded_bytes=self.settings.bytes("max_model_mb"), shape=MODEL_SHAPE)
            summary = self._row_summary(row)
        except Exception:  # noqa: BLE001 - a damaged row is the operator's problem, not the visitor's
            log.exception("store: model %s is damaged; not opened", model_id)
            raise StoreError("the model behind this link is damaged on the server and cannot be opened") from None
        if opener is None or opener != row.owner:
            self._mark_used(MODELS, model_id, "model")
        return model, summary, data

    def _read_row(self, table: sa.Table, row_id: str, what: str) -> sa.Row[Any] | None:
        """The row of `table` with id `row_id`, or None for a malformed or unknown id; StoreUnavailable on failure."""
        if not valid_id(row_id):
            return None
        with self._unavailable(f"reading {what} {row_id}"), self._connect() as conn:
            return conn.execute(sa.select(table).where(table.c.id == row_id)).one_or_none()

    def _mark_used(self, table: sa.Table, row_id: str, what: str) -> None:
        """Record that the row was just opened (only rows unopened for a while may make room); never raises."""
        try:
            with self._begin() as conn:
                conn.execute(sa.update(table).where(table.c.id == row_id).values(last_used_at=self.clock()))
        except sa.exc.SQLAlchemyError:
            log.warning("store: could not mark %s %s used", what, row_id, exc_info=True)

    @staticmethod
    def _row_summary(row: sa.Row[Any]) -> dict[str, Any]:
        summary = json.loads(row.summary)
        if not isinstance(summary, dict):
            raise ValueError("summary is not a JSON object")
        summary.update(id=row.id, name=row.name, class_code=row.class_code, published=bool(row.published),
                       size=row.size, shared=row.created_at.isoformat(timespec="seconds"))
        if summary.get("created") is None:
            summary["created"] = summary["shared"]
        return summary

    def publish(self, model_id: str, owner: str, published: bool = True) -> bool:
        """Show (or hide) an owner's model in the gallery; False if no such model of that owner."""
        if not valid_id(model_id) or not isinstance(owner, str) or len(owner) > 64:
            return False
        with self._unavailable("publishing a model"), self._begin() as conn:
            done = conn.execute(sa.update(MODELS).where(MODELS.c.id == model_id, MODELS.c.owner == owner)
                                .values(published=bool(published)))
            return done.rowcount == 1

    def list_published(self, class_code: str | None = None, sort: str = "test_accuracy",
                       limit: int = 200) -> list[dict[str, Any]]:
        """Summary rows of published models (of one class, if a code is given), best or newest first.

        sort: "test_accuracy" or "drawn" (highest first, unscored last), "created" (newest first) or
        "name" (A-Z). StoreError for a bad class code or sort; StoreUnavailable for an unreachable store.
        """
        code = clean_class_code(class_code)
        if sort not in SORTS:
            raise StoreError(f"cannot sort by {str(sort)[:40]!r}; choose one of {', '.join(SORTS)}")
        if not isinstance(limit, int) or isinstance(limit, bool):
            raise StoreError("the number of models to list must be a whole number")
        query = sa.select(*LISTED).where(MODELS.c.published.is_(True))
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

    def leaderboard(self, class_code: str) -> list[dict[str, Any]]:
        """A class's published models, highest test accuracy first."""
        if class_code is None:
            raise StoreError("a leaderboard needs a class code")
        return self.list_published(class_code, sort="test_accuracy")

    def _summaries(self, query: sa.Select[Any], doing: str) -> list[dict[str, Any]]:
        with self._unavailable(doing), self._connect() as conn:
            rows = conn.execute(query).all()
        summaries = []
        for row in rows:
            try:
                summaries.append(self._row_summary(row))
            except (ValueError, TypeError, AttributeError):
                log.exception("store: model %s has a damaged summary; not listed", row.id)
        return summaries

    # -- collections: a user's teaching drawings, kept together by private link --

    def put_collection(self, images: NDArray[np.uint8], labels: NDArray[np.integer[Any]], *, owner: str,
                       address: str | None = None, replace: str | None = None) -> str:
        """Keep labelled drawings together ((n, 28, 28) uint8, n integer labels 0-9, 1 <= n <= MAX_DRAWINGS); the id.

        `replace`: the id of a collection this owner kept before, whose contents are replaced in place (its
        link stays the same and shows the new drawings); a collection of another owner, or one no longer
        stored, is never touched: a new one is made. A new collection counts toward the client's and the
        address's hourly allowance. StoreError if refused.
        """
        owner, address = check_owner(owner), check_address(address)
        image_bytes, label_bytes, count = check_collection(images, labels, MAX_DRAWINGS)
        if replace is not None and not valid_id(replace):
            raise StoreError("that is not a kept collection's id")
        size, now = len(image_bytes) + len(label_bytes), self.clock()
        quota = self.settings.bytes("collections_quota_mb")
        with self._unavailable("keeping drawings"), self._write() as conn:
            if replace is not None:
                before = conn.scalar(sa.select(COLLECTIONS.c.size).where(
                    COLLECTIONS.c.id == replace, COLLECTIONS.c.owner == owner))
                if before is not None:
                    self._check_held(conn, owner, address, size, replacing=before)
                    self._make_room(conn, COLLECTIONS, size - before, quota, keep=replace)
                    conn.execute(sa.update(COLLECTIONS).where(COLLECTIONS.c.id == replace).values(
                        count=count, images=image_bytes, labels=label_bytes, size=size, updated_at=now,
                        last_used_at=now))
                    return replace
            self._forget_addresses(conn)
            self._check_rate(conn, COLLECTIONS, owner, address, "kept a set of drawings")
            self._check_held(conn, owner, address, size)
            self._make_room(conn, COLLECTIONS, size, quota)
            collection_id = new_id()
            conn.execute(sa.insert(COLLECTIONS).values(
                id=collection_id, owner=owner, address=address, count=count, images=image_bytes, labels=label_bytes,
                size=size, created_at=now, updated_at=now, last_used_at=now))
        log.info("store: %d drawings kept as collection %s", count, collection_id)
        return collection_id

    def get_collection(self, collection_id: str) -> tuple[NDArray[np.uint8], NDArray[np.int64], str] | None:
        """(images (n, 28, 28) uint8, labels int64 (n,), created ISO time) of a kept collection, or None.

        None for a malformed or unknown id; StoreUnavailable when the database cannot be read;
        StoreError for a damaged row (logged). A hit marks the collection used.
        """
        row = self._read_row(COLLECTIONS, collection_id, "collection")
        if row is None:
            return None
        images, labels, count = bytes(row.images), bytes(row.labels), row.count
        side = math.prod(DRAWING_SHAPE)
        if not (isinstance(count, int) and 1 <= count <= MAX_DRAWINGS and len(images) == count * side
                and len(labels) == count and max(labels) <= 9):
            log.error("store: collection %s is damaged (%r drawings, %d image bytes, %d labels); not opened",
                      collection_id, count, len(images), len(labels))
            raise StoreError("the drawings behind this link are damaged on the server and cannot be opened")
        self._mark_used(COLLECTIONS, collection_id, "collection")  # (its owner's opens count: a set is theirs alone)
        return (np.frombuffer(images, np.uint8).reshape(count, *DRAWING_SHAPE).copy(),
                np.frombuffer(labels, np.uint8).astype(np.int64), row.created_at.isoformat(timespec="seconds"))

    # -- moderation (the operator's command, webapp/store/__main__.py) --

    def items(self, *, published: bool | None = None, class_code: str | None = None, owner: str | None = None,
              address: str | None = None, limit: int = MAX_LIST) -> list[dict[str, Any]]:
        """Rows of both tables as dicts (no model files, no drawings), newest first, filtered as given."""
        out = []
        with self._unavailable("listing items"), self._connect() as conn:
            for table in (MODELS, COLLECTIONS):
                if table is COLLECTIONS and (published or class_code is not None):
                    continue
                columns = LISTED if table is MODELS else [c for c in table.c if c.name not in ("images", "labels")]
                query = sa.select(*columns)
                for column, value in (("owner", owner), ("address", address)):
                    if value is not None:
                        query = query.where(table.c[column] == value)
                if table is MODELS and published is not None:
                    query = query.where(MODELS.c.published.is_(bool(published)))
                if table is MODELS and class_code is not None:
                    query = query.where(MODELS.c.class_code == clean_class_code(class_code))
                rows = conn.execute(query.order_by(table.c.created_at.desc()).limit(limit)).mappings().all()
                out += [{"kind": "model" if table is MODELS else "drawings", **row} for row in rows]
        return sorted(out, key=lambda r: r["created_at"], reverse=True)[:limit]

    def remove(self, ids: Iterable[str]) -> int:
        """Delete the models and collections with these ids; how many rows went."""
        ids = [i for i in ids if valid_id(i)]
        with self._unavailable("removing items"), self._write() as conn:
            return sum(conn.execute(sa.delete(t).where(t.c.id.in_(ids))).rowcount for t in (MODELS, COLLECTIONS))

    def set_published(self, model_id: str, published: bool) -> bool:
        """Show or hide any model in the gallery (the operator's, not an owner's, decision); False if unknown."""
        if not valid_id(model_id):
            return False
        with self._unavailable("publishing a model"), self._begin() as conn:
            done = conn.execute(sa.update(MODELS).where(MODELS.c.id == model_id).values(published=bool(published)))
            return done.rowcount == 1

    def usage(self) -> dict[str, Any]:
        """{"models": (count, bytes), "published": count, "collections": (count, bytes)} of the whole store."""
        with self._unavailable("reading the store's usage"), self._connect() as conn:
            def count_and_bytes(table: sa.Table, *where: Any) -> tuple[int, int]:
                row = conn.execute(sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(table.c.size), 0))
                                   .where(*where)).one()
                return int(row[0]), int(row[1])
            return {"models": count_and_bytes(MODELS), "published": count_and_bytes(MODELS, MODELS.c.published)[0],
                    "collections": count_and_bytes(COLLECTIONS)}
