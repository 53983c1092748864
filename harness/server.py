"""A real `streamlit run app.py` on loopback and Debian's chromium, for the browser tests and the load test.

ROOT is the checkout this package sits in: the harness runs the app from a working tree, not an install.
"""

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# Without the background-networking flags chromium keeps trying to reach Google's hosts, which
# this machine's closed network refuses; /dev/shm is small in containers.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage"]

def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_app(env: Mapping[str, str] | None = None, timeout: float = 60) -> tuple[subprocess.Popen[bytes], str]:
    """Start the app on a free loopback port and wait for its health check; returns (process, url).

    `env` adds to (or overrides) this process's environment, e.g. {"DIGIT_LAB_MAX_RUNS": "2"}.
    The server's output goes to a temporary file (a pipe nobody reads could fill up and block
    the server), shown if it fails to start.
    """
    port = free_port()
    log = tempfile.TemporaryFile()
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
         "--server.address", "127.0.0.1", "--server.port", str(port), "--browser.gatherUsageStats", "false"],
        cwd=ROOT, env={**os.environ, **(env or {})}, stdin=subprocess.DEVNULL,
        stdout=log, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    return proc, url
        except OSError:
            pass
        if time.monotonic() > deadline or proc.poll() is not None:
            proc.kill()
            proc.wait()
            log.seek(0)
            output = log.read().decode(errors="replace")[-2000:]
            raise RuntimeError(f"streamlit did not start within {timeout} s: {output}")
        time.sleep(0.3)


def stop_app(proc: subprocess.Popen[bytes], timeout: float = 10) -> None:
    """Terminate the server (and wait); kill it if it does not stop in time."""
    if proc.poll() is None:
        proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
