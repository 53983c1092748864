"""The engine's parts that need no run: the line of waiting tasks, and an embedded engine's processes."""

import os
import signal
import subprocess
import sys
import time

from benchmarks.capacity import _children
from harness import PATIENCE
from webapp.training.engine import Line


def test_the_line_orders_by_priority_then_arrival_and_estimates_the_wait():
    workers = [2]
    line = Line(lambda: workers[0])
    a, b, c, teach = object(), object(), object(), object()
    line.enter(a, -3)  # a run that has had three epochs
    line.enter(b, 0)  # runs that have had none
    line.enter(c, 0)
    assert [line.position(r) for r in (a, b, c)] == [3, 1, 2]
    line.enter(teach, 1_000_000)
    assert [line.position(r) for r in (teach, b, c, a)] == [1, 2, 3, 4] and line.waiting == 4
    assert line.wait_seconds(c) is None  # no slice timed yet: no guess
    line.measured(2.0), line.measured(4.0)
    assert line.wait_seconds(c) == 3 * 3.0 / 2  # three slices ahead of it (its own included), two workers
    workers[0] = 1
    assert line.wait_seconds(c) == 9.0
    line.leave(b), line.leave(teach)
    assert line.position(c) == 1 and line.position(b) is None and line.wait_seconds(b) is None
    for _ in range(30):
        line.measured(1.0)
    assert line.wait_seconds(c) == 1.0  # the mean of the last twenty


def test_a_killed_server_leaves_no_scheduler_or_worker_behind():
    """The embedded scheduler and workers are the server's children; they close once it has gone, however it went."""
    server = subprocess.Popen([sys.executable, "-c", (
        "import time\n"
        "from webapp.training.engine import shared\n"
        "engine = shared(workers=2)\n"
        "engine.client().wait_for_workers(2, timeout=60)\n"
        "print(engine._cluster.address, flush=True)\n"
        "print(engine._cluster._folder.name, flush=True)\n"
        "time.sleep(600)\n")], stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout.readline().startswith("tcp://")
        folder = server.stdout.readline().strip()
        assert os.path.isdir(folder)
        engine = _children(server.pid)
        assert len(engine) >= 4  # scheduler, the worker command, two workers
        server.send_signal(signal.SIGKILL)
        server.wait(PATIENCE)
        deadline = time.monotonic() + 60
        while alive := [pid for pid in engine if _running(pid)]:
            assert time.monotonic() < deadline, f"left running: {alive}"
            time.sleep(0.2)
        assert not os.path.exists(folder)  # the scheduler file's temporary folder goes too
    finally:
        server.kill()
        server.wait()


def _running(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"  # a zombie has exited
    except OSError:
        return False
    finally:
        try:
            os.waitpid(pid, os.WNOHANG)  # not ours: only the killed server could reap them
        except ChildProcessError:
            pass
