"""Where the test suite's time goes: CPU seconds by kind of process while `python -m pytest` runs.

    MLP_DATA_DIR=../shared python -m benchmarks.suite_cpu [--interval 0.5] [--json] [-- PYTEST ARGS ...]

Runs ``python -m pytest`` (README's test command; anything after ``--`` is passed on) and samples every
process on the machine each ``--interval`` seconds (psutil), adding up the CPU seconds each used while the
suite ran, by kind: Chromium (the browser tests), the app's servers (``streamlit run``), the training
engine's scheduler and workers (Dask), the pytest workers themselves (the tests that run in-process:
AppTest pages, the store, the network), Playwright's driver, and the rest. Prints the wall time, the CPU
by kind, and how busy the machine's CPUs were: a suite whose CPU seconds come near wall time times the CPU
count cannot finish sooner by running more at once.

A process first seen after the suite started counts all of its CPU time; one that ends between two
samples loses what it used since the last one (at most an interval), so the totals are a little low.
Processes that were running before the suite count only what they used during it. Every process on the
machine counts, by its kind: run it on a machine doing nothing else.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Sequence
from typing import Any

import psutil

#: (kind, words of which one in a process's command line puts it there), first match wins.
KINDS = (
    ("chromium", ("chromium", "chrome")),
    ("app servers", ("streamlit",)),
    ("training engine", ("dask", "distributed", "multiprocessing")),  # a Dask worker's nanny spawns it
    ("playwright driver", ("playwright",)),
    ("pytest", ("pytest", "sys.stdin.readline()")),  # pytest-xdist's workers start as execnet's one-liner
)


def kind_of(cmdline: Sequence[str]) -> str:
    """The KINDS name of a process with this command line, else "other"."""
    line = " ".join(cmdline)
    for kind, words in KINDS:
        if any(word in line for word in words):
            return kind
    return "other"


class CpuByKind:
    """CPU seconds used by every process since `start()`, by kind, from samples."""

    def __init__(self) -> None:
        self.seconds: Counter[str] = Counter()
        self._last: dict[tuple[int, float], tuple[str, float]] = {}  # (pid, create_time) -> (kind, cpu seen)

    def sample(self, first: bool = False) -> None:
        """Add what each process used since the last sample (all of it for one new since then)."""
        seen = set()
        for p in psutil.process_iter(["name", "cmdline", "cpu_times", "create_time"]):
            times, created = p.info["cpu_times"], p.info["create_time"]
            if times is None or created is None:  # gone, or not ours to read
                continue
            key, used = (p.pid, created), times.user + times.system
            seen.add(key)
            if key in self._last:
                kind, before = self._last[key]
            else:
                kind, before = kind_of(p.info["cmdline"] or [p.info["name"] or ""]), (used if first else 0.0)
            self.seconds[kind] += used - before
            self._last[key] = (kind, used)
        self._last = {k: v for k, v in self._last.items() if k in seen}


def measure(pytest_args: Sequence[str], interval: float, output_to_stderr: bool = False) -> dict[str, Any]:
    """Run pytest with `pytest_args`, sampling; the figures. `output_to_stderr`: pytest's output goes to this
    process's standard error (file descriptor 2), leaving standard output to the figures."""
    cpu = CpuByKind()
    cpu.sample(first=True)
    started = time.monotonic()
    suite = subprocess.Popen([sys.executable, "-m", "pytest", *pytest_args], stdin=subprocess.DEVNULL,
                             stdout=2 if output_to_stderr else None)
    while suite.poll() is None:
        time.sleep(interval)
        cpu.sample()
    wall = time.monotonic() - started
    cpu.sample()
    total = sum(cpu.seconds.values())
    cpus = psutil.cpu_count() or 1
    return {
        "pytest_args": list(pytest_args), "exit_code": suite.returncode, "wall_seconds": wall, "cpus": cpus,
        "cpu_seconds": total, "busy": total / (wall * cpus),
        "by_kind": {k: v for k, v in cpu.seconds.most_common() if v > 0},
    }


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--interval", type=float, default=0.5, help="seconds between samples (default 0.5)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("pytest_args", nargs="*", help="after --: arguments for pytest")
    args = p.parse_args(argv)
    if not 0 < args.interval <= 10:
        p.error(f"--interval must be in (0, 10] seconds, got {args.interval}")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    result = measure(args.pytest_args, args.interval, output_to_stderr=args.json)
    if args.json:
        print(json.dumps(result, indent=2))
        return int(result["exit_code"] != 0)
    print(f"pytest {' '.join(args.pytest_args)}: exit code {result['exit_code']}, {result['wall_seconds']:.0f} s "
          f"of wall time, {result['cpu_seconds']:.0f} CPU seconds on {result['cpus']} CPUs "
          f"({result['busy']:.0%} busy)")
    for kind, seconds in result["by_kind"].items():
        print(f"  {kind:18} {seconds:7.1f} s  {seconds / result['cpu_seconds']:4.0%}")
    return int(result["exit_code"] != 0)  # the figures of a failing suite are suspect


if __name__ == "__main__":
    sys.exit(main())
