"""The stack of deploy/ on 127.0.0.1: two app replicas behind HAProxy, a Dask scheduler with two workers, PostgreSQL.

First the command of docs/deploy.md, as a person runs it: it starts, and SIGTERM stops every part. Then
visitors speak Streamlit's own websocket protocol (benchmarks.capacity.Session, with cookies kept as a
browser keeps them and a source address of their own), through the balancer or straight to a replica:

* a run started through the balancer trains on the engine's workers (its slices are seen on them, and
  no replica has a process of its own training) and its epochs reach the page; its model, shared, is
  stored with the visitor's address as the balancer forwarded it, and its link opens on the other replica;
* SIGKILL to the worker training a run loses nothing: the run still finishes every epoch;
* the scheduler killed and started again (and its workers, which exit without it): the replicas train again;
* SIGKILL to a replica loses no shared model: its link still opens through the balancer, and a visitor of
  the killed replica, reconnecting with the same cookie, lands on the other one and trains again.

Loopback only: visitors connect from 127.0.0.2 and 127.0.0.3 (Linux routes all of 127/8 to the loopback),
so the balancer's X-Forwarded-For names an address the replicas do not trust as a proxy (they trust only
127.0.0.1, the balancer's), as a visitor's real address would be.
"""

from __future__ import annotations

import asyncio
import http.client
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from benchmarks.capacity import Session
from needs import missing

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("deploy")]

WAIT = 60.0  # seconds for any one step (a script run, a run's next epoch) on a busy machine
VISITOR, OTHER_VISITOR = "127.0.0.2", "127.0.0.3"
COOKIE_NAMES = ("_streamlit_xsrf", "DIGIT_LAB_REPLICA", "digit_lab_client")


class RunFailed(AssertionError):
    """The run panel said the run failed (the message)."""


