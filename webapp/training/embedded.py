"""The engine embedded in a server: Dask's own `dask scheduler` and `dask worker` commands, as its child processes.

The same commands deploy/ runs on other machines, here on 127.0.0.1 with a scheduler file in a temporary
folder. Child *processes* started with a fresh interpreter (not `multiprocessing`): Streamlit replaces
`sys.modules["__main__"]` with the page being run, and a spawned child would run that page again.

Both commands load this module (`--preload` in the scheduler, `--preload-nanny` beside each worker), whose
`dask_setup` closes them once the server that started them has gone, even if it was killed: a server
never leaves a scheduler or workers behind.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

__all__ = ["EmbeddedCluster", "dask_setup"]

FOLDER_ENV = "DIGIT_LAB_ENGINE_FOLDER"  # the scheduler's: the temporary folder of its scheduler file
START_SECONDS = 60  # the scheduler writes its address within this (a busy machine imports slowly)
PARENT_CHECK_MS = 1000


class EmbeddedCluster:
    """A scheduler and `workers` one-thread workers on 127.0.0.1, child processes of this one; `address` is the
    scheduler's. Each worker is restarted by its nanny if it dies or passes `memory` bytes (None: no limit)."""

    def __init__(self, workers: int, memory: int | None) -> None:
        self._folder = tempfile.TemporaryDirectory(prefix="digit-lab-engine-")
        scheduler_file = Path(self._folder.name) / "scheduler.json"
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
        quiet: dict[str, Any] = {"stdin": subprocess.DEVNULL, "stdout": subprocess.DEVNULL,
                                 "stderr": subprocess.DEVNULL, "env": env}
        dask = [sys.executable, "-m", "dask"]
        scheduler_env = dict(env, **{FOLDER_ENV: self._folder.name})  # its to remove if this process is killed
        self.processes = [subprocess.Popen(
            [*dask, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
             "--scheduler-file", str(scheduler_file), "--preload", __name__], **{**quiet, "env": scheduler_env})]
        try:
            self.address = _read_address(scheduler_file, self.processes[0])
            self.processes.append(subprocess.Popen(
                [*dask, "worker", "--scheduler-file", str(scheduler_file), "--nworkers", str(workers),
                 "--nthreads", "1", "--memory-limit", str(memory or 0), "--no-dashboard", "--host", "127.0.0.1",
                 "--name", "embedded", "--preload-nanny", __name__], **quiet))
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """Stop the workers, then the scheduler (each SIGTERM, then SIGKILL after 10 s). One after the other:
        workers told to stop while their scheduler goes too wait for it in vain (8 s, where this takes 0.2)."""
        for process in reversed(self.processes):
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self._folder.cleanup()


def _read_address(scheduler_file: Path, scheduler: subprocess.Popen[bytes]) -> str:
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if scheduler.poll() is not None:
            raise OSError(f"the engine's scheduler exited at start (code {scheduler.returncode})")
        try:
            address = json.loads(scheduler_file.read_text())["address"]
            return str(address)
        except (OSError, ValueError, KeyError):  # not written yet, or half written
            time.sleep(0.05)
    raise TimeoutError(f"the engine's scheduler did not start within {START_SECONDS} s")


def dask_setup(server: Any) -> None:
    """Dask's preload hook, in the scheduler and in each nanny: close once the process that started us is gone
    (the scheduler also removes the temporary folder that process could not)."""
    from tornado.ioloop import PeriodicCallback

    parent = os.getppid()
    folder = os.environ.get(FOLDER_ENV)

    def check() -> None:
        if os.getppid() != parent:
            callback.stop()
            if folder:
                shutil.rmtree(folder, ignore_errors=True)
            server.loop.add_callback(server.close)

    callback = PeriodicCallback(check, PARENT_CHECK_MS)
    callback.start()
