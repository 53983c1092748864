"""Progress on stderr: a training run's bar and a dataset download's."""

import sys
import time
from typing import TextIO

from mlp.config import EpochRecord


class ProgressBar:
    """A one-line progress bar on stderr: epoch, batch bar, last metrics, ETA."""

    def __init__(self, epochs: int, stream: TextIO = sys.stderr, width: int = 30) -> None:
        self.epochs, self.stream, self.width = epochs, stream, width
        self.done_epochs, self.started = 0, time.perf_counter()
        self.last = ""
        self.tty = stream.isatty()

    def batch(self, done: int, total: int) -> None:
        """Called by the trainer a few times per epoch."""
        if not self.tty:
            return
        frac = (self.done_epochs + done / total) / self.epochs
        filled = int(self.width * frac)
        elapsed = time.perf_counter() - self.started
        eta = elapsed / frac * (1 - frac) if frac > 0 else 0
        line = (f"\repoch {self.done_epochs + 1}/{self.epochs} [{'#' * filled}{'.' * (self.width - filled)}] "
                f"{frac:4.0%}  eta {eta:4.0f}s  {self.last}")
        self.stream.write(line.ljust(100)[:120])
        self.stream.flush()

    def epoch(self, record: EpochRecord) -> None:
        """Called after each epoch with its EpochRecord."""
        self.done_epochs += 1
        val = f"  val_acc {record.val_accuracy:.4f}" if record.val_accuracy is not None else ""
        self.last = f"loss {record.train_loss:.4f}  acc {record.train_accuracy:.4f}{val}"
        if not self.tty:
            # A continued model's records go on from its earlier runs: say both counts.
            overall = f" ({record.epoch} in all)" if record.epoch != self.done_epochs else ""
            self.stream.write(f"epoch {self.done_epochs}/{self.epochs}{overall}  {self.last}  {record.seconds:.2f}s\n")
            self.stream.flush()

    def close(self) -> None:
        """End the bar's line."""
        if self.tty:
            self.stream.write("\n")


class DownloadBar:
    """A progress callback for dataset downloads, writing to stderr."""

    def __call__(self, filename: str, done: int, total: int | None) -> None:
        if total:
            sys.stderr.write(f"\r{filename}: {done / 1e6:6.1f} / {total / 1e6:.1f} MB")
        else:
            sys.stderr.write(f"\r{filename}: {done / 1e6:6.1f} MB")
        if total and done >= total:
            sys.stderr.write("\n")
        sys.stderr.flush()