class Visitor(Session):
    """A browser tab as the server sees it, from address `source`, keeping its cookies between connections."""

    def __init__(self, url: str, source: str = VISITOR, cookies: dict[str, str] | None = None) -> None:
        super().__init__(url, {"errors": []})
        self.source = source
        self.cookies: dict[str, str] = dict(cookies or {})
        self.seen: list[str] = []  # every element of the current script run, as text
        self.query = ""  # the address bar's query, as the server last set it
        self.outcome = ""  # what the run said when it ended: "Finished 4 epochs"

    async def open(self) -> None:
        from websockets.asyncio.client import connect
        from websockets.typing import Origin, Subprotocol

        await asyncio.to_thread(self._first_request)
        token = self.cookies.get("_streamlit_xsrf", "")
        ws_url = "ws" + self.url[4:] + "/_stcore/stream"
        cookie = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        self.ws = await asyncio.wait_for(connect(
            ws_url, subprotocols=[Subprotocol(p) for p in ("streamlit", token) if p], origin=Origin(self.url),
            additional_headers={"Cookie": cookie} if cookie else None, max_size=2**27, open_timeout=WAIT,
            ping_interval=20, ping_timeout=WAIT, close_timeout=5, local_addr=(self.source, 0)), WAIT)
        self.reader = asyncio.create_task(self._read())

    def _first_request(self) -> None:
        """GET /_stcore/host-config as the page does, keeping the cookies it sets (XSRF, the balancer's)."""
        parts = urllib.parse.urlsplit(self.url)
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=WAIT, source_address=(self.source, 0))
        try:
            headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())} if self.cookies else {}
            conn.request("GET", "/_stcore/host-config", headers=headers)
            response = conn.getresponse()
            response.read()
            assert response.status == 200, response.status
            for header in response.headers.get_all("Set-Cookie") or []:
                name, _, value = header.split(";", 1)[0].partition("=")
                if name in COOKIE_NAMES:
                    self.cookies[name] = value
        finally:
            conn.close()

    def _handle(self, msg) -> None:  # noqa: ANN001 - a ForwardMsg
        super()._handle(msg)
        kind = msg.WhichOneof("type")
        if kind == "delta" and msg.delta.WhichOneof("type") == "new_element":
            self.seen.append(str(msg.delta.new_element))
        elif kind == "page_info_changed":
            self.query = msg.page_info_changed.query_string

    async def rerun(self, *args, **kwargs) -> float:  # noqa: ANN002, ANN003
        self.seen = []
        return await super().rerun(*args, **kwargs)

    async def load(self, page_name: str = "", query: str = "") -> str:
        """Open a page (by name: "" is Draw); returns what it shows, as text."""
        self.page_hash = ""  # go by name, as a link does
        await self.rerun(page_name=page_name, query=query)
        await self.wait_run(WAIT)
        return "\n".join(self.seen)

    async def train(self, epochs: int, subset: int = 10000, hidden: str = "64") -> None:
        """Open Train, set a small network, press Start."""
        await self.load("train")
        widgets = [("t_hidden", ("string_value", hidden)), ("t_epochs", ("int_value", epochs)),
                   ("t_use_subset", ("bool_value", True))]
        await self.rerun(widgets, page_name="train")
        await self.wait_run(WAIT)  # the subset box appears once "Train on a subset" is on
        widgets.append(("t_subset", ("int_value", subset)))
        await self.rerun([*widgets, ("start", ("trigger_value", True))], page_name="train")
        await self.wait_run(WAIT)
        self.widgets = widgets

    async def follow(self, until_finished: bool = True, on_epoch=None, timeout: float = 300) -> list[int]:  # noqa: ANN001
        """Answer the run panel's auto-reruns as the browser does; the epochs seen (a fast run's may be missed
        between two reruns), until the run says Finished (kept in `outcome`), or, `until_finished` False,
        until the first epoch. `on_epoch(n)` is called for each new epoch seen."""
        epochs: list[int] = []
        due: dict[str, float] = {}
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = "\n".join(self.seen)
            for n in map(int, re.findall(r"Epoch (\d+) of \d+", text)):
                if n not in epochs:
                    epochs.append(n)
                    if on_epoch is not None:
                        on_epoch(n)
            failed = re.search(r"Training failed: [^\"]*", text)
            if failed:
                raise RunFailed(failed.group(0))
            finished = re.search(r"Finished \d+ epochs?", text)
            if finished or (epochs and not until_finished):
                self.outcome = finished.group(0) if finished else ""
                return epochs
            if not self.fragments:  # the panel stopped rerunning: the page itself shows the outcome
                await self.rerun(self.widgets, page_name="train")
                await self.wait_run(WAIT)
            now = time.monotonic()
            for fid, interval in list(self.fragments.items()):
                if now >= due.get(fid, 0):
                    await self.rerun(self.widgets, page_name="train", fragment_id=fid, auto=True)
                    await self.wait_run(WAIT)
                    due[fid] = time.monotonic() + interval
            await asyncio.sleep(0.1)
        raise AssertionError(f"the run did not finish within {timeout:g} s (epochs seen: {epochs})")

    async def train_to_the_end(self, epochs: int) -> str:
        """Start a run and follow it to its end (the outcome), pressing Start once more if the page asks to try again:
        a replica's client may still be giving up on a scheduler that went away (docs/deploy.md)."""
        await self.train(epochs=epochs)
        try:
            await self.follow()
        except RunFailed as e:
            assert "try again in a moment" in str(e), e
            await self.train(epochs=epochs)
            await self.follow()
        return self.outcome

    async def share(self) -> tuple[str, str]:
        """Press the finished model's Share model on Train; (the link's model id, the model's name)."""
        await self.load("train")
        key = next(k for k in self.widget_ids if k.startswith("share-"))
        await self.rerun([(key, ("trigger_value", True))], page_name="train")
        await self.wait_run(WAIT)  # the click's run, and the run it asks for, which shows the notice
        text = "\n".join(self.seen)
        found = re.search(r"model=([A-Za-z0-9_-]+)", self.query) or re.search(r"model=([A-Za-z0-9_-]+)", text)
        name = re.search(r"Anyone with this link gets \*\*(.+?)\*\*", text)
        assert found and name, f"no share link on the page: {text[-1500:]}"
        return found.group(1), name.group(1).replace("\\", "")


def run(coroutine, timeout: float = 600):  # noqa: ANN001, ANN201
    return asyncio.run(asyncio.wait_for(coroutine, timeout))


def needs_haproxy_and_postgres() -> None:
    if not shutil.which("haproxy") and not Path("/usr/sbin/haproxy").exists():
        missing("HAProxy is not installed (apt-get install haproxy; .ci/run installs it)")
    from deploy.stack import postgres_binaries

    if postgres_binaries() is None:
        missing("PostgreSQL's server is not installed (apt-get install postgresql; .ci/run installs it)")


