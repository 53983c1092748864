"""Model files: one .npz with the weights and a JSON metadata record. Never pickled.

Layout: arrays W0, b0, W1, b1, ... and `metadata`, a uint8 array holding UTF-8
JSON (so no object arrays are ever needed); a model with a memory of drawings (mlp.memory)
adds memory_features, memory_labels and memory_radii, described by the metadata's "memory".
Loading checks every array's header against the metadata *before* reading its data, so a
hostile file cannot make us allocate gigabytes, and rebuilds the network through `MLP`'s
constructor.
"""

import io
import json
import math
import os
import reprlib
import struct
import tempfile
import threading
import zipfile
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any

import numpy as np
from numpy.typing import DTypeLike, NDArray

from . import schema
from .activations import ACTIVATIONS
from .memory import MAX_EXEMPLARS, MAX_FEATURES, InvalidMemory, Memory
from .network import DTYPES, MLP

FORMAT = "digit-lab-mlp"
FORMAT_VERSION = 1
MAX_METADATA_BYTES = 4 * 1024 * 1024
MAX_LAYER_SIZE = 65536
MAX_PARAMETERS = 50_000_000  # 200 MB of float32: far beyond any sensible MLP here
MAX_MEMBERS = 1025  # metadata and a weight and a bias for each of 512 layers
MAX_DIRECTORY_BYTES = 1 << 16  # the zip's central directory (zipfile reads it by size): a model's is under 1 KB
REQUIRED_META = ("format", "format_version", "layer_sizes", "activation", "dtype")
#: How the file's own values appear in messages: a few characters and items, never a whole string.
_SHOW = reprlib.Repr()
_SHOW.maxstring, _SHOW.maxother, _SHOW.maxlist, _SHOW.maxlevel = 40, 40, 8, 2
_show = _SHOW.repr
#: NumPy parses a .npy header with ast.literal_eval, and CPython 3.11's AST constructor keeps its
#: recursion depth in state all threads share: two threads parsing at once can fail with a spurious
#: "SystemError: AST constructor recursion depth mismatch" (python/cpython#106905; seen once in
#: tests/webapp/store/'s eight threads). The app loads models in many sessions' threads, so header
#: parses take turns.
_HEADER_LOCK = threading.Lock()


def architecture(layer_sizes: Sequence[object], most: int = 10) -> str:
    """'784-256-128-10'; a long list is cut in the middle: '784-1-1-1-1-...-1-10 (5,000 layers)'."""
    sizes = list(map(str, layer_sizes))
    if len(sizes) <= most:
        return "-".join(sizes)
    return f"{'-'.join(sizes[: most - 2])}-...-{sizes[-1]} ({len(sizes):,} layers)"


class ModelFileError(ValueError):
    """A model file is unreadable or inconsistent; the message says what is wrong."""


@dataclass(frozen=True)
class Shape:
    """The networks a reader takes, beyond what the format allows (None: no limit of that kind).

    inputs and outputs: the first and last layer sizes (the reader's images and classes);
    max_width: units in a hidden layer; max_hidden: hidden layers.
    """

    inputs: int | None = None
    outputs: int | None = None
    max_width: int | None = None
    max_hidden: int | None = None

    def problem(self, layer_sizes: Sequence[int]) -> str | None:
        """What makes `layer_sizes` a network this reader does not take, or None."""
        shown = architecture(layer_sizes)
        if self.inputs is not None and layer_sizes[0] != self.inputs:
            return f"it is a {shown} network: it takes {layer_sizes[0]} inputs, not the {self.inputs} pixels expected"
        if self.outputs is not None and layer_sizes[-1] != self.outputs:
            return (f"it is a {shown} network: it gives {layer_sizes[-1]} outputs, "
                    f"not the {self.outputs} classes expected")
        hidden = layer_sizes[1:-1]
        if self.max_hidden is not None and len(hidden) > self.max_hidden:
            return f"it has {len(hidden)} hidden layers; at most {self.max_hidden} are taken here"
        if self.max_width is not None and hidden and max(hidden) > self.max_width:
            return f"it has a hidden layer of {max(hidden)} units; at most {self.max_width} are taken here"
        return None


