"""A run's state as bytes, and a slice of training from them: how a run moves between processes.

    blob = state_to_bytes(trainer.state())            # after any finished epoch
    part = advance(blob, x_train, y_train, epochs=1)  # anywhere: a task function for an engine
    part.records, part.outcome                        # the slice's EpochRecords; None while epochs are left
    blob = part.state                                 # the next slice starts from here
    model = state_from_bytes(blob).model()            # the trained model, its history in model.meta

The bytes are an uncompressed .npz, like a model file and never pickled: a JSON record (`state`,
UTF-8 bytes) with the settings, counters, random streams and the model's metadata, and flat
arrays of all parameters in MLP.get_weights() order: `weights`, `best` (early stopping's, when
it differs from `weights`) and one `moment_<name>` per optimizer moment. A state may come from
another machine, so loading checks the record against a schema, every array's header (dtype,
shape) against the record before reading it, and the whole (TrainState.problem) before use.
"""

import io
import json
import math
import zipfile
from collections.abc import Callable
from typing import Annotated, Any, Literal, NamedTuple

import numpy as np
from pydantic import ConfigDict, Field, TypeAdapter, ValidationError, with_config
from typing_extensions import TypedDict

from . import schema
from .arrays import Floats, Inputs, Labels
from .config import EpochRecord, StopFlag, TrainConfig, TrainOutcome
from .io import MAX_LAYER_SIZE, MAX_PARAMETERS, ModelFileError, _check_directory, _read_member
from .train_state import RNG_NAMES, DataPrint, StateError, TrainState
from .training import Trainer

__all__ = ["FORMAT", "FORMAT_VERSION", "Slice", "advance", "state_from_bytes", "state_to_bytes"]

FORMAT = "digit-lab-train-state"
FORMAT_VERSION = 1
MAX_LAYERS = 512
MOMENT_NAMES = ("velocity", "m", "v")

_STRICT = ConfigDict(strict=True, extra="forbid")
Count = Annotated[int, Field(ge=0, lt=2**63)]
Loss = Annotated[float, Field(ge=0, allow_inf_nan=False)]


@with_config(_STRICT)
class _Pcg64Inner(TypedDict):
    state: Annotated[int, Field(ge=0, lt=2**128)]
    inc: Annotated[int, Field(ge=0, lt=2**128)]


@with_config(_STRICT)
class _Pcg64(TypedDict):
    bit_generator: Literal["PCG64"]
    state: _Pcg64Inner
    has_uint32: Annotated[int, Field(ge=0, le=1)]
    uinteger: Annotated[int, Field(ge=0, lt=2**32)]


@with_config(_STRICT)
class _Data(TypedDict):
    train_rows: Count
    val_rows: Count
    labels_crc32: Annotated[int, Field(ge=0, lt=2**32)]


@with_config(_STRICT)
class _Record(TypedDict):
    """The JSON record of a state's bytes (the arrays' layout follows from layer_sizes and moments)."""

    format: Literal["digit-lab-train-state"]
    format_version: Literal[1]
    config: dict[str, Any]
    layer_sizes: Annotated[list[Annotated[int, Field(ge=1, le=MAX_LAYER_SIZE)]], Field(min_length=2,
                                                                                       max_length=MAX_LAYERS)]
    epoch: Count
    step: Count
    moments: Annotated[list[Literal["velocity", "m", "v"]], Field(max_length=len(MOMENT_NAMES))]
    rngs: dict[Literal["shuffle", "augment", "dropout"], _Pcg64]
    loss_ceiling: Loss | None
    smoothed_loss: Loss | None
    spiked: bool
    best_loss: Loss | None  # None: no best yet (inf in the TrainState)
    best: Literal["none", "weights", "stored"]  # none yet; the same as `weights`; in the array `best`
    waited: Count
    meta: dict[str, Any]
    data: _Data


_RECORD = TypeAdapter(_Record)