@pytest.fixture(scope="module")
def stack(mnist_dir):
    needs_haproxy_and_postgres()
    from deploy.stack import Stack

    began = time.monotonic()
    with Stack(replicas=2, workers=2, port=0, data_dir=str(mnist_dir.parent)) as started:
        print(f"\nthe stack started in {time.monotonic() - began:.1f} s")
        yield started


class Watcher(threading.Thread):
    """Asks the scheduler every 20 ms which worker runs a training slice (`seen`: {worker name: slices}); once
    `kill_next` is set, SIGKILLs the next worker seen beginning a slice (`killed`), as a machine lost."""

    def __init__(self, stack) -> None:  # noqa: ANN001
        super().__init__(daemon=True)
        self.stack, self.seen, self.killed = stack, dict[str, set[str]](), list[str]()
        self.lost: set[str] = set()  # the slices the killed worker was running
        self.kill_next, self.done = False, threading.Event()

    def __enter__(self) -> Watcher:
        from distributed import Client

        self.client = Client(self.stack.scheduler, timeout=10, set_as_default=False)
        self.start()
        return self

    def __exit__(self, *exc) -> None:  # noqa: ANN002
        self.done.set()
        self.join(WAIT)
        self.client.close()

    def run(self) -> None:
        while not self.done.wait(0.02):
            processing = self.client.processing()
            names = {addr: w["name"] for addr, w in self.client.scheduler_info(n_workers=-1)["workers"].items()}
            for addr, keys in processing.items():
                slices = {str(k) for k in keys if str(k).startswith("train_slice-")}
                if not slices or addr not in names:  # (a worker gone between the two questions)
                    continue
                name = names[addr]
                new = slices - set().union(*self.seen.values())
                self.seen.setdefault(name, set()).update(slices)
                if self.kill_next and not self.killed and new:  # a slice just begun: it cannot end meanwhile
                    self.stack.kill(name)
                    self.killed.append(name)
                    self.lost = slices


def children(pid: int) -> list[int]:
    out = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            out += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            pass
    return out


def replica_of(visitor: Visitor) -> str:
    return visitor.cookies["DIGIT_LAB_REPLICA"]


def test_the_command_starts_the_stack_and_sigterm_stops_it(mnist_dir, tmp_path):
    """docs/deploy.md's command, as a person runs it (first in the module: no other stack runs meanwhile)."""
    needs_haproxy_and_postgres()
    output = tmp_path / "stack.out"
    with open(output, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "deploy.stack", "--replicas", "1", "--workers", "1", "--port",
                                 "0", "--data-dir", str(mnist_dir.parent)], cwd=ROOT, stdin=subprocess.DEVNULL,
                                stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 180
        while "started in" not in output.read_text() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.5)
        printed = output.read_text()
        assert "started in" in printed, printed
        url = re.search(r"Digit Lab at (http://127\.0\.0\.1:\d+)", printed).group(1)
        replica = re.search(r"replica-1: (http://\S+)", printed).group(1)
        logs = Path(re.search(r"logs: (\S+)", printed).group(1))
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=10) as r:
            assert r.status == 200
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(90) == 0, output.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert "stopping" in output.read_text()
    assert not logs.exists()
    for gone in (url, replica):  # every part stopped, not just the launcher
        with pytest.raises(OSError):
            urllib.request.urlopen(f"{gone}/_stcore/health", timeout=5)


def test_every_part_is_up(stack):
    assert stack.backends() == {"replica-1": "UP", "replica-2": "UP"}
    assert stack.engine_workers() == 2


