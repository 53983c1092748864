"""Soak: visitors upload, share, teach, train and leave, for many minutes; does the server give its memory back?

    MLP_DATA_DIR=../shared python -m benchmarks.soak --visitors 4 --minutes 10

Starts the app on 127.0.0.1 with its default settings (or uses --url, without memory figures) and a
fresh store, then runs `--visitors` browsers (Debian's chromium through Playwright, traffic on
loopback only) that each, over and over until the time is up, are a new student: open Draw,
upload a model file of their own (random weights, 784-H-10 with H from 64 to 512), share it,
draw three digits and keep them as corrections, teach the model (a training worker) and wait for
the taught model, then open Train, train a small network for a few epochs, wait for it to
finish, and close the browser. A warm-up visitor goes through all of that first (the dataset,
the shipped model and the test-set evaluations load once and stay: that is the baseline), then
its session is let go.

Printed: the server's resident memory at the baseline, its peak, and at the end, after the last
visitor left and the server closed their sessions (half of Streamlit's disconnected-session TTL,
default 60 s: webapp.session.reaper), with how long that took; the peak with the training workers; the
visits and errors. The goal (Safe to host): the end within 15% of the baseline. Bounded: the run
stops after --minutes, every visit has a time limit, the end waits at most --settle seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from benchmarks.load_test import family_rss_mb, memory_mb
from harness import CHROMIUM, CHROMIUM_ARGS, start_app, stop_app
from mlp import MLP, model_to_bytes

if TYPE_CHECKING:
    from playwright.async_api import Browser, Page

STROKES = ([(140, 40), (140, 240)], [(60, 60), (200, 60), (120, 240)], [(80, 40), (90, 250)])
VISIT_LIMIT = 600  # seconds one visit may take before it counts as an error


async def settle(page: Page, quiet: float = 0.6, timeout: float = 60) -> None:
    """Wait until the app has not been running a script for `quiet` seconds."""
    status = page.locator('[data-testid="stStatusWidget"]')
    deadline, calm_since = time.time() + timeout, None
    while time.time() < deadline:
        if await status.count() and await status.first.is_visible():
            calm_since = None
        elif calm_since is None:
            calm_since = time.time()
        elif time.time() - calm_since >= quiet:
            return
        await asyncio.sleep(0.05)
    raise TimeoutError(f"the app kept running for {timeout} s")


async def wait_for_text(page: Page, pattern: str, timeout: float = 120) -> None:
    """Wait until the main area's text matches `pattern` (a regular expression)."""
    main = page.locator('[data-testid="stMain"]')
    deadline = time.time() + timeout
    while not re.search(pattern, (await main.inner_text()).replace("\u2060", "")):
        if time.time() > deadline:
            raise TimeoutError(f"{pattern!r} never showed")
        await asyncio.sleep(0.3)


async def stroke(page: Page, points: Sequence[tuple[float, float]]) -> None:
    """Drag the mouse through `points` in canvas pixels (0-280), as harness.draw_stroke does, in view first."""
    canvas = page.locator("canvas.upper-canvas")
    await canvas.scroll_into_view_if_needed()
    box = await canvas.bounding_box()
    scale = box["width"] / 280
    await page.mouse.move(box["x"] + points[0][0] * scale, box["y"] + points[0][1] * scale)
    await page.mouse.down()
    for x, y in points[1:]:
        await page.mouse.move(box["x"] + x * scale, box["y"] + y * scale, steps=8)
    await page.mouse.up()


async def visit(browser: Browser, url: str, seed: int, epochs: int) -> dict[str, float]:
    """One student, start to finish; what they did ({step: seconds})."""
    done, t = {}, time.time()
    context = await browser.new_context(viewport={"width": 1280, "height": 1000})
    context.set_default_timeout(120_000)
    try:
        page = await context.new_page()
        await page.goto(url)
        await page.locator("canvas.upper-canvas").wait_for()
        await settle(page)
        hidden = 64 + (seed * 97) % 449
        await page.get_by_text("Use your own model (.npz)").click()
        await page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(files=[{
            "name": f"student{seed}.npz", "mimeType": "application/octet-stream",
            "buffer": model_to_bytes(MLP([784, hidden, 10], seed=seed))}])
        await wait_for_text(page, r"Share model")
        await settle(page)
        done["upload"] = time.time() - t
        await page.get_by_role("button", name="Share model").click()
        await wait_for_text(page, r"link gets|not shared")
        done["share"] = time.time() - t
        for i, points in enumerate(STROKES):
            if i:
                await page.get_by_role("button", name="Clear").click()
                await settle(page)
            await stroke(page, points)
            await settle(page)
            await page.locator(".st-key-correction").get_by_role("radio", name=str(7 - i), exact=True).click()
            await settle(page)
        await page.get_by_role("button", name="Teach the model").click()
        await wait_for_text(page, r"learnt your 3 drawings", timeout=300)
        done["teach"] = time.time() - t
        await page.goto(f"{url}/train?hidden=64&epochs={epochs}&use_subset=true&subset=3000&seed={seed}")
        start = page.get_by_role("button", name="Start", exact=True)
        await start.wait_for()
        await settle(page)
        await start.click()
        await wait_for_text(page, r"Finished|Stopped|failed", timeout=300)
        done["train"] = time.time() - t
        if await page.locator('[data-testid="stException"]').count():
            raise RuntimeError("an exception was shown on the page")
    finally:
        await context.close()
    return done


