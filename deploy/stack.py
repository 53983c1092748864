"""The whole stack on one machine, on 127.0.0.1: app replicas behind HAProxy, a Dask scheduler and workers, PostgreSQL.

    python -m deploy.stack --replicas 2 --workers 2 --port 8080       # Ctrl-C (or SIGTERM) stops it all

What it starts, each a process of its own (its output in the run folder's <name>.log):

* `postgres`: a throwaway PostgreSQL cluster in a temporary folder (Debian's binaries, as .ci/run starts
  one: a random port and password, loopback only, removed at the end), unless --store-url names a
  database; the store's migrations are run once (`python -m webapp.store migrate`) before any replica;
* `scheduler`: `dask scheduler` on 127.0.0.1 (no dashboard);
* `worker-1` ... `worker-M`: `dask worker tcp://... --nthreads 1 --nworkers 1`, the project on PYTHONPATH,
  MLP_DATA_DIR passed on (the datasets they train on);
* `replica-1` ... `replica-N`: `streamlit run app.py` on ports of their own, with DIGIT_LAB_ENGINE (the
  scheduler), DIGIT_LAB_STORE_URL (the database), DIGIT_LAB_TRUSTED_PROXIES=127.0.0.1 (the balancer) and
  one cookie secret for all;
* `haproxy`: the balancer at --port, from the template deploy/haproxy.cfg (sticky sessions by cookie,
  WebSockets, health checks on /_stcore/health, X-Forwarded-For added).

Each part is waited for (a timeout on every wait) before the next starts; the URL is printed once every
replica is up behind the balancer. Other DIGIT_LAB_* settings in the environment reach the replicas as
they are. Stopping ends the parts in reverse order (SIGTERM to each one's process group, SIGKILL after
10 s) and removes the temporary folders. Tests use `Stack` directly (tests/deploy/test_stack.py).
"""

from __future__ import annotations

import argparse
import csv
import functools
import io
import os
import re
import secrets
import shutil
import signal
import socket
import string
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

__all__ = ["HOST", "Part", "Stack", "StackError", "main", "postgres_binaries"]

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = Path(__file__).with_name("haproxy.cfg")
HOST = "127.0.0.1"
MAX_REPLICAS, MAX_WORKERS = 8, 16
STOP_SECONDS = 10  # a part's grace after SIGTERM before SIGKILL
POSTGRES_USER = "digit_lab"


class StackError(RuntimeError):
    """A part did not start (the message names it and ends with its log's last lines)."""


@dataclass
class Part:
    """One process of the stack: its name, the process (leader of its own process group) and its log."""

    name: str
    proc: subprocess.Popen[bytes]
    log: Path
    port: int | None
    argv: list[str]
    env: dict[str, str]

    def alive(self) -> bool:
        """True while the process runs."""
        return self.proc.poll() is None

    def tail(self, chars: int = 2000) -> str:
        """The end of its log."""
        try:
            return self.log.read_text(errors="replace")[-chars:]
        except OSError:
            return ""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind((HOST, 0))
        port: int = s.getsockname()[1]
        return port


def wait_until(check: Callable[[], bool], timeout: float, what: str, part: Part | None = None,
               interval: float = 0.3) -> None:
    """Call `check` until it returns True; StackError after `timeout` s, or as soon as `part` has exited."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if check():
                return
        except OSError:
            pass
        if part is not None and not part.alive():
            raise StackError(f"{part.name} exited (code {part.proc.returncode}) before {what}:\n{part.tail()}")
        if time.monotonic() > deadline:
            tail = f":\n{part.tail()}" if part is not None else ""
            raise StackError(f"no {what} within {timeout:g} s{tail}")
        time.sleep(interval)


def _listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex((HOST, port)) == 0


def _healthy(url: str) -> bool:
    with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
        return bool(r.status == 200)


def postgres_binaries() -> Path | None:
    """The newest of Debian's PostgreSQL server folders (/usr/lib/postgresql/<version>/bin), or None."""
    found = [p for p in Path("/usr/lib/postgresql").glob("*/bin") if (p / "initdb").exists()]
    if not found:
        return None
    return max(found, key=lambda p: [int(n) for n in re.findall(r"\d+", p.parent.name)] or [0])