def test_a_run_trains_on_the_workers_and_its_share_opens_on_the_other_replica(stack):
    from webapp.store import Store, create_engine

    shared = {}
    watcher = Watcher(stack)

    async def main():
        visitor = Visitor(stack.url)
        await visitor.open()
        try:
            await visitor.load()
            # Epochs of a second or so: slices of short ones hold several epochs, and a run of tiny epochs
            # could end between two of the panel's reruns, before any epoch under way was shown.
            await visitor.train(epochs=4, subset=20000, hidden="1024")
            epochs = await visitor.follow()
            assert epochs, "no epoch under way was shown"
            assert visitor.outcome == "Finished 4 epochs"
            shared["id"], shared["name"] = await visitor.share()
            shared["replica"] = replica_of(visitor)
        finally:
            await visitor.close()
        other = next(url for url, name in zip(stack.replica_urls, ("replica-1", "replica-2"))
                     if name != shared["replica"])
        reader = Visitor(other, OTHER_VISITOR)  # straight to the replica the share was not made on
        await reader.open()
        try:
            shared["page"] = await reader.load(query=f"model={shared['id']}")
        finally:
            await reader.close()

    with watcher:
        run(main())
    assert watcher.seen, "no training slice was seen on the engine's workers"
    assert set(watcher.seen) <= {"worker-1", "worker-2"}
    for name in ("replica-1", "replica-2"):  # no engine embedded in a replica: it trained nothing itself
        assert children(stack.parts[name].proc.pid) == [], f"{name} started processes of its own"
    assert shared["name"] in shared["page"], shared["page"][-2000:]
    assert "not available" not in shared["page"]
    # The replica saw the visitor's address as the balancer forwarded it, and the per-address limits count it.
    store = Store(create_engine(stack.store_url))
    rows = store.items(address=VISITOR)
    assert [r["id"] for r in rows if r["kind"] == "model"] == [shared["id"]], rows
    assert store.items(address="127.0.0.1") == []
    stack.shared = shared


def test_a_worker_killed_while_it_trains_loses_nothing(stack):
    watcher = Watcher(stack)

    def arm(epoch: int) -> None:
        watcher.kill_next = True  # the run is under way: the next slice seen dies with its worker

    async def main():
        visitor = Visitor(stack.url)
        await visitor.open()
        try:
            await visitor.load()
            # Slices of about a second each, many of them: however late the page shows the first epoch (it
            # refreshes every 1-2 s), slices are still to come (with 10 epochs, two slices could hold them all).
            await visitor.train(epochs=40, subset=20000, hidden="128")
            await visitor.follow(on_epoch=arm)
            return visitor.outcome
        finally:
            await visitor.close()

    with watcher:
        outcome = run(main())
    assert watcher.killed, "no worker was seen training"
    (other,) = set(watcher.seen) - set(watcher.killed)
    assert watcher.lost & watcher.seen[other], "the slice under way was not run again on the other worker"
    assert outcome == "Finished 40 epochs"
    assert stack.engine_workers() == 1


def test_after_the_scheduler_and_its_workers_restart_the_replicas_train_again(stack):
    stack.kill("scheduler")
    time.sleep(7)  # away longer than a Dask client waits to reconnect (5 s): the replicas' clients close
    stack.restart("scheduler")  # at its address: the replicas' settings name it
    for name in ("worker-1", "worker-2"):  # workers exit when they lose their scheduler (and one was killed)
        stack.restart(name)
    assert stack.engine_worker_names() == ["worker-1", "worker-2"]

    async def main():
        visitor = Visitor(stack.url)
        await visitor.open()
        try:
            await visitor.load()
            return await visitor.train_to_the_end(epochs=2)  # the next Start must train, if not the first
        finally:
            await visitor.close()

    assert run(main()) == "Finished 2 epochs"


def test_a_replica_killed_loses_no_share_and_its_visitors_train_on_the_other(stack):
    shared = getattr(stack, "shared", None)

    async def before():
        visitor = Visitor(stack.url)
        await visitor.open()
        try:
            await visitor.load()
            return dict(visitor.cookies)
        finally:
            await visitor.close()

    cookies = run(before())
    lost = cookies["DIGIT_LAB_REPLICA"]
    stack.kill(lost)

    async def after():
        visitor = Visitor(stack.url, cookies=cookies)  # the same browser comes back through the balancer
        await visitor.open()
        try:
            page = await visitor.load(query=f"model={shared['id']}" if shared else "")
            # This replica's client may still be giving up on the scheduler the test before restarted (CI found it
            # so once): its first Start may be asked to try again.
            outcome = await visitor.train_to_the_end(epochs=2)
            return page, replica_of(visitor), outcome
        finally:
            await visitor.close()

    page, landed, outcome = run(after())
    assert landed != lost
    assert outcome == "Finished 2 epochs"
    if shared:  # made on whichever replica, kept in PostgreSQL
        assert shared["name"] in page and "not available" not in page
    deadline = time.monotonic() + WAIT
    while stack.backends().get(lost) != "DOWN" and time.monotonic() < deadline:
        time.sleep(0.5)
    assert stack.backends()[lost] == "DOWN"


def test_ci_installs_haproxy():
    ci = (ROOT / ".ci" / "run").read_text()
    assert re.search(r'packages="[^"]*\bhaproxy\b', ci), "CI must install haproxy for this module"