async def student(browser: Browser, url: str, until: float, seed: int, epochs: int, report: dict[str, Any]) -> None:
    """Visit after visit until the time is up."""
    n = 0
    while time.time() < until:
        try:
            report["visits"].append(await asyncio.wait_for(visit(browser, url, seed * 1000 + n, epochs), VISIT_LIMIT))
        except Exception as e:  # noqa: BLE001 - counted and reported
            report["errors"].append(f"{type(e).__name__}: {str(e)[:200]}")
        n += 1


async def run(url: str, proc: subprocess.Popen[Any] | None, visitors: int, minutes: float, epochs: int,
              settle_seconds: float) -> dict[str, Any]:
    from playwright.async_api import async_playwright

    report: dict[str, Any] = {"visits": [], "errors": [], "samples": []}
    stop = asyncio.Event()

    async def sample() -> None:
        while not stop.is_set():
            if proc is not None:
                report["samples"].append((time.time(), memory_mb(proc.pid)[0], family_rss_mb(proc.pid)))
            await asyncio.sleep(1.0)

    sampler = asyncio.create_task(sample())
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        warm = await visit(browser, url, 0, epochs)  # loads what stays for every visitor
        report["warm_up_s"] = round(max(warm.values()), 1)
        report["baseline_mb"] = await settled_rss(proc, settle_seconds) if proc is not None else None
        t0 = time.time()
        until = t0 + minutes * 60
        await asyncio.gather(*(student(browser, url, until, i + 1, epochs, report) for i in range(visitors)))
        report["soak_s"] = round(time.time() - t0)
        await browser.close()
    left = time.time()
    if proc is not None:
        report["end_mb"] = await settled_rss(proc, settle_seconds)
        report["end_after_s"] = round(time.time() - left)
    stop.set()
    await sampler
    return report


async def settled_rss(proc: subprocess.Popen[Any], limit: float, grace: float = 70, steady: float = 20) -> float:
    """The server's RSS once the visitors who left have had their sessions closed: after `grace` seconds
    (a session's 60 s by default, and the reaper's sweep), when it has not fallen for `steady` seconds;
    at most `limit` seconds."""
    start = time.time()
    last, steady_since = None, start
    while True:
        rss = memory_mb(proc.pid)[0]
        now = time.time()
        if last is None or rss < last - 2:
            steady_since = now
        if (now - start >= grace and now - steady_since >= steady) or now - start >= limit:
            return round(rss, 1)
        last = rss
        await asyncio.sleep(2)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--visitors", type=int, default=4, help="students at once")
    p.add_argument("--minutes", type=float, default=10, help="how long new visits start")
    p.add_argument("--epochs", type=int, default=3, help="epochs of each student's run on Train")
    p.add_argument("--settle", type=float, default=240, help="seconds to wait, at most, for memory to come back")
    p.add_argument("--url", help="use a running app (no memory figures then)")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    proc, url = None, args.url
    store = tempfile.TemporaryDirectory()
    if url is None:
        proc, url = start_app({"DIGIT_LAB_STORE_URL": f"sqlite:///{store.name}/soak.sqlite"})
    try:
        report = asyncio.run(run(url, proc, args.visitors, args.minutes, args.epochs, args.settle))
        peak_hwm = memory_mb(proc.pid)[1] if proc is not None else None
    finally:
        if proc is not None:
            stop_app(proc)
        store.cleanup()
    samples = report.pop("samples")
    visits = report.pop("visits")
    result = {
        "visitors": args.visitors, "minutes": args.minutes, "visits": len(visits),
        "errors": len(report["errors"]), "error_messages": report["errors"][:10],
        "visit_median_s": round(statistics.median(max(v.values()) for v in visits), 1) if visits else None,
        "baseline_mb": report.get("baseline_mb"), "peak_mb": round(peak_hwm, 1) if peak_hwm else None,
        "peak_with_workers_mb": round(max((s[2] for s in samples), default=0), 1) or None,
        "end_mb": report.get("end_mb"), "end_after_s": report.get("end_after_s"),
        "warm_up_s": report.get("warm_up_s"), "soak_s": report.get("soak_s"),
    }
    if result["baseline_mb"] and result["end_mb"]:
        result["end_vs_baseline"] = round(result["end_mb"] / result["baseline_mb"], 3)
    if args.json:
        print(json.dumps(result))
    else:
        for k, v in result.items():
            print(f"{k:>22}: {v}")
    ok = result["errors"] == 0 and result.get("end_vs_baseline", 1.0) <= 1.15
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