def _array_names(n_dense: int) -> list[str]:
    return [f"{k}{i}" for i in range(n_dense) for k in ("W", "b")]


#: The arrays of a memory in a model file, and their dtypes.
MEMORY_ARRAYS: dict[str, np.dtype[Any]] = {"memory_features": np.dtype(np.float32), "memory_labels": np.dtype(np.int64),
                 "memory_radii": np.dtype(np.float32)}


def model_metadata(model: MLP) -> dict[str, Any]:
    """The metadata record saved with `model`: its architecture plus model.meta (and its memory's summary)."""
    meta = dict(model.meta)
    meta.pop("memory", None)
    if model.memory is not None:
        meta["memory"] = model.memory.describe()
    meta.update(
        format=FORMAT,
        format_version=FORMAT_VERSION,
        layer_sizes=model.layer_sizes,
        activation=model.activation,
        dropout=model.dropout,
        dtype=model.dtype.name,
    )
    meta.setdefault("created", datetime.now(timezone.utc).isoformat(timespec="seconds"))
    return meta


def dump_model(model: MLP, fileobj: IO[bytes], *, compress: bool = False) -> None:
    """Write `model` as .npz to a binary file object (deflated with `compress`: smaller, slower to write)."""
    meta = json.dumps(model_metadata(model), allow_nan=False, default=_json_default).encode("utf-8")
    arrays: dict[str, NDArray[Any]] = dict(zip(_array_names(len(model.dense)), model.get_weights()))
    if model.memory is not None:
        m = model.memory
        arrays.update(memory_features=m.features, memory_labels=m.labels, memory_radii=m.radii)
    save = np.savez_compressed if compress else np.savez
    # numpy's stubs take **arrays for its allow_pickle flag; every key here is an array's name.
    save(fileobj, metadata=np.frombuffer(meta, dtype=np.uint8), **arrays)  # type: ignore[arg-type]


def model_to_bytes(model: MLP, *, compress: bool = False) -> bytes:
    """The .npz file content for `model`, e.g. for a download button."""
    buf = io.BytesIO()
    dump_model(model, buf, compress=compress)
    return buf.getvalue()


def loaded_bytes(layer_sizes: Sequence[int], dtype: DTypeLike = "float32") -> int:
    """The bytes a model's weights and biases take in memory."""
    return sum(a * b + b for a, b in zip(layer_sizes[:-1], layer_sizes[1:])) * np.dtype(dtype).itemsize


