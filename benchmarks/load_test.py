"""Many users at once: browser sessions drawing and predicting while others train.

    MLP_DATA_DIR=../shared python -m benchmarks.load_test --drawers 10 --trainers 3 --duration 60

Starts the app on 127.0.0.1 (or uses --url), opens one Chromium context per simulated user
(Debian's chromium, driven by Playwright; traffic stays on loopback), and reports errors,
the time from the end of a stroke to the prediction on screen (p50/p95), the server's peak
memory (VmHWM of the streamlit process) and whether any session saw another's models.
Every user does at least one round (a drawer one reading and Clear, a trainer sees its run
train), however busy the machine; screenshots of what went wrong and of each trainer's page go
to --shots (default artifacts/screenshots).
Bounded: every user stops after --duration seconds or that first round; the whole run is capped
at 4x --duration plus 2 minutes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness import CHROMIUM, CHROMIUM_ARGS, DRAWING_LAYER, HAS_INK_JS, ROOT, start_app, stop_app

if TYPE_CHECKING:
    from playwright.async_api import Browser, Page

#: What the simulated users found: {"drawers": [{...} per drawer], "trainers": [{...} per trainer]}.
Report = dict[str, list[dict[str, Any]]]

SHOTS = ROOT / "artifacts" / "screenshots"

# Strokes in canvas pixels: a 1, a 7 and a 0-ish loop, drawn at different places and sizes.
STROKES = [
    [(140, 40), (140, 140), (140, 240)],
    [(30, 30), (95, 30), (72, 85), (60, 120)],
    [(200, 150), (240, 170), (250, 220), (220, 260), (180, 240), (175, 190), (200, 150)],
]


def family_rss_mb(pid: int) -> float:
    """Resident memory of a process and its children (the training workers), in MB."""
    total = memory_mb(pid)[0]
    children = []
    for task in Path(f"/proc/{pid}/task").iterdir():  # workers are started from the server's threads
        try:
            children += (task / "children").read_text().split()
        except OSError:
            pass
    for child in children:
        try:
            total += memory_mb(int(child))[0]
        except (OSError, AttributeError):
            pass  # it ended while we looked
    return total


def memory_mb(pid: int) -> tuple[float, float]:
    """(current RSS, peak RSS) of a process in MB, from /proc."""
    status = Path(f"/proc/{pid}/status").read_text()
    rss = int(re.search(r"VmRSS:\s+(\d+)", status).group(1))
    hwm = int(re.search(r"VmHWM:\s+(\d+)", status).group(1))
    return rss / 1024, hwm / 1024


async def draw(page: Page, points: Sequence[tuple[float, float]]) -> None:
    box = await page.locator("canvas.upper-canvas").bounding_box()
    await page.mouse.move(box["x"] + points[0][0], box["y"] + points[0][1])
    await page.mouse.down()
    for x, y in points[1:]:
        await page.mouse.move(box["x"] + x, box["y"] + y, steps=3)
    await page.mouse.up()


async def has_ink(page: Page) -> bool:
    """True if the drawing canvas shows any stroke."""
    return await page.locator(DRAWING_LAYER).last.evaluate(HAS_INK_JS)


async def drawer(browser: Browser, url: str, until: float, report: Report, index: int, think: float,
                 shots: Path) -> None:
    """One user drawing, waiting for the prediction, clearing, again, until the deadline."""
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    page.set_default_timeout(30_000)
    latencies, errors, models_seen, redraws = [], [], set(), 0
    try:
        await page.goto(url)
        await page.locator("canvas.upper-canvas").wait_for()
        metric = page.locator('[data-testid="stMetric"]').filter(has_text="Prediction")
        n = 0
        while n == 0 or time.time() < until:  # at least one round, however long it takes
            for _ in range(60):
                await draw(page, STROKES[(n + index) % len(STROKES)])
                if await has_ink(page):
                    break
                # A stroke that left no ink (a browser page starved of CPU can miss the mouse
                # events): a person would see nothing and draw again, so do that, and count it.
                redraws += 1
                await asyncio.sleep(0.5)
            t0 = time.perf_counter()
            try:
                await metric.wait_for()
                latencies.append(time.perf_counter() - t0)
                await asyncio.sleep(think)  # a person looks at the answer before clearing
            except Exception as e:  # noqa: BLE001 - counted and reported
                errors.append(f"no prediction: {type(e).__name__}")
                shots.mkdir(parents=True, exist_ok=True)
                await page.screenshot(path=str(shots / f"load-no-prediction-{index}-{n}.png"))
            for _ in range(6):  # a click during a rerun can be dropped; a person clicks again
                await page.get_by_role("button", name="Clear").click()
                try:
                    await metric.wait_for(state="detached", timeout=5000)
                    break
                except Exception:  # noqa: BLE001
                    redraws += 1
            else:
                raise TimeoutError("Clear did not clear the prediction in 30 s")
            # Clear wipes the canvas in place; a person draws again once it looks empty.
            await page.get_by_text("Draw a digit on the canvas").wait_for()
            deadline = time.time() + 30
            while await has_ink(page):
                if time.time() > deadline:
                    raise TimeoutError("Clear did not wipe the canvas within 30 s")
                await asyncio.sleep(0.05)
            await asyncio.sleep(0.2)
            n += 1
        if await page.locator('[data-testid="stException"]').count():
            errors.append("exception shown on the page")
        await page.get_by_role("combobox").first.click()
        models_seen = set(await page.get_by_role("option").all_inner_texts())
    except Exception as e:  # noqa: BLE001
        errors.append(f"{type(e).__name__}: {str(e)[:200]}")
    finally:
        await context.close()
    report["drawers"].append({"latencies": latencies, "errors": errors, "models": sorted(models_seen),
                              "redraws": redraws})


async def trainer(browser: Browser, url: str, until: float, report: Report, index: int, epochs: int,
                  shots: Path) -> None:
    """One user training a network on a subset and watching it until the deadline."""
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    page.set_default_timeout(60_000)
    errors, models_seen, epochs_seen, running_seen = [], set(), 0, False
    try:
        await page.goto(f"{url}/train?hidden=128&epochs={epochs}&use_subset=true&subset=20000&seed={index}")
        start = page.get_by_role("button", name="Start", exact=True)
        await start.wait_for()
        await start.click()
        caption = page.get_by_text(re.compile(r"^\d+ epochs? · last train loss"))
        progress = page.get_by_text(re.compile(r"^Epoch \d+ of \d+"))
        while not (running_seen or epochs_seen) or time.time() < until:  # until it is seen training
            await asyncio.sleep(1.0)
            running_seen = running_seen or await progress.count() > 0
            if await caption.count():
                epochs_seen = int((await caption.inner_text()).split()[0])
        if await page.locator('[data-testid="stException"]').count():
            errors.append("exception shown on the page")
        shots.mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(shots / f"load-trainer-{index}.png"))
        rows = await page.get_by_text(re.compile(r"^My model \d")).all_inner_texts()
        models_seen = {r.split(" (")[0] for r in rows}
    except Exception as e:  # noqa: BLE001
        errors.append(f"{type(e).__name__}: {str(e)[:200]}")
    finally:
        await context.close()
    report["trainers"].append({"errors": errors, "models": sorted(models_seen), "epochs_seen": epochs_seen,
                               "running_seen": running_seen})


async def run_users(url: str, drawers: int, trainers: int, duration: float, epochs: int, think: float,
                    shots: Path) -> Report:
    from playwright.async_api import async_playwright

    report: Report = {"drawers": [], "trainers": []}
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        until = time.time() + duration
        tasks = [trainer(browser, url, until, report, i, epochs, shots) for i in range(trainers)]
        tasks += [drawer(browser, url, until, report, i, think, shots) for i in range(drawers)]
        await asyncio.wait_for(asyncio.gather(*tasks), timeout=4 * duration + 120)
        await browser.close()
    return report


def run_load(drawers: int = 10, trainers: int = 3, duration: float = 60, epochs: int = 30, url: str | None = None,
             max_runs: int = 3, think: float = 1.0, shots: str | Path = SHOTS) -> dict[str, Any]:
    """Run the load test; returns a summary dict (see the module docstring). Screenshots go to `shots`."""
    proc = None
    if url is None:
        proc, url = start_app({"DIGIT_LAB_MAX_RUNS": str(max_runs)})
    peak, peak_family = [0.0], [0.0]
    stop = False

    async def sample_memory() -> None:
        while not stop:
            if proc is not None:
                peak[0] = max(peak[0], memory_mb(proc.pid)[0])
                peak_family[0] = max(peak_family[0], family_rss_mb(proc.pid))
            await asyncio.sleep(0.5)

    async def main() -> Report:
        nonlocal stop
        sampler = asyncio.create_task(sample_memory())
        try:
            return await run_users(url, drawers, trainers, duration, epochs, think, Path(shots))
        finally:
            stop = True
            await sampler

    try:
        report = asyncio.run(main())
        hwm = memory_mb(proc.pid)[1] if proc is not None else None
    finally:
        if proc is not None:
            stop_app(proc)
    latencies = sorted(x for d in report["drawers"] for x in d["latencies"])
    errors = [e for group in report.values() for user in group for e in user["errors"]]
    # Isolation: drawers never see a trained model; each trainer sees exactly its own one.
    leaks = [d["models"] for d in report["drawers"] if any("My model" in m for m in d["models"])]
    leaks += [t["models"] for t in report["trainers"] if len(t["models"]) > 1]
    q = statistics.quantiles(latencies, n=20) if len(latencies) >= 2 else [float("nan")] * 19
    return {
        "drawers": drawers, "trainers": trainers, "duration_s": duration, "think_s": think,
        "predictions": len(latencies), "errors": len(errors), "error_messages": errors[:10],
        "p50_s": statistics.median(latencies) if latencies else None, "p95_s": q[18] if latencies else None,
        "max_s": latencies[-1] if latencies else None,
        "peak_rss_mb": round(hwm, 1) if hwm else None, "peak_sampled_rss_mb": round(peak[0], 1) or None,
        "peak_with_workers_mb": round(peak_family[0], 1) or None,
        "isolation_violations": leaks,
        "strokes_redrawn": sum(d["redraws"] for d in report["drawers"]),
        "trainer_epochs_seen": [t["epochs_seen"] for t in report["trainers"]],
        "trainers_seen_running": sum(t["running_seen"] or t["epochs_seen"] > 0 for t in report["trainers"]),
    }


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--drawers", type=int, default=10)
    p.add_argument("--trainers", type=int, default=3)
    p.add_argument("--duration", type=float, default=60, help="seconds each user keeps going")
    p.add_argument("--epochs", type=int, default=30, help="epochs each training user asks for")
    p.add_argument("--max-runs", type=int, default=3, help="the server's concurrent training limit")
    p.add_argument("--think", type=float, default=1.0, help="seconds a drawer looks at each answer")
    p.add_argument("--url", help="use a running app instead of starting one (no memory figures then)")
    p.add_argument("--shots", type=Path, default=SHOTS, help="folder for screenshots (default artifacts/screenshots)")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    result = run_load(args.drawers, args.trainers, args.duration, args.epochs, args.url, args.max_runs, args.think,
                      args.shots)
    if args.json:
        print(json.dumps(result))
    else:
        for k, v in result.items():
            print(f"{k:>22}: {v}")
    return 0 if result["errors"] == 0 and not result["isolation_violations"] else 1


if __name__ == "__main__":
    sys.exit(main())
