"""Faults: killed writes and downloads, closed tabs, server restarts. Nothing committed is lost."""

import hashlib
import http.server
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from harness import PATIENCE, canvas_ready, draw_stroke, prediction, start_app, stop_app
from mlp import MLP, load_model, save_model

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow


def test_save_killed_between_write_and_rename_keeps_the_previous_file(tmp_path):
    path = save_model(MLP([784, 8, 10], seed=1), tmp_path / "model.npz")
    before = path.read_bytes()
    # A process that writes a new model and is killed (SIGKILL: no cleanup runs) just before the rename.
    code = (
        "import os, signal, sys; import mlp.io as io; from mlp import MLP\n"
        "io.os.replace = lambda *a: os.kill(os.getpid(), signal.SIGKILL)\n"
        "io.save_model(MLP([784, 32, 10], seed=2), sys.argv[1])\n"
    )
    proc = subprocess.run([sys.executable, "-c", code, str(path)], cwd=ROOT, capture_output=True, timeout=60)
    assert proc.returncode == -signal.SIGKILL
    assert path.read_bytes() == before
    assert load_model(path).layer_sizes == [784, 8, 10]
    leftovers = [p.name for p in tmp_path.iterdir() if p.name != "model.npz"]
    assert all(name.startswith(".model.npz.") and name.endswith(".tmp") for name in leftovers)


class HalfwayHandler(http.server.BaseHTTPRequestHandler):
    """Serves the first half of `body`, then nothing more until `killed` is set: the download is half-way
    for as long as the test needs, however busy the machine. (The client writes 1 MB chunks: a body of
    2 MB and more puts bytes on disk.)"""

    body = b""
    killed = threading.Event()

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        try:
            self.wfile.write(self.body[:len(self.body) // 2])
            self.wfile.flush()
            self.killed.wait(60)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def log_message(self, *args):
        pass


def test_download_killed_half_way_leaves_no_file_under_the_final_name(tmp_path, mnist):
    HalfwayHandler.body = (Path(mnist.source) / "train-labels-idx1-ubyte.gz").read_bytes() * 160  # 4.6 MB
    HalfwayHandler.killed.clear()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), HalfwayHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    dest = tmp_path / "mnist"
    code = (
        "import sys; from data import download_dataset\n"
        "download_dataset('mnist', sys.argv[1], mirrors=[sys.argv[2]])\n"
    )
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    proc = subprocess.Popen([sys.executable, "-c", code, str(dest), f"http://127.0.0.1:{server.server_port}/"],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        # Until bytes are on disk, in the partial file (hidden: .<name>.<random>.part); no more will come.
        deadline = time.monotonic() + PATIENCE
        while not any(p.stat().st_size for p in dest.glob(".*.part")):
            assert time.monotonic() < deadline and proc.poll() is None, "the download never started"
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait(PATIENCE)
    finally:
        HalfwayHandler.killed.set()
        server.shutdown()
    names = [p.name for p in dest.iterdir()]
    assert not any(n.endswith("-ubyte.gz") for n in names), names  # only hidden partial files may remain
    assert all(n.startswith(".") for n in names)


# -- the server: closed tabs and restarts -----------------------------------------------------------

@pytest.fixture
def browser(mnist, chromium):
    """Chromium, for tests that start servers of their own (and need MNIST to train)."""
    return chromium


def start_training(page, url, epochs=200, images=20_000):
    """Start a run of `epochs` on a subset of the training images (a busy machine gets through an epoch)."""
    page.goto(f"{url}/train?hidden=256&epochs={epochs}&use_subset=true&subset={images}")
    page.get_by_role("button", name="Start", exact=True).click()


def _engine_cpu_seconds(pid):
    """CPU seconds used so far by the server's child processes (the embedded engine's workers)."""
    from benchmarks.capacity import _children, _proc_stat

    total = 0.0
    for child in _children(pid):
        try:
            total += _proc_stat(child)[0]
        except OSError:
            pass  # it ended while we looked
    return total


@pytest.mark.browser
def test_a_later_run_finishes_beside_a_long_one_and_closing_the_tab_stops_the_long_one(browser):
    proc, url = start_app({"DIGIT_LAB_MAX_RUNS": "1", "DIGIT_LAB_ORPHAN_SECONDS": "2"})
    try:
        first = browser.new_context()
        page = first.new_page()
        page.set_default_timeout(PATIENCE * 1000)
        start_training(page, url)
        page.get_by_text(re.compile(r"^\d+ epochs? · last train loss")).wait_for()
        second = browser.new_context()
        other = second.new_page()
        other.set_default_timeout(PATIENCE * 1000)
        start_training(other, url, epochs=2, images=2_000)
        # One worker, taking turns an epoch at a time: the short run ends while the long one goes on.
        other.get_by_text(re.compile(r"^Finished 2 epochs")).wait_for()
        # ...and the long run is still training. The run panel redraws every second or two, so wait
        # for its line rather than count it at one instant.
        page.get_by_text(re.compile(r"^Epoch \d+ of 200")).wait_for()
        assert page.get_by_text(re.compile(r"^Finished")).count() == 0
        second.close()
        first.close()  # the first user closes the tab without pressing Stop
        # Within the grace period plus an epoch the orphaned run stops: the engine's worker goes idle.
        deadline = time.monotonic() + PATIENCE
        while True:
            before = _engine_cpu_seconds(proc.pid)
            time.sleep(2.0)
            if _engine_cpu_seconds(proc.pid) - before < 0.5:
                break
            assert time.monotonic() < deadline, "the orphaned run kept training"
    finally:
        stop_app(proc)


@pytest.mark.browser
def test_killed_server_loses_no_committed_model_file(browser):
    shipped = ROOT / "models" / "default.npz"
    digest = hashlib.sha256(shipped.read_bytes()).hexdigest()
    proc, url = start_app({})
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(PATIENCE * 1000)
    start_training(page, url)
    page.get_by_text(re.compile(r"^\d+ epochs? · last train loss")).wait_for()
    proc.send_signal(signal.SIGKILL)  # a crash mid-training
    proc.wait(PATIENCE)
    context.close()
    assert hashlib.sha256(shipped.read_bytes()).hexdigest() == digest
    proc, url = start_app({})
    try:
        page = browser.new_page()
        page.goto(url)
        page.set_default_timeout(PATIENCE * 1000)
        canvas_ready(page)
        draw_stroke(page, [(140, 40), (140, 120), (140, 240)])
        assert prediction(page) == "1"  # the restarted app reads digits with the shipped model
        page.close()
    finally:
        stop_app(proc)
