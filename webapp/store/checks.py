"""What the store checks before any SQL: ids, owners, addresses, names, class codes, kept drawings.

Everything that arrives is treated as hostile. A refusal is a StoreError whose message can be
shown to a visitor as it is (never a path or a database detail).
"""

import re
import secrets

import numpy as np

from webapp import text

__all__ = ["DRAWING_SHAPE", "StoreError", "StoreUnavailable", "check_address", "check_collection", "check_owner",
           "clean_class_code", "clean_name", "new_id", "valid_id"]

ID_BYTES = 18  # 144 random bits; token_urlsafe gives 24 characters
ID_RE = re.compile(r"[A-Za-z0-9_-]{22,43}")  # any token_urlsafe of 16-32 bytes
OWNER_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")
ADDRESS_RE = re.compile(r"[0-9a-f.:/]{2,64}")  # webapp.clients.address_key's output: an IPv4 or an IPv6 /64
CLASS_CODE_RE = re.compile(r"[a-z0-9_-]{1,32}")  # after lowercasing
DRAWING_SHAPE = (28, 28)


class StoreError(ValueError):
    """A request the store refuses; the message suits a visitor."""


class StoreUnavailable(StoreError):
    """The store cannot be reached or read right now (a damaged file, a database that is down)."""


def new_id() -> str:
    """An unguessable id: 144 random bits, URL-safe."""
    return secrets.token_urlsafe(ID_BYTES)


def valid_id(value: object) -> bool:
    """True if `value` has the shape of a store id (what new_id makes)."""
    return isinstance(value, str) and len(value) <= 43 and ID_RE.fullmatch(value) is not None


def check_owner(owner: object) -> str:
    """The client token that owns a row, or StoreError."""
    if not (isinstance(owner, str) and len(owner) <= 64 and OWNER_RE.fullmatch(owner)):
        raise StoreError("this browser cannot share (no valid client token)")
    return owner


def check_address(address: object) -> str | None:
    """A client's address key (or None where none is known), or StoreError."""
    if address is None:
        return None
    if not (isinstance(address, str) and ADDRESS_RE.fullmatch(address)):
        raise StoreError("this connection's address is not one the store can record")
    return address


def clean_name(name: object) -> str:
    """A model's name as webapp.text.clean_name makes it, or StoreError saying why not."""
    try:
        return text.clean_name(name)
    except text.TextError as e:
        raise StoreError(str(e)) from None


def clean_class_code(code: object) -> str | None:
    """`code` lowercased, or None for None; StoreError unless 1-32 letters, digits, '-' or '_'."""
    if code is None:
        return None
    if isinstance(code, str) and len(code) <= 64 and code.isascii():  # ascii first: "\u212a".lower() == "k"
        lowered = code.strip().lower()
        if CLASS_CODE_RE.fullmatch(lowered):
            return lowered
    raise StoreError("a class code is 1 to 32 letters, digits, '-' or '_'")


def check_collection(images: object, labels: object, cap: int) -> tuple[bytes, bytes, int]:
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