def save_model(model: MLP, path: str | os.PathLike[str]) -> Path:
    """Write `model` to `path` atomically: a temp file in the same directory, fsync, rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.chmod(tmp, 0o644)  # mkstemp makes it private; a model file is meant to be shared
        with os.fdopen(fd, "wb") as f:
            dump_model(model, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def load_model(source: str | os.PathLike[str] | bytes | bytearray | IO[bytes], *, max_bytes: int | None = None,
               max_loaded_bytes: int | None = None, shape: Shape | None = None) -> MLP:
    """Read a model from a path, bytes or binary file object; raise ModelFileError if it is bad.

    max_bytes caps the file's size; max_loaded_bytes what its weights would take in memory, and
    `shape` (a Shape) the networks taken: both checked from the metadata before any array is read
    (a small compressed file can declare a huge model).
    """
    name = str(source) if isinstance(source, (str, os.PathLike)) else "uploaded file"
    try:
        if isinstance(source, (bytes, bytearray)):
            source = io.BytesIO(source)
        size = os.path.getsize(source) if isinstance(source, (str, os.PathLike)) else _stream_size(source)
        if max_bytes is not None and size > max_bytes:
            raise ModelFileError(f"{size:,} bytes is over the {max_bytes:,}-byte limit")
        if isinstance(source, (str, os.PathLike)):
            with open(source, "rb") as f:
                _check_directory(f)
        else:
            _check_directory(source)
        with zipfile.ZipFile(source) as zf:
            return _load_from_zip(zf, max_loaded_bytes, shape)
    except ModelFileError as e:
        raise ModelFileError(f"{name}: {e}") from None
    except zipfile.BadZipFile:
        raise ModelFileError(f"{name}: not a model file (.npz): not a zip archive") from None
    except FileNotFoundError:
        raise ModelFileError(f"{name}: no such file") from None
    except NotImplementedError:  # (a RuntimeError too) a compression method zipfile lacks
        raise ModelFileError(f"{name}: cannot read the file: a member is compressed in a way this program does "
                             "not read") from None
    except RuntimeError:  # zipfile's word for a member that needs a password
        raise ModelFileError(f"{name}: cannot read the file: a member is encrypted") from None
    except zlib.error:
        raise ModelFileError(f"{name}: cannot read the file: a member's compressed data is damaged") from None
    except (OSError, EOFError, zipfile.LargeZipFile) as e:
        raise ModelFileError(f"{name}: cannot read the file: {_show(str(e))[1:-1]}") from None
    except Exception as e:  # noqa: BLE001 - a hostile file reaches odd corners of zipfile and NumPy's header
        # parser (a name that is not UTF-8, a header cut mid-bracket): whatever they raise, it is a bad file
        raise ModelFileError(f"{name}: cannot read the file: it is damaged ({type(e).__name__})") from None


def _check_directory(f: IO[bytes]) -> None:
    """Refuse a zip whose central directory is too big to read, from its end record (before zipfile reads it all).

    zipfile builds an object for every member listed: a file of a few MB listing half a million
    empty members takes hundreds of MB before any check of ours could run.
    """
    here = f.tell()
    size = f.seek(0, os.SEEK_END)
    tail_start = max(0, size - (20 + 22 + 0xFFFF))  # a zip64 locator (20 bytes), the end record (22) and its comment
    f.seek(tail_start)
    tail = f.read()
    f.seek(here)
    at = tail.rfind(b"PK\x05\x06", 20 if tail_start else 0)  # the record zipfile reads: the last one
    if at < 0 or len(tail) - at < 22:
        raise zipfile.BadZipFile("no end of central directory")
    entries, directory_bytes = struct.unpack("<HI", tail[at + 10 : at + 16])
    # zipfile takes a zip64 record's counts instead whenever its locator sits just before the end record
    if entries == 0xFFFF or directory_bytes == 0xFFFFFFFF or (at >= 20 and tail[at - 20 : at - 16] == b"PK\x06\x07"):
        raise ModelFileError("a zip64 archive: a model file is far smaller")
    if entries > MAX_MEMBERS or directory_bytes > MAX_DIRECTORY_BYTES:
        raise ModelFileError(f"the archive lists {entries:,} members in {directory_bytes:,} bytes; "
                             f"a model file has at most {MAX_MEMBERS:,}")


def _stream_size(f: IO[bytes]) -> int:
    here = f.tell()
    size = f.seek(0, os.SEEK_END)
    f.seek(here)
    return size


def _load_from_zip(zf: zipfile.ZipFile, max_loaded_bytes: int | None = None, shape: Shape | None = None) -> MLP:
    members = {info.filename: info for info in zf.infolist()}
    if "metadata.npy" not in members:
        raise ModelFileError(f"no metadata record (found {_show(sorted(members))})")
    raw = _read_member(zf, members["metadata.npy"], "metadata", np.dtype(np.uint8), None)
    meta = _parse_metadata(raw.tobytes())
    cost = loaded_bytes(meta["layer_sizes"], meta["dtype"])
    if max_loaded_bytes is not None and cost > max_loaded_bytes:
        raise ModelFileError(f"its {architecture(meta['layer_sizes'])} {meta['dtype']} weights would take "
                             f"{cost / 2**20:,.1f} MB of memory, over this server's limit of "
                             f"{max_loaded_bytes / 2**20:,.1f} MB per model")
    if shape is not None and (problem := shape.problem(meta["layer_sizes"])):
        raise ModelFileError(problem)
    model = MLP(meta["layer_sizes"], meta["activation"], dropout=meta.get("dropout", 0.0), dtype=meta["dtype"])
    names = _array_names(len(model.dense))
    memory_meta = _memory_metadata(meta.pop("memory", None), meta["layer_sizes"])
    expected = {f"{n}.npy" for n in names} | {"metadata.npy"}
    if memory_meta is not None:
        expected |= {f"{n}.npy" for n in MEMORY_ARRAYS}
    if set(members) != expected:
        missing = sorted(n[:-4] for n in expected - set(members))
        extra = sorted(n for n in set(members) - expected)
        raise ModelFileError(
            f"arrays do not match layer_sizes {_show(meta['layer_sizes'])}"
            f"{' and its memory' if memory_meta is not None else ''}: missing "
            f"{_show(missing) if missing else 'none'}, unexpected {_show(extra) if extra else 'none'}"
        )
    arrays: list[NDArray[Any]] = []
    for name, (param, _, _) in zip(names, model.parameters()):
        a = _read_member(zf, members[f"{name}.npy"], name, param.dtype, param.shape)
        if not np.isfinite(a).all():
            raise ModelFileError(f"array {name} contains NaN or infinite values")
        arrays.append(a)
    model.set_weights(arrays)
    if memory_meta is not None:
        model.memory = _read_memory(zf, members, memory_meta, model)
    rest = {k: v for k, v in meta.items() if k not in ("layer_sizes", "activation", "dropout", "dtype")}
    model.meta, model.dropped_meta = schema.clean_metadata(rest)
    return model


def _memory_metadata(record: object, layer_sizes: list[int]) -> dict[str, Any] | None:
    """The metadata's "memory" record, checked enough to read the arrays it describes (None if there is none)."""
    if record is None:
        return None
    if not isinstance(record, dict):
        raise ModelFileError("metadata's memory is not a JSON object")
    count, width = record.get("count"), record.get("width")
    if not (isinstance(count, int) and not isinstance(count, bool) and 1 <= count <= MAX_EXEMPLARS):
        raise ModelFileError(f"memory count must be an integer in 1..{MAX_EXEMPLARS:,}, got {_show(count)}")
    if len(layer_sizes) < 3 or width != layer_sizes[-2]:
        raise ModelFileError(f"memory width {_show(width)} does not match the last hidden layer of "
                             f"{architecture(layer_sizes)}")
    if count * width > MAX_FEATURES:
        raise ModelFileError(f"memory of {count:,} x {width:,} numbers is over the {MAX_FEATURES:,} limit")
    for key, kind in (("gate", (int, float)), ("drawings", int), ("claimed", (int, float)), ("digest", str)):
        value = record.get(key)
        if not isinstance(value, kind) or isinstance(value, bool) or (isinstance(value, str) and len(value) > 64):
            raise ModelFileError(f"memory {key} is missing or malformed: {_show(value)}")
    return record


