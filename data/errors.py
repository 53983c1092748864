"""Exceptions raised by the data package.

The hierarchy lets callers catch what they can act on:

* ``DatasetError(ValueError)``: a file was found but its content is wrong
  (format, shape, label range, checksum). ``IdxError`` is the IDX-format case.
* ``DatasetNotFound(FileNotFoundError)``: no complete copy of a dataset exists
  in any searched directory.
* ``DownloadError(OSError)``: every mirror failed for some file.
"""


class DatasetError(ValueError):
    """A dataset file exists but its content is not what it should be."""


class IdxError(DatasetError):
    """An IDX file (plain or gzipped) is malformed, truncated or oversized."""


class DatasetNotFound(FileNotFoundError):
    """No directory searched holds all the files of a dataset."""


class DownloadError(OSError):
    """A dataset file could not be fetched and verified from any mirror."""