def state_to_bytes(state: TrainState) -> bytes:
    """The state as .npz bytes (see the module docstring); raises StateError if it is inconsistent."""
    if problem := state.problem():
        raise StateError(f"training state not saved: {problem}")
    weights = _flat(state.weights)
    best = "none"
    arrays = {"weights": weights}
    if state.best is not None:
        best_flat = _flat(state.best)
        best = "weights" if np.array_equal(best_flat, weights) else "stored"
        if best == "stored":
            arrays["best"] = best_flat
    arrays.update({f"moment_{name}": m for name, m in state.moments.items()})
    record = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "config": state.config.to_dict(),
        "layer_sizes": list(state.layer_sizes),
        "epoch": state.epoch,
        "step": state.step,
        "moments": sorted(state.moments),
        "rngs": state.rngs,
        "loss_ceiling": state.loss_ceiling,
        "smoothed_loss": state.smoothed_loss,
        "spiked": state.spiked,
        "best_loss": None if state.best_loss == math.inf else state.best_loss,
        "best": best,
        "waited": state.waited,
        "meta": state.meta,
        "data": state.data._asdict(),
    }
    raw = json.dumps(record, allow_nan=False, default=_plain).encode("utf-8")
    buf = io.BytesIO()
    # numpy's stubs take **arrays for its allow_pickle flag; every key here is an array's name.
    np.savez(buf, state=np.frombuffer(raw, dtype=np.uint8), **arrays)  # type: ignore[arg-type]
    return buf.getvalue()


def state_from_bytes(blob: bytes, *, max_loaded_bytes: int | None = None) -> TrainState:
    """The TrainState in `blob` (from state_to_bytes); StateError saying what is wrong if it is not one.

    max_loaded_bytes caps what the network's weights would take in memory (the state holds up to
    four times that), checked from the record before any array is read, as mlp.io.load_model does.
    """
    try:
        source = io.BytesIO(blob)
        _check_directory(source)
        with zipfile.ZipFile(source) as zf:
            return _read(zf, max_loaded_bytes)
    except StateError:
        raise
    except ModelFileError as e:  # from the readers shared with model files
        raise StateError(f"training state refused: {e}") from None
    except zipfile.BadZipFile:
        raise StateError("training state refused: not a training state (.npz): not a zip archive") from None
    except Exception as e:  # noqa: BLE001 - hostile bytes reach odd corners of zipfile, zlib and NumPy
        raise StateError(f"training state refused: it is damaged ({type(e).__name__})") from None


def _read(zf: zipfile.ZipFile, max_loaded_bytes: int | None) -> TrainState:
    members = {info.filename: info for info in zf.infolist()}
    if "state.npy" not in members:
        raise StateError("training state refused: no state record (not a training state)")
    # At most mlp.io.MAX_METADATA_BYTES, like a model file's metadata (checked before it is read).
    raw = _read_member(zf, members["state.npy"], "state", np.dtype(np.uint8), None)
    record = _parse(raw.tobytes())
    config = _config(record["config"])
    sizes = record["layer_sizes"]
    n = sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:]))
    if n > MAX_PARAMETERS:
        raise StateError(f"training state refused: layer sizes {sizes[:8]} imply {n:,} parameters, "
                         f"over the {MAX_PARAMETERS:,} limit")
    cost = n * np.dtype(config.dtype).itemsize
    if max_loaded_bytes is not None and cost > max_loaded_bytes:
        raise StateError(f"training state refused: its {'-'.join(map(str, sizes))} network's weights would take "
                         f"{cost / 2**20:,.1f} MB, over the limit of {max_loaded_bytes / 2**20:,.1f} MB")
    if list(config.hidden) != sizes[1:-1]:
        raise StateError(f"training state refused: layer sizes {sizes[:8]} do not match the hidden layers "
                         f"{list(config.hidden)} of its settings")
    names = ["weights"] + (["best"] if record["best"] == "stored" else [])
    names += [f"moment_{m}" for m in record["moments"]]
    expected = {f"{name}.npy" for name in names} | {"state.npy"}
    if set(members) != expected:
        raise StateError(f"training state refused: it holds {sorted(members)[:10]}, expected {sorted(expected)}")
    dtype = np.dtype(config.dtype)
    arrays = {name: _read_member(zf, members[f"{name}.npy"], name, dtype, (n,)) for name in names}
    weights = _unflat(arrays["weights"], sizes)
    best = {"none": None, "weights": weights}.get(record["best"])
    if record["best"] == "stored":
        best = _unflat(arrays["best"], sizes)
    state = TrainState(
        config=config,
        layer_sizes=tuple(sizes),
        epoch=record["epoch"],
        weights=weights,
        moments={m: arrays[f"moment_{m}"] for m in record["moments"]},
        step=record["step"],
        rngs={name: dict(rng) for name, rng in record["rngs"].items()},
        loss_ceiling=record["loss_ceiling"],
        smoothed_loss=record["smoothed_loss"],
        spiked=record["spiked"],
        best_loss=math.inf if record["best_loss"] is None else record["best_loss"],
        best=None if best is None else [a.copy() for a in best],
        waited=record["waited"],
        meta=record["meta"],
        data=DataPrint(**record["data"]),
    )
    if problem := state.problem():
        raise StateError(f"training state refused: {problem}")
    return state