def _read_memory(zf: zipfile.ZipFile, members: dict[str, zipfile.ZipInfo], record: dict[str, Any],
                 model: MLP) -> Memory:
    """The memory's arrays, read against the shapes `record` gives and checked against `model`."""
    count, width = record["count"], record["width"]
    shapes = {"memory_features": (count, width), "memory_labels": (count,), "memory_radii": (count,)}
    arrays = {name: _read_member(zf, members[f"{name}.npy"], name, dtype, shapes[name])
              for name, dtype in MEMORY_ARRAYS.items()}
    try:
        memory = Memory(arrays["memory_features"], arrays["memory_labels"], arrays["memory_radii"],
                        float(record["gate"]), record["digest"], record["drawings"], float(record["claimed"]))
        memory.check(model)
    except InvalidMemory as e:
        raise ModelFileError(f"memory: {e}") from None
    return memory


def _read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, name: str, dtype: np.dtype[Any],
                 shape: tuple[int, ...] | None) -> NDArray[Any]:
    """Read one .npy member after checking its header (dtype, shape, size) against expectations."""
    with zf.open(info) as f:
        try:
            version = np.lib.format.read_magic(f)
            if version == (1, 0):
                with _HEADER_LOCK:
                    got_shape, fortran, got_dtype = np.lib.format.read_array_header_1_0(f)
            elif version in ((2, 0), (3, 0)):
                with _HEADER_LOCK:
                    got_shape, fortran, got_dtype = np.lib.format.read_array_header_2_0(f)
            else:
                raise ModelFileError(f"array {name}: unsupported .npy version {version}")
        except ValueError as e:
            raise ModelFileError(f"array {name}: not a valid .npy array ({_show(str(e))[1:-1]})") from None
        if got_dtype.hasobject or got_dtype != dtype:
            raise ModelFileError(f"array {name} has dtype {_show(str(got_dtype))[1:-1]}, expected {dtype}")
        if shape is None:  # the metadata blob: 1-D, bounded
            if len(got_shape) != 1 or got_shape[0] > MAX_METADATA_BYTES:
                raise ModelFileError(
                    f"metadata record has shape {_show(tuple(got_shape))}: not a bounded 1-D byte string")
        elif tuple(got_shape) != tuple(shape):
            raise ModelFileError(
                f"array {name} has shape {_show(tuple(got_shape))}, but the metadata implies {tuple(shape)}")
        count = math.prod(got_shape)
        data = f.read(count * dtype.itemsize)
        if len(data) != count * dtype.itemsize:
            raise ModelFileError(f"array {name} is truncated")
    a = np.frombuffer(data, dtype=dtype).reshape(got_shape, order="F" if fortran else "C")
    return a.copy()


