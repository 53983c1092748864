"""Tests for data.csv.load_mnist_csv: round trip and every error case."""

from pathlib import Path

import numpy as np
import pytest

from data import DatasetError, load_mnist_csv

HEADER = "label," + ",".join(f"{r}x{c}" for r in range(1, 29) for c in range(1, 29))


def rows_for(x: np.ndarray, y: np.ndarray) -> list[str]:
    return [",".join(map(str, [label, *img.ravel()])) for img, label in zip(x, y)]


@pytest.fixture
def sample():
    rng = np.random.default_rng(7)
    x = rng.integers(0, 256, (5, 28, 28), dtype=np.uint8)
    y = rng.integers(0, 10, 5, dtype=np.uint8)
    return x, y


def write(path: Path, lines: list[str], ending: str = "\n") -> Path:
    path.write_text(ending.join(lines) + ending, newline="")
    return path


@pytest.mark.parametrize("ending", ["\n", "\r\n"], ids=["lf", "crlf"])
def test_round_trip(tmp_path, sample, ending):
    x, y = sample
    out_x, out_y = load_mnist_csv(write(tmp_path / "mnist.csv", [HEADER, *rows_for(x, y)], ending))
    assert out_x.shape == (5, 28, 28) and out_x.dtype == np.uint8
    assert out_y.shape == (5,) and out_y.dtype == np.uint8
    np.testing.assert_array_equal(out_x, x)
    np.testing.assert_array_equal(out_y, y)


def test_any_header_and_bom(tmp_path, sample):
    x, y = sample
    path = tmp_path / "m.csv"
    path.write_text("\ufeffwhatever,the,header,says\n" + "\n".join(rows_for(x, y)), encoding="utf-8")
    np.testing.assert_array_equal(load_mnist_csv(path)[1], y)


def test_headerless_file_keeps_first_row(tmp_path, sample):
    x, y = sample
    out_x, out_y = load_mnist_csv(write(tmp_path / "m.csv", rows_for(x, y)))
    np.testing.assert_array_equal(out_y, y)
    np.testing.assert_array_equal(out_x, x)


def test_many_rows_cross_block_boundary(tmp_path):
    rng = np.random.default_rng(3)
    x = rng.integers(0, 256, (2500, 28, 28), dtype=np.uint8)
    y = rng.integers(0, 10, 2500, dtype=np.uint8)
    lines = [HEADER, *rows_for(x, y)]
    out_x, out_y = load_mnist_csv(write(tmp_path / "m.csv", lines))
    np.testing.assert_array_equal(out_x, x)
    np.testing.assert_array_equal(out_y, y)
    # An error in a late block still reports the right file line.
    lines[2200] = lines[2200].replace(",", ",x", 1)  # pixel 1 becomes "x<digits>"
    with pytest.raises(DatasetError, match=r"line 2201, column 2: not an integer"):
        load_mnist_csv(write(tmp_path / "m.csv", lines))


def test_empty_file(tmp_path):
    for content in ["", "\n\n"]:
        (tmp_path / "e.csv").write_text(content)
        with pytest.raises(DatasetError, match=r"e\.csv: empty file"):
            load_mnist_csv(tmp_path / "e.csv")


def test_header_only(tmp_path):
    with pytest.raises(DatasetError, match="no data rows"):
        load_mnist_csv(write(tmp_path / "h.csv", [HEADER]))


def test_wrong_column_count(tmp_path, sample):
    rows = rows_for(*sample)
    rows[2] = rows[2].rsplit(",", 1)[0]  # drop the last pixel
    with pytest.raises(DatasetError, match=r"m\.csv: line 4: expected 785 .* found 784 values"):
        load_mnist_csv(write(tmp_path / "m.csv", [HEADER, *rows]))
    rows = rows_for(*sample)
    rows[0] += ",0"
    with pytest.raises(DatasetError, match=r"line 2: expected 785 .* found 786 values"):
        load_mnist_csv(write(tmp_path / "m.csv", [HEADER, *rows]))


def test_blank_line_in_the_middle(tmp_path, sample):
    rows = rows_for(*sample)
    with pytest.raises(DatasetError, match=r"line 3: .* found an empty line"):
        load_mnist_csv(write(tmp_path / "m.csv", [HEADER, rows[0], "", *rows[1:]]))


def with_field(rows, row, column, value):
    """rows with one comma-separated field replaced (0-based row and column)."""
    fields = rows[row].split(",")
    fields[column] = value
    return [*rows[:row], ",".join(fields), *rows[row + 1:]]


@pytest.mark.parametrize("bad", ["abc", "1.5", "", "0x10", "#7"])
def test_non_numeric(tmp_path, sample, bad):
    rows = with_field(rows_for(*sample), 1, 10, bad)
    with pytest.raises(DatasetError, match=rf"line 3, column 11: not an integer: {bad!r}"):
        load_mnist_csv(write(tmp_path / "m.csv", [HEADER, *rows]))


@pytest.mark.parametrize("value", ["256", "-1", "99999999999"])
def test_pixel_out_of_range(tmp_path, sample, value):
    rows = with_field(rows_for(*sample), 3, 100, value)
    with pytest.raises(DatasetError, match=rf"line 5, column 101: .*{value} out.* 0\.\.255"):
        load_mnist_csv(write(tmp_path / "m.csv", [HEADER, *rows]))


@pytest.mark.parametrize("label", ["10", "-1"])
def test_label_out_of_range(tmp_path, sample, label):
    rows = rows_for(*sample)
    rows[4] = label + rows[4][rows[4].index(","):]
    with pytest.raises(DatasetError, match=rf"line 6: label {label} outside 0\.\.9"):
        load_mnist_csv(write(tmp_path / "m.csv", [HEADER, *rows]))


def test_binary_file(tmp_path):
    (tmp_path / "b.csv").write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe")
    with pytest.raises(DatasetError, match=r"b\.csv: line 1: not a text file"):
        load_mnist_csv(tmp_path / "b.csv")
