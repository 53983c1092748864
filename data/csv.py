"""Loader for MNIST stored as CSV (the Kaggle "mnist-in-csv" layout).

Each data row is ``label,p1,...,p784``: a label 0..9 then 784 pixels 0..255
in row-major 28x28 order. The Kaggle files start with a header line
(``label,1x1,...,28x28``); its content is not checked. Headerless files (as
published elsewhere) are recognised because their first line is all integers,
so no sample is silently dropped.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .errors import DatasetError

__all__ = ["load_mnist_csv"]

N_PIXELS = 28 * 28
N_COLUMNS = 1 + N_PIXELS
# Rows parsed per np.loadtxt call: bounds the int32 scratch array (~3 MB).
_BLOCK_ROWS = 1024


def load_mnist_csv(path: str | os.PathLike[str]) -> tuple[np.ndarray, np.ndarray]:
    """Read an MNIST CSV file into ``(x, y)``.

    Returns x: (n, 28, 28) uint8 and y: (n,) uint8. Raises ``DatasetError``
    naming the file and 1-based line number for an empty file, a wrong number
    of columns, a non-integer value, a pixel outside 0..255 or a label
    outside 0..9.
    """
    path = Path(path)
    lines = _read_lines(path)
    if not lines:
        raise DatasetError(f"{path}: empty file (expected a header line and rows of {N_COLUMNS} values)")
    first = 0 if _looks_like_data(lines[0]) else 1  # index of the first data row
    rows = lines[first:]
    if not rows:
        raise DatasetError(f"{path}: no data rows after the header line")

    _check_column_counts(path, rows, first)
    x = np.empty((len(rows), N_PIXELS), dtype=np.uint8)
    y = np.empty(len(rows), dtype=np.uint8)
    for start in range(0, len(rows), _BLOCK_ROWS):
        block = _parse_block(path, rows, start, first)  # (b, 785) int32
        _check_ranges(path, block, start + first)
        y[start : start + len(block)] = block[:, 0]
        x[start : start + len(block)] = block[:, 1:]
    return x.reshape(-1, 28, 28), y


def _read_lines(path: Path) -> list[str]:
    """File lines without line endings or trailing blank lines."""
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")  # -sig: spreadsheet exports often start with a BOM
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise DatasetError(f"{path}: line {line}: not a text file (invalid UTF-8)") from None
    if "\r" in text:
        text = text.replace("\r\n", "\n")
    lines = text.split("\n")
    while lines and not lines[-1].strip():
        lines.pop()
    return lines


def _looks_like_data(line: str) -> bool:
    return all(_is_int(field) for field in line.split(","))


def _is_int(field: str) -> bool:
    try:
        int(field)
    except ValueError:
        return False
    return True


def _line_no(row_index: int, first: int) -> int:
    """1-based file line of data row ``row_index`` when data starts at line index ``first``."""
    return row_index + first + 1


def _check_column_counts(path: Path, rows: list[str], first: int) -> None:
    commas = np.fromiter((row.count(",") for row in rows), dtype=np.int64, count=len(rows))
    bad = np.flatnonzero(commas != N_COLUMNS - 1)
    if bad.size:
        i = int(bad[0])
        found = "an empty line" if not rows[i].strip() else f"{commas[i] + 1} values"
        raise DatasetError(
            f"{path}: line {_line_no(i, first)}: expected {N_COLUMNS} comma-separated values "
            f"(label + {N_PIXELS} pixels), found {found}"
        )


def _parse_block(path: Path, rows: list[str], start: int, first: int) -> np.ndarray:
    """Parse rows[start:start+_BLOCK_ROWS] to int32; on failure find and name the bad field."""
    block_rows = rows[start : start + _BLOCK_ROWS]
    try:
        return np.loadtxt(block_rows, delimiter=",", dtype=np.int32, comments=None, ndmin=2)
    except ValueError as exc:
        # The fast parser's message is not a stable interface: locate the field ourselves.
        for offset, row in enumerate(block_rows):
            for col, field in enumerate(row.split(","), start=1):
                if not _is_int(field):
                    raise DatasetError(
                        f"{path}: line {_line_no(start + offset, first)}, column {col}: "
                        f"not an integer: {field.strip()!r}"
                    ) from None
                if not -(2**31) <= int(field) < 2**31:
                    raise DatasetError(
                        f"{path}: line {_line_no(start + offset, first)}, column {col}: "
                        f"value {int(field)} out of range 0..255"
                    ) from None
        raise DatasetError(f"{path}: cannot parse rows from line {_line_no(start, first)}: {exc}") from None


def _check_ranges(path: Path, block: np.ndarray, first_line_index: int) -> None:
    """Labels must be 0..9 and pixels 0..255; report the first offender."""
    labels, pixels = block[:, 0], block[:, 1:]
    bad_label = (labels < 0) | (labels > 9)
    if bad_label.any():
        i = int(np.argmax(bad_label))
        raise DatasetError(
            f"{path}: line {first_line_index + i + 1}: label {int(labels[i])} outside 0..9"
        )
    bad_pixel = (pixels < 0) | (pixels > 255)
    if bad_pixel.any():
        row, col = np.unravel_index(int(np.argmax(bad_pixel)), bad_pixel.shape)
        raise DatasetError(
            f"{path}: line {first_line_index + row + 1}, column {col + 2}: "
            f"pixel value {int(pixels[row, col])} outside 0..255"
        )