def _parse_metadata(raw: bytes) -> dict[str, Any]:
    try:
        meta = schema.parse(raw.decode("utf-8"))
    except UnicodeDecodeError as e:
        raise ModelFileError(f"metadata is not valid UTF-8 ({e})") from None
    except schema.MetadataError as e:
        raise ModelFileError(str(e)) from None
    missing = [k for k in REQUIRED_META if k not in meta]
    if missing:
        raise ModelFileError(f"metadata lacks {', '.join(missing)}")
    if meta["format"] != FORMAT:
        raise ModelFileError(f"metadata format is {_show(meta['format'])}, expected {FORMAT!r}")
    if meta["format_version"] != FORMAT_VERSION:
        raise ModelFileError(
            f"format_version {_show(meta['format_version'])} is not supported "
            f"(this program reads version {FORMAT_VERSION})"
        )
    sizes = meta["layer_sizes"]
    if not (
        isinstance(sizes, list)
        and len(sizes) >= 2
        and all(isinstance(s, int) and not isinstance(s, bool) and 0 < s <= MAX_LAYER_SIZE for s in sizes)
    ):
        raise ModelFileError(
            f"layer_sizes must be a list of 2+ integers in 1..{MAX_LAYER_SIZE}, got {_show(sizes)}")
    n_params = sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:]))
    if n_params > MAX_PARAMETERS:
        raise ModelFileError(
            f"layer_sizes {_show(sizes)} imply {n_params:,} parameters, over the {MAX_PARAMETERS:,} limit")
    if meta["activation"] not in ACTIVATIONS:
        raise ModelFileError(
            f"unknown activation {_show(meta['activation'])}; expected one of {sorted(ACTIVATIONS)}")
    if meta["dtype"] not in DTYPES:
        raise ModelFileError(f"dtype {_show(meta['dtype'])} is not one of {sorted(DTYPES)}")
    dropout = meta.get("dropout", 0.0)
    if not (isinstance(dropout, (int, float)) and 0 <= dropout < 1):
        raise ModelFileError(f"dropout must be a number in [0, 1), got {_show(dropout)}")
    return meta


def _json_default(obj: object) -> object:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"cannot store {type(obj).__name__} in model metadata")