def _parse(raw: bytes) -> _Record:
    """The JSON record, checked against its schema (types, ranges, the model metadata's own schema)."""
    try:
        parsed = schema.parse(raw.decode("utf-8"))
    except (UnicodeDecodeError, schema.MetadataError) as e:
        raise StateError(f"training state refused: its record is unreadable ({e})") from None
    try:
        record = _RECORD.validate_python(parsed)
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(map(str, first["loc"]))
        raise StateError(f"training state refused: {where}: {first['msg']}") from None
    if sorted(record["rngs"]) != sorted(RNG_NAMES):
        raise StateError(f"training state refused: it must hold the random streams {', '.join(RNG_NAMES)}")
    _, dropped = schema.clean_metadata(record["meta"])
    if dropped:
        raise StateError(f"training state refused: the model's metadata has invalid fields: {', '.join(dropped)}")
    return record


def _config(d: dict[str, Any]) -> TrainConfig:
    """The run's settings, refused unless they are valid and say exactly what the record says."""
    try:
        config = TrainConfig.from_dict(d)
        problems = config.problems()
    except (TypeError, ValueError, AttributeError) as e:
        raise StateError(f"training state refused: its settings are unreadable ({type(e).__name__})") from None
    if problems:
        raise StateError(f"training state refused: its settings are invalid: {next(iter(problems.values()))}")
    if config.to_dict() != d:
        odd = sorted(set(d) ^ set(config.to_dict())) or [k for k, v in config.to_dict().items() if d.get(k) != v]
        raise StateError(f"training state refused: its settings are not this version's (see {', '.join(odd[:5])})")
    return config


def _flat(arrays: list[Floats]) -> Floats:
    """[W0, b0, W1, ...] as one vector, in that order."""
    return np.concatenate([a.ravel() for a in arrays])


def _unflat(flat: Floats, sizes: list[int]) -> list[Floats]:
    """The vector of _flat back as [W0 (n_in, h1), b0 (h1,), ...] (views of it)."""
    arrays, start = [], 0
    for a, b in zip(sizes[:-1], sizes[1:]):
        arrays += [flat[start:start + a * b].reshape(a, b), flat[start + a * b:start + a * b + b]]
        start += a * b + b
    return arrays


def _plain(obj: object) -> object:
    """JSON for the NumPy scalars a model's metadata may hold."""
    if isinstance(obj, np.generic):
        return obj.item()
    raise TypeError(f"cannot store {type(obj).__name__} in a training state")


class Slice(NamedTuple):
    """What advance gives: the slice's records, the state after its last finished epoch, how it ended."""

    records: list[EpochRecord]
    state: bytes
    outcome: TrainOutcome | None  # None: the run has epochs left


def advance(blob: bytes, x: Inputs, y: Labels, *, epochs: int = 1, validation: tuple[Inputs, Labels] | None = None,
            extra: tuple[Inputs, Labels] | None = None, stop: StopFlag | None = None,
            progress: Callable[[int, int], object] | None = None, max_loaded_bytes: int | None = None) -> Slice:
    """Train the run in `blob` (state_to_bytes) at most `epochs` more epochs on (x, y).

    A task function for an engine: what the run needs comes in its arguments (the data as the
    Trainer took it: the same rows, `validation` and `extra`), what it did goes out as plain data.
    Stopped during an epoch, the slice ends STOPPED with the state of its last finished epoch.
    Raises StateError for bytes that are not a state of a run on this data, and DivergedError as
    Trainer.run does (the run is then over). max_loaded_bytes: as for state_from_bytes.
    """
    if not (isinstance(epochs, int) and epochs >= 1):
        raise ValueError(f"epochs must be a positive integer, got {epochs!r}")
    state = state_from_bytes(blob, max_loaded_bytes=max_loaded_bytes)
    trainer = Trainer(state.model(), state.config, x, y, validation=validation, extra=extra, progress=progress,
                      state=state)
    records: list[EpochRecord] = []
    last = blob
    for record in trainer.run(stop, epochs=epochs):
        records.append(record)
        if stop is not None and epochs > 1:  # a stop during a later epoch loses this one's state otherwise
            last = state_to_bytes(trainer.state())
    try:
        last = state_to_bytes(trainer.state())
    except RuntimeError:  # stopped during an epoch: `last` is the state after the one before
        pass
    return Slice(records, last, trainer.outcome)
