"""Files and names a hostile visitor would try, for the hostile-visitor tests and the soak benchmark."""

import io
import json
import zipfile
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import DTypeLike

from mlp.io import FORMAT, FORMAT_VERSION

__all__ = ["MARKDOWN_NAMES", "deep_metadata_file", "model_file_with_meta", "zeros_model_file"]

#: Names that Markdown would turn into a remote image, a link, colours or an icon.
MARKDOWN_NAMES = (
    "![p](http://127.0.0.1:9/x.png)",
    "**:red[Session expired — sign in again](http://127.0.0.1:9/login)**",
    "<img src=http://127.0.0.1:9/y.png> :material/warning: $x^2$",
)


def _npy_header(shape: Sequence[int], dtype: DTypeLike) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": np.lib.format.dtype_to_descr(np.dtype(dtype)),
                                               "fortran_order": False, "shape": tuple(shape)})
    return buf.getvalue()


def _write(zf: zipfile.ZipFile, name: str, header: bytes, nbytes: int, chunk: int = 1 << 20) -> None:
    with zf.open(name, "w", force_zip64=True) as f:
        f.write(header)
        zeros = bytes(min(chunk, nbytes))
        while nbytes > 0:
            f.write(zeros[:nbytes])
            nbytes -= len(zeros)


def _metadata(meta: dict[str, Any] | bytes) -> bytes:
    raw = json.dumps(meta).encode() if isinstance(meta, dict) else meta
    return _npy_header((len(raw),), np.uint8) + raw


def zeros_model_file(layer_sizes: Sequence[int], dtype: str = "float64", meta: dict[str, Any] | None = None) -> bytes:
    """A deflated .npz of a model whose weights are all zeros: tiny on disk, `layer_sizes` large once loaded.

    Written a megabyte at a time, so making it costs no memory (the attack: a 0.4 MB upload that
    declares 784-6500-6500-10 float64, 377 MB of weights).
    """
    record = {"format": FORMAT, "format_version": FORMAT_VERSION, "layer_sizes": list(layer_sizes),
              "activation": "relu", "dropout": 0.0, "dtype": dtype, **(meta or {})}
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("metadata.npy", _metadata(record))
        item = np.dtype(dtype).itemsize
        for i, (a, b) in enumerate(zip(layer_sizes[:-1], layer_sizes[1:])):
            _write(zf, f"W{i}.npy", _npy_header((a, b), dtype), a * b * item)
            _write(zf, f"b{i}.npy", _npy_header((b,), dtype), b * item)
    return buf.getvalue()


def model_file_with_meta(meta: dict[str, Any], layer_sizes: Sequence[int] = (784, 8, 10)) -> bytes:
    """A small valid model file whose metadata record also holds `meta` (any JSON-ready dict)."""
    return zeros_model_file(layer_sizes, "float32", meta)


def deep_metadata_file(depth: int = 100_000) -> bytes:
    """A model file whose metadata JSON nests `depth` lists deep (json.loads would recurse until it failed)."""
    record = json.dumps({"format": FORMAT, "format_version": FORMAT_VERSION, "layer_sizes": [784, 8, 10],
                         "activation": "relu", "dtype": "float32"})
    raw = (record[:-1] + ', "x": ' + "[" * depth + "]" * depth + "}").encode()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("metadata.npy", _metadata(raw))
        for i, (a, b) in enumerate(((784, 8), (8, 10))):
            zf.writestr(f"W{i}.npy", _npy_header((a, b), "float32") + bytes(a * b * 4))
            zf.writestr(f"b{i}.npy", _npy_header((b,), "float32") + bytes(b * 4))
    return buf.getvalue()