class Stack:
    """The stack's processes; `start()` (or `with Stack(...) as stack:`) starts them all, `stop()` ends them.

    store_url: a database to use (its schema is migrated); None: a throwaway PostgreSQL cluster.
    port: the balancer's (0: a free one). data_dir: MLP_DATA_DIR for replicas and workers (default: this
    environment's). env: more environment for the replicas and workers. timeout: seconds each part may take
    to become ready.
    """

    def __init__(self, replicas: int = 2, workers: int = 2, port: int = 8080, *, store_url: str | None = None,
                 data_dir: str | None = None, env: Mapping[str, str] | None = None, timeout: float = 120,
                 worker_memory: str = "2GiB") -> None:
        if not 1 <= replicas <= MAX_REPLICAS or not 1 <= workers <= MAX_WORKERS:
            raise ValueError(f"1-{MAX_REPLICAS} replicas and 1-{MAX_WORKERS} workers, got {replicas} and {workers}")
        self.replicas, self.workers, self.port = replicas, workers, port or free_port()
        self.store_url, self.timeout, self.worker_memory = store_url, timeout, worker_memory
        self.data_dir = data_dir if data_dir is not None else os.environ.get("MLP_DATA_DIR")
        self.extra_env = dict(env or {})
        self.parts: dict[str, Part] = {}
        self.run_dir = Path(tempfile.mkdtemp(prefix="digit-lab-stack."))
        self.url = f"http://{HOST}:{self.port}"
        self.scheduler = ""
        self.replica_urls: list[str] = []
        self._pg: tuple[Path, Path] | None = None  # (binaries, cluster folder) of the throwaway PostgreSQL
        self._pg_as: list[str] = []  # runuser prefix when we are root (PostgreSQL refuses to run as root)

    # -- starting ---------------------------------------------------------------------------------------

    def __enter__(self) -> Stack:
        self.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def start(self) -> None:
        """Start every part and wait until the balancer has every replica up; StackError (all stopped) if one fails."""
        try:
            if self.store_url is None:
                self.store_url = self._start_postgres()
            self._migrate()
            self._start_engine()
            self._start_replicas()
            self._start_balancer()
        except BaseException:
            self.stop()
            raise

    def _env(self, **more: str) -> dict[str, str]:
        env = {**os.environ, **self.extra_env, **more}
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
        if self.data_dir:
            env["MLP_DATA_DIR"] = self.data_dir
        env["DIGIT_LAB_STORE_URL"] = self.store_url or ""
        return env

    def _spawn(self, name: str, argv: Sequence[str], env: Mapping[str, str], port: int | None = None) -> Part:
        log = self.run_dir / f"{name}.log"
        with open(log, "ab") as out:  # the child keeps its own descriptor
            proc = subprocess.Popen(list(argv), cwd=ROOT, env=dict(env), stdin=subprocess.DEVNULL, stdout=out,
                                    stderr=subprocess.STDOUT, start_new_session=True)
        part = self.parts[name] = Part(name, proc, log, port, list(argv), dict(env))
        return part

    def _start_postgres(self) -> str:
        bin_dir = postgres_binaries()
        if bin_dir is None:
            raise StackError("PostgreSQL's server is not installed (apt-get install postgresql), and no --store-url "
                             "was given")
        folder = Path(tempfile.mkdtemp(prefix="digit-lab-pg."))  # not in run_dir: the postgres user must reach it
        self._pg = (bin_dir, folder)
        port, password = free_port(), secrets.token_hex(16)
        (folder / "pwfile").write_text(password + "\n")
        if os.geteuid() == 0:  # initdb refuses root: the cluster belongs to Debian's postgres user
            shutil.chown(folder, "postgres")
            shutil.chown(folder / "pwfile", "postgres")
            self._pg_as = ["runuser", "-u", "postgres", "--"]
        run = self._pg_as
        subprocess.run([*run, str(bin_dir / "initdb"), "-D", str(folder / "data"), "-U", POSTGRES_USER,
                        f"--pwfile={folder / 'pwfile'}", "--auth=scram-sha-256", "--encoding=UTF8",
                        "--locale=C.UTF-8"], check=True, stdout=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
                       timeout=self.timeout)
        # fsync off: a throwaway cluster for a local stack, not a database to keep (docs/deploy.md).
        subprocess.run([*run, str(bin_dir / "pg_ctl"), "-D", str(folder / "data"), "-l", str(folder / "server.log"),
                        "-w", "-t", str(int(self.timeout)), "-o",
                        f"-c listen_addresses={HOST} -p {port} -k {folder} -c fsync=off", "start"],
                       check=True, stdout=subprocess.DEVNULL, stdin=subprocess.DEVNULL, timeout=self.timeout + 10)
        subprocess.run([str(bin_dir / "createdb"), "-h", HOST, "-p", str(port), "-U", POSTGRES_USER, "digit_lab"],
                       check=True, env={**os.environ, "PGPASSWORD": password}, stdin=subprocess.DEVNULL,
                       timeout=self.timeout)
        return f"postgresql+psycopg://{POSTGRES_USER}:{password}@{HOST}:{port}/digit_lab"

    def _migrate(self) -> None:
        """The store's schema, once, before any replica could race another to make it."""
        done = subprocess.run([sys.executable, "-m", "webapp.store", "migrate"], cwd=ROOT, env=self._env(),
                              stdin=subprocess.DEVNULL, capture_output=True, timeout=self.timeout)
        if done.returncode != 0:
            raise StackError(f"the store's migration failed:\n{(done.stdout + done.stderr).decode()[-2000:]}")

    def _start_engine(self) -> None:
        port = free_port()
        self.scheduler = f"tcp://{HOST}:{port}"
        dask = [sys.executable, "-m", "dask"]  # the `dask` command of this Python
        part = self._spawn("scheduler", [*dask, "scheduler", "--host", HOST, "--port", str(port), "--no-dashboard"],
                           self._env(), port)
        wait_until(lambda: _listening(port), self.timeout, "scheduler listening", part)
        for i in range(1, self.workers + 1):
            name = f"worker-{i}"
            (self.run_dir / name).mkdir()
            self._spawn(name, [*dask, "worker", self.scheduler, "--nthreads", "1",
                               "--nworkers", "1", "--host", HOST, "--no-dashboard", "--name", name,
                               "--memory-limit", self.worker_memory, "--local-directory", str(self.run_dir / name)],
                        self._env())
        wait_until(lambda: self.engine_workers() >= self.workers, self.timeout,
                   f"{self.workers} workers at the scheduler", part, interval=1)

    def engine_workers(self) -> int:
        """How many workers the scheduler has now."""
        return len(self.engine_worker_names())

    def engine_worker_names(self) -> list[str]:
        """The names of the workers the scheduler has now (worker-1, ...)."""
        from distributed import Client

        with Client(self.scheduler, timeout=5, set_as_default=False) as client:
            return sorted(str(w["name"]) for w in client.scheduler_info(n_workers=-1)["workers"].values())

    def _start_replicas(self) -> None:
        env = self._env(DIGIT_LAB_ENGINE=self.scheduler, DIGIT_LAB_TRUSTED_PROXIES=HOST,
                        # One secret for every replica: what one signs (cookies), any other reads.
                        STREAMLIT_SERVER_COOKIE_SECRET=secrets.token_hex(32))
        for i in range(1, self.replicas + 1):
            port = free_port()
            self._spawn(f"replica-{i}", [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless",
                                         "true", "--server.address", HOST, "--server.port", str(port),
                                         "--browser.gatherUsageStats", "false"], env, port)
            self.replica_urls.append(f"http://{HOST}:{port}")
        for i, url in enumerate(self.replica_urls, 1):
            wait_until(functools.partial(_healthy, url), self.timeout, "health check answered",
                       self.parts[f"replica-{i}"])

    def _start_balancer(self) -> None:
        haproxy = shutil.which("haproxy") or "/usr/sbin/haproxy"
        if not Path(haproxy).exists():
            raise StackError("HAProxy is not installed (apt-get install haproxy)")
        servers = "\n".join(f"    server {name} {HOST}:{part.port} check cookie {name}"
                            for name, part in self.parts.items() if name.startswith("replica-"))
        config = self.run_dir / "haproxy.cfg"
        config.write_text(string.Template(TEMPLATE.read_text()).substitute(
            bind=f"{HOST}:{self.port}", servers=servers, stats=self.run_dir / "haproxy.sock"))
        checked = subprocess.run([haproxy, "-c", "-f", str(config)], capture_output=True, timeout=30)
        if checked.returncode != 0:
            raise StackError(f"HAProxy refused {config}:\n{(checked.stdout + checked.stderr).decode()[-2000:]}")
        part = self._spawn("haproxy", [haproxy, "-db", "-f", str(config)], self._env(), self.port)
        wait_until(lambda: set(self.backends().values()) == {"UP"} and len(self.backends()) == self.replicas,
                   self.timeout, "every replica up behind the balancer", part)
        wait_until(lambda: _healthy(self.url), self.timeout, "health check through the balancer", part)

    # -- looking and acting ---------------------------------------------------------------------------

    def backends(self) -> dict[str, str]:
        """{replica name: status} as HAProxy's health checks see them ("UP", "DOWN", "UP 1/2", ...)."""
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(5)
            s.connect(str(self.run_dir / "haproxy.sock"))
            s.sendall(b"show stat\n")
            data = b""
            while chunk := s.recv(65536):
                data += chunk
        rows = csv.DictReader(io.StringIO(data.decode().lstrip("# ")))
        return {row["svname"]: row["status"] for row in rows
                if row["pxname"] == "replicas" and row["svname"] not in ("FRONTEND", "BACKEND")}

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        """Send `sig` to a part's whole process group (a dask worker's nanny and its worker process together)."""
        part = self.parts[name]
        try:
            os.killpg(part.proc.pid, sig)
        except ProcessLookupError:
            pass
        part.proc.wait(STOP_SECONDS)

    def restart(self, name: str) -> None:
        """Start a part again as it was first started (SIGKILL first if it runs), and wait until it is ready.

        What a supervisor (systemd's Restart=) does on real hosts. Dask workers exit when they lose their
        scheduler: after the scheduler, restart them too (docs/deploy.md).
        """
        old = self.parts[name]
        if old.alive():
            self.kill(name)
        part = self._spawn(name, old.argv, old.env, old.port)
        if name == "scheduler":
            wait_until(lambda: _listening(self.parts["scheduler"].port or 0), self.timeout, "scheduler listening", part)
        elif name.startswith("worker-"):
            wait_until(lambda: name in self.engine_worker_names(), self.timeout, f"{name} at the scheduler", part)
        elif name.startswith("replica-"):
            url = self.replica_urls[int(name.split("-")[1]) - 1]
            wait_until(functools.partial(_healthy, url), self.timeout, "health check answered", part)
            wait_until(lambda: self.backends().get(name) == "UP", self.timeout, f"{name} up behind the balancer")

    def describe(self) -> str:
        """What runs where, for a person."""
        lines = [f"Digit Lab at {self.url}  (HAProxy: {len(self.replica_urls)} replicas)"]
        lines += [f"  replica-{i}: {url}" for i, url in enumerate(self.replica_urls, 1)]
        lines += [f"  scheduler: {self.scheduler}  ({self.workers} workers)", f"  store: {self._shown_store()}",
                  f"  logs: {self.run_dir}"]
        return "\n".join(lines)

    def _shown_store(self) -> str:
        return re.sub(r"://([^:/@]+):[^@]*@", r"://\1:***@", self.store_url or "")

    # -- stopping -------------------------------------------------------------------------------------

    def stop(self) -> None:
        """End every part, newest first, and remove the temporary folders. Safe to call twice."""
        for part in reversed(list(self.parts.values())):
            _end(part.proc)
        self.parts.clear()
        if self._pg is not None:
            bin_dir, folder = self._pg
            self._pg = None
            subprocess.run([*self._pg_as, str(bin_dir / "pg_ctl"), "-D", str(folder / "data"), "-m", "fast", "-w",
                            "-t", str(STOP_SECONDS), "stop"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           stdin=subprocess.DEVNULL, timeout=STOP_SECONDS + 10, check=False)
            shutil.rmtree(folder, ignore_errors=True)
        shutil.rmtree(self.run_dir, ignore_errors=True)


def _end(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the process group, SIGKILL to it after STOP_SECONDS."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            pass
        try:
            proc.wait(STOP_SECONDS)
            if sig == signal.SIGTERM:  # the leader is gone; its group's stragglers go too
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            return
        except subprocess.TimeoutExpired:
            continue


def _on_sigterm(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    """The command: start the stack, print where it is, keep it up until Ctrl-C or SIGTERM."""
    p = argparse.ArgumentParser(prog="python -m deploy.stack", description=__doc__.split("\n\n")[0])
    p.add_argument("--replicas", type=int, default=2, help=f"app replicas (streamlit run), 1-{MAX_REPLICAS}")
    p.add_argument("--workers", type=int, default=2, help=f"Dask worker processes, one thread each, 1-{MAX_WORKERS}")
    p.add_argument("--port", type=int, default=8080, help="the balancer's port on 127.0.0.1 (0: a free one)")
    p.add_argument("--store-url", help="an SQLAlchemy URL of the store's database (default: a throwaway PostgreSQL)")
    p.add_argument("--data-dir", help="MLP_DATA_DIR for replicas and workers (default: this environment's)")
    p.add_argument("--worker-memory", default="2GiB", help="each worker's memory limit (its nanny restarts it past)")
    p.add_argument("--timeout", type=float, default=120, help="seconds each part may take to start")
    args = p.parse_args(argv)
    signal.signal(signal.SIGTERM, _on_sigterm)
    began = time.monotonic()
    stack = Stack(args.replicas, args.workers, args.port, store_url=args.store_url, data_dir=args.data_dir,
                  timeout=args.timeout, worker_memory=args.worker_memory)
    try:
        stack.start()
        print(f"{stack.describe()}\nstarted in {time.monotonic() - began:.0f} s; Ctrl-C stops it", flush=True)
        reported: set[str] = set()
        while True:
            time.sleep(1)
            for name, part in list(stack.parts.items()):
                if not part.alive() and name not in reported:
                    reported.add(name)
                    print(f"{name} exited (code {part.proc.returncode}); see {part.log}", file=sys.stderr, flush=True)
    except KeyboardInterrupt:
        print("stopping ...", flush=True)
        return 0
    except StackError as e:
        print(f"the stack did not start: {e}", file=sys.stderr)
        return 1
    finally:
        # A second Ctrl-C or SIGTERM (a terminal's, or `timeout` signalling its whole group) must not cut
        # the stopping short and leave parts running.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        stack.stop()


if __name__ == "__main__":
    sys.exit(main())
