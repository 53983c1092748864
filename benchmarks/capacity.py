"""How many people one server holds: drawing and training sessions that speak Streamlit's own protocol.

    MLP_DATA_DIR=../shared python -m benchmarks.capacity --sessions 50 --trainers 2 --duration 60

No browser: each session is a websocket client of `/_stcore/stream` that sends the BackMsgs a
browser's Draw or Train page sends (captured from chromium and decoded with Streamlit's protos)
and reads the ForwardMsgs that come back, so the figures are the server's, not those of
browsers sharing its cores.

* A drawing session opens the Draw page (a `rerun_script` with the browser's context), then
  draws pen drawings of MNIST test digits (`drawn`, 280x280 RGBA PNGs; simple strokes without
  MNIST) one stroke at a time: after each stroke the canvas component's value, a widget state
  `{"drawing": {"raw": <Fabric.js objects>, "data": "data:image/png;base64,..."}}` for the
  element keyed "canvas", as streamlit-drawable-canvas 0.13 sends it. It waits for the metric
  labelled "Prediction" (checked against this process's own preprocessing and prediction with
  the pretrained model) and the end of the script run, fetches the page's /media images as a
  browser does, then thinks (--think, with seeded jitter) and presses Clear: chromium then sends
  the canvas's empty drawing (the page turns Clear into the canvas's own reset, webapp.views.canvas).
  A widget drawn inside a fragment reruns that fragment, as in the browser.
* A training session opens Train, sets 128 hidden units, 200 epochs and a 20,000-image subset
  through widget states, presses Start and answers the run panel's auto-reruns (the fragment's
  `run_every`) until the end. Per trainer: the time from Start to the page showing its first
  finished epoch (`first_epoch_*`: p50, p95, max, and how many within 30 s, the class goal), and the
  epochs it had seen when --duration ran out (`epochs_per_minute`: all trainers' together).

Latency is from sending a stroke to receiving its Prediction (the reading a person sees); the
end of the script run is reported too. Errors: timeouts, wrong or missing readings, exceptions
shown, disconnects. Without --url it starts the app itself (harness.start_app) and reports the
server's CPU and the peak RSS of the server plus its training workers (sampled from /proc every
0.5 s); --profile also samples the server's Python stacks (see `profile_server`).
--browser adds one real chromium (Debian's, through Playwright) drawing on Draw at the same time,
with its stroke-to-reading times measured in the page (benchmarks.browser_latency); chromium
runs on this machine too and takes CPU from the server, which a visitor's own browser would not.
--run-cost N replaces the load by one session: the server's CPU per stroke run and per Clear.
Every session does at least one round (a drawing read and cleared; a trainer sees its run's first
epoch finish, or gives up 120 s past --duration), however busy the machine: a short run still
measures every session.
Bounded: at most 200 sessions, every wait has a timeout, the run ends at --duration or after that
first round (plus at most 30 s for readings under way), loopback only.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import io
import json
import os
import random
import re
import statistics
import sys
import tempfile
import threading
import time
import types
import urllib.parse
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from harness import ROOT, start_app, stop_app

if TYPE_CHECKING:
    from mlp import MLP

#: A drawing as a session sends it: (the canvas widget's JSON, the Prediction expected) after each stroke.
Drawing = list[tuple[str, str | None]]
#: Counts and times the sessions collect (errors, readings, runs, ...), shared by every session.
Stats = dict[str, Any]

MAX_SESSIONS = 200
WAIT = 30.0  # seconds any single reply may take before it counts as a timeout
FIRST_EPOCH_WAIT = 120.0  # past --duration, how long a trainer still waits to see its first epoch finish
FIRST_EPOCH_GOAL = 30.0  # seconds from Start within which a student should see an epoch (the class goal)
DRAW_PAGE_LABEL = "Prediction"
TRAIN_SETTINGS = {"t_hidden": ("string_value", "128"), "t_epochs": ("int_value", 200),
                  "t_use_subset": ("bool_value", True)}
TRAIN_SUBSET = {"t_subset": ("int_value", 20000)}
# Strokes for a server without MNIST: a 1, a 7 and a loop (canvas pixels).
FALLBACK_STROKES = [
    [[(140, 40), (140, 140), (140, 240)]],
    [[(30, 30), (95, 30)], [(95, 30), (72, 85), (60, 120)]],
    [[(200, 150), (240, 170), (250, 220), (220, 260), (180, 240), (175, 190), (200, 150)]],
]
# The Fabric.js object the canvas sends for a freehand stroke (captured from chromium); each
# stroke fills in its path, box and width.
FABRIC_PATH = {
    "lockMovementX": False, "lockMovementY": False, "lockRotation": False, "lockScalingX": False,
    "lockScalingY": False, "lockSkewingX": False, "lockSkewingY": False, "lockScalingFlip": False,
    "type": "Path", "version": "7.4.0", "originX": "center", "originY": "center", "fill": None,
    "stroke": "#FFFFFF", "strokeDashArray": None, "strokeLineCap": "round", "strokeDashOffset": 0,
    "strokeLineJoin": "round", "strokeUniform": False, "strokeMiterLimit": 10, "scaleX": 1, "scaleY": 1,
    "angle": 0, "flipX": False, "flipY": False, "opacity": 1, "shadow": None, "visible": True,
    "backgroundColor": "", "fillRule": "nonzero", "paintFirst": "fill", "globalCompositeOperation": "source-over",
    "skewX": 0, "skewY": 0,
}


# --------------------------------------------------------------------------- drawings


def _png_data_url(canvas: NDArray[np.uint8]) -> tuple[str, NDArray[np.uint8]]:
    """(280, 280) uint8 ink -> the canvas's RGBA PNG data URL (white ink on opaque black) and the RGBA array."""
    rgba = np.empty(canvas.shape + (4,), np.uint8)
    rgba[..., :3] = canvas[..., None]
    rgba[..., 3] = 255
    buf = io.BytesIO()
    Image.fromarray(rgba, "RGBA").save(buf, "PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode(), rgba


def _fabric_object(points: NDArray[Any], brush: int) -> dict[str, Any]:
    """A freehand stroke as the Fabric.js Path the canvas reports (M, Q through midpoints, L)."""
    p = [(round(float(x), 3), round(float(y), 3)) for x, y in points]
    path = [["M", *p[0]]]
    for a, b in zip(p[:-1], p[1:]):
        path.append(["Q", *a, round((a[0] + b[0]) / 2, 3), round((a[1] + b[1]) / 2, 3)])
    path.append(["L", *p[-1]])
    xs, ys = [q[0] for q in p], [q[1] for q in p]
    return {**FABRIC_PATH, "left": (min(xs) + max(xs)) / 2, "top": (min(ys) + max(ys)) / 2,
            "width": max(xs) - min(xs), "height": max(ys) - min(ys), "strokeWidth": brush, "path": path}


def canvas_json(objects: Sequence[Mapping[str, Any]], data_url: str) -> str:
    """The canvas component's widget value (JSON text) for a drawing."""
    raw = {"version": "7.4.0", "objects": objects, "background": "#000000"}
    return json.dumps({"drawing": {"raw": raw, "data": data_url}}, separators=(",", ":"))


EMPTY_CANVAS = canvas_json([], _png_data_url(np.zeros((280, 280), np.uint8))[0])


def page_reading(model: MLP, probs: NDArray[Any]) -> str:
    """What Draw's large Prediction slot shows for these probabilities: a digit, "4 or 9?" or "?"."""
    from mlp.unsure import judge, threshold_of
    from webapp.views.display import reading

    return reading(judge(probs, threshold_of(model)), [str(d) for d in range(10)]).prediction


def make_drawings(n: int, seed: int) -> tuple[list[Drawing], str]:
    """n drawings, each a list of (canvas widget JSON, expected Prediction) after each of its strokes.

    Pen drawings of MNIST test digits (drawn.iter_pen_strokes) when MNIST is found, else the
    three fallback digits. The expected reading is this process's own preprocessing and
    prediction with the pretrained model, on the same PNG the server gets.
    """
    from drawn import iter_pen_strokes, render_pen_strokes
    from mlp import load_model
    from mlp.preprocess import preprocess, to_model_input
    from webapp.settings import current

    model = load_model(current().pretrained)
    source: list[tuple[list[NDArray[Any]], int | None, int, int, int]]  # (events, label, brush, height, source)
    try:
        from data import load_dataset

        ds = load_dataset("mnist")
        source = list(iter_pen_strokes(n, seed, ds.x_test, ds.y_test))
        kind = "pen drawings of MNIST test digits"
    except Exception:  # noqa: BLE001 - no dataset: simple strokes instead
        source = [([np.array(s, float) for s in strokes], None, 18, 0, 0)
                  for strokes in (FALLBACK_STROKES * n)[:n]]
        kind = "three simple digits (MNIST not found)"
    drawings = []
    for events, _, brush, _, _ in source:
        steps, objects = [], []
        for k in range(1, len(events) + 1):
            objects.append(_fabric_object(events[k - 1], brush))
            url, rgba = _png_data_url(render_pen_strokes(events[:k], brush))
            x28 = preprocess(rgba)
            expected = None if x28 is None else page_reading(model, model.predict_proba(to_model_input(x28))[0])
            steps.append((canvas_json(list(objects), url), expected))
        drawings.append(steps)
    return drawings, kind


# --------------------------------------------------------------------------- protocol


class Session:
    """One browser tab, as far as the server can tell: a websocket speaking BackMsg/ForwardMsg."""

    def __init__(self, url: str, stats: Stats) -> None:
        self.url = url.rstrip("/")
        self.stats = stats
        self.ws: Any = None  # the websocket, once open (websockets' ClientConnection)
        self.page_hash = ""
        self.widget_ids: dict[str, str] = {}  # widget key -> element id, e.g. "canvas" -> "$$ID-...-canvas"
        self.widget_fragments: dict[str, str] = {}  # widget key -> id of the fragment that drew it ("" outside)
        self.fragments: dict[str, float] = {}  # fragment id -> auto-rerun interval
        self.media: list[str] = []  # /media URLs of the current run's images
        self.texts: list[str] = []  # text of the current run's progress bars and markdown
        self.prediction: tuple[str, float] | None = None  # (value, arrival time) in the current run
        self.run_started = False
        self.finished = asyncio.Event()
        self.status: int | None = None
        self.closed: str | None = None
        self.reader: asyncio.Task[None] | None = None

    async def open(self) -> None:
        from websockets.asyncio.client import connect
        from websockets.typing import Origin, Subprotocol

        # As the browser does: its first requests set the XSRF cookie, sent back with the token.
        cookie = await asyncio.to_thread(self._xsrf_cookie)
        token = cookie.split("=", 1)[1] if cookie else ""
        ws_url = "ws" + self.url[4:] + "/_stcore/stream"
        self.ws = await asyncio.wait_for(connect(
            ws_url, subprotocols=[Subprotocol(p) for p in ("streamlit", token) if p], origin=Origin(self.url),
            additional_headers={"Cookie": cookie} if cookie else None, max_size=2**27,
            open_timeout=WAIT, ping_interval=20, ping_timeout=WAIT, close_timeout=5), WAIT)
        self.reader = asyncio.create_task(self._read())

    def _xsrf_cookie(self):
        with urllib.request.urlopen(f"{self.url}/_stcore/host-config", timeout=WAIT) as r:
            for header in r.headers.get_all("Set-Cookie") or []:
                if header.startswith("_streamlit_xsrf="):
                    return header.split(";", 1)[0]
        return None

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
        if self.reader is not None:
            self.reader.cancel()

    async def _read(self):
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

        try:
            async for raw in self.ws:
                msg = ForwardMsg()
                msg.ParseFromString(raw)
                self._handle(msg)
        except Exception as e:  # noqa: BLE001 - any end of the stream is a disconnect, reported
            self.closed = f"{type(e).__name__}: {e}"[:200]
        else:
            self.closed = "server closed the connection"
        self.finished.set()

    def _handle(self, msg):
        kind = msg.WhichOneof("type")
        if kind == "new_session":
            self.page_hash = msg.new_session.page_script_hash or self.page_hash
            self.run_started = True
        elif kind == "navigation":
            self.page_hash = msg.navigation.page_script_hash or self.page_hash  # the page shown
        elif kind == "delta" and msg.delta.WhichOneof("type") == "new_element":
            el = msg.delta.new_element
            which = el.WhichOneof("type")
            body = getattr(el, which)
            wid = getattr(body, "id", "")
            if isinstance(wid, str) and wid.startswith("$$ID-"):
                key = wid.split("-", 2)[2]
                self.widget_ids[key] = wid
                self.widget_fragments[key] = msg.delta.fragment_id
            if which == "metric" and el.metric.label == DRAW_PAGE_LABEL:
                self.prediction = (el.metric.body, time.perf_counter())
            elif which == "exception":
                self.stats["errors"].append(f"exception shown: {el.exception.message[:120]}")
            elif which == "imgs":
                self.media += [i.url for i in el.imgs.imgs if i.url.startswith("/media/")]
            elif which == "progress":
                self.texts.append(el.progress.text)
            elif which == "markdown":
                self.texts.append(el.markdown.body)
        elif kind == "auto_rerun":
            self.fragments[msg.auto_rerun.fragment_id] = msg.auto_rerun.interval
        elif kind == "stop_auto_rerun":
            self.fragments.clear()
        elif kind == "script_finished":
            from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

            self.status = msg.script_finished
            if self.run_started and msg.script_finished != ForwardMsg.FINISHED_EARLY_FOR_RERUN:
                self.finished.set()

    async def rerun(self, widgets: Sequence[tuple[str, tuple[str, object]]] = (), page_name: str = "", query: str = "",
                    fragment_id: str | None = None, auto: bool = False) -> float:
        """Send a rerun_script BackMsg as the browser does; returns the send time.

        A widget drawn by a fragment reruns only that fragment, as in the browser: without an
        explicit `fragment_id`, the rerun names the fragment of the first widget sent.
        """
        from streamlit.proto.BackMsg_pb2 import BackMsg

        msg = BackMsg()
        rs = msg.rerun_script
        rs.query_string = query
        if self.page_hash:
            rs.page_script_hash = self.page_hash
        else:  # the first load of an address, before the server has named its page
            rs.page_name = page_name
        if fragment_id is None:
            fragment_id = self.widget_fragments.get(widgets[0][0], "") if widgets else ""
        rs.fragment_id = fragment_id
        rs.is_auto_rerun = auto
        ci = rs.context_info
        ci.timezone, ci.timezone_offset, ci.locale = "UTC", 0, "en-US"
        ci.url, ci.is_embedded, ci.color_scheme = f"{self.url}/{page_name}", False, "light"
        for key, (field, value) in widgets:
            w = rs.widget_states.widgets.add()
            w.id = self.widget_ids[key]
            setattr(w, field, value)
        self.prediction, self.media, self.texts = None, [], []
        self.run_started = False
        self.finished.clear()
        t = time.perf_counter()
        await self.ws.send(msg.SerializeToString())
        return t

    async def wait_run(self, timeout: float = WAIT) -> None:
        """Wait for the script run started by the last rerun to finish; raises TimeoutError/ConnectionError."""
        await asyncio.wait_for(self.finished.wait(), timeout)
        if self.closed:
            raise ConnectionError(self.closed)

    def fetch_media(self) -> None:
        """GET the run's images, as the browser's <img> tags do (in a thread)."""
        for path in self.media:
            with urllib.request.urlopen(self.url + path, timeout=WAIT) as r:
                r.read()


# --------------------------------------------------------------------------- users


async def drawer(url: str, until: float, drawings: Sequence[Drawing], rng: random.Random, think: float,
                 stats: Stats) -> None:
    """Draw stroke by stroke, wait for each reading, think, Clear, again, until the deadline."""
    s = Session(url, stats)
    try:
        await asyncio.sleep(rng.uniform(0, think))  # a class does not start in the same millisecond
        await s.open()
        await s.rerun()
        await s.wait_run()
        n = rng.randrange(len(drawings))
        rounds = 0
        while rounds == 0 or time.time() < until:  # at least one round, however long it takes
            steps = drawings[n % len(drawings)]
            n += 1
            for k, (value, expected) in enumerate(steps):
                if k:
                    await asyncio.sleep(rng.uniform(0.3, 0.8))  # the pen moves to the next stroke
                t0 = await s.rerun([("canvas", ("json_value", value))])
                try:
                    await s.wait_run()
                except TimeoutError:
                    stats["errors"].append("timeout: no end of the script run within 30 s")
                    continue
                stats["runs"].append(time.perf_counter() - t0)
                if s.prediction is None:
                    if expected is not None:
                        stats["errors"].append("no reading")
                    continue
                value_seen, t1 = s.prediction
                stats["latencies"].append(t1 - t0)
                if value_seen != expected:
                    stats["errors"].append(f"wrong reading: {value_seen!r}, expected {expected!r}")
                await asyncio.to_thread(s.fetch_media)
            pause = think * rng.uniform(0.8, 1.2)
            await asyncio.sleep(pause / 2)  # a person looks at the reading, then presses Clear
            if rounds and time.time() >= until:
                break
            # Clear: the page's script turns the click into the canvas's own reset in the browser
            # (webapp.views.canvas), so chromium sends one rerun, the canvas's empty drawing.
            await s.rerun([("canvas", ("json_value", EMPTY_CANVAS))])
            await s.wait_run()
            if s.prediction is not None:
                stats["errors"].append("a reading after Clear")
            stats["clears"] += 1
            rounds += 1
            await asyncio.sleep(pause / 2)
    except Exception as e:  # noqa: BLE001 - counted and reported
        stats["errors"].append(f"{type(e).__name__}: {str(e)[:160]}")
    finally:
        await s.close()


async def trainer(url: str, until: float, stats: Stats) -> None:
    """Open Train, set small settings, press Start, answer the run panel's reruns until the deadline (and at least
    until the run's first epoch has finished: the time from Start to that is the trainer's `first_epoch`)."""
    s = Session(url, stats)
    epochs: list[int] = []
    first: float | None = None
    at_deadline: int | None = None  # the epochs it had seen when --duration ran out
    try:
        await s.open()
        await s.rerun(page_name="train")
        await s.wait_run()
        widgets = list(TRAIN_SETTINGS.items())
        await s.rerun(widgets, page_name="train")
        await s.wait_run()  # the subset box appears once "Train on a subset" is on
        widgets += list(TRAIN_SUBSET.items())
        pressed = time.perf_counter()
        await s.rerun(widgets + [("start", ("trigger_value", True))], page_name="train")
        await s.wait_run()
        next_due: dict[str, float] = {}
        latest = until + FIRST_EPOCH_WAIT
        while (first is None and time.time() < latest) or time.time() < until:
            if at_deadline is None and time.time() >= until:
                at_deadline = max(epochs, default=0)
            now = time.monotonic()
            for fid, interval in list(s.fragments.items()):
                if now >= next_due.get(fid, 0):
                    await s.rerun(widgets, page_name="train", fragment_id=fid, auto=True)
                    await s.wait_run()
                    next_due[fid] = time.monotonic() + interval
                    for text in s.texts:
                        m = re.search(r"Epoch (\d+) of (\d+)", text or "")
                        if m:
                            epochs.append(int(m.group(1)))
                        done = re.search(r"^(\d+) epochs? · last train loss", text or "")
                        if first is None and (done or (m and int(m.group(1)) >= 2)):
                            first = time.perf_counter() - pressed
            await asyncio.sleep(0.1)
    except Exception as e:  # noqa: BLE001
        stats["errors"].append(f"trainer {type(e).__name__}: {str(e)[:160]}")
    finally:
        stats["trainer_epochs"].append(max(epochs, default=0))
        stats["first_epoch"].append(first)
        stats["epochs_at_deadline"].append(max(epochs, default=0) if at_deadline is None else at_deadline)
        await s.close()


class BrowserUser(threading.Thread):
    """One real chromium drawing on Draw while the load runs: stroke-to-reading times, measured in the page.

    Uses benchmarks.browser_latency's stroke (Clear, then a 1 or a 7 as one mouse stroke, timed
    from mouse-up to the Prediction appearing, both ends on the page's clock), a person's pause
    between drawings, until the deadline. Playwright's sync API in its own thread (no event loop).
    """

    def __init__(self, url: str, until: float, pause: float = 1.0) -> None:
        super().__init__(daemon=True, name="browser-user")
        self.url, self.until, self.pause = url, until, pause
        self.rows: list[dict[str, Any]] = []
        self.error: str | None = None

    def run(self) -> None:
        from playwright.sync_api import sync_playwright

        from benchmarks.browser_latency import one_stroke
        from harness import CHROMIUM, CHROMIUM_ARGS, settle

        try:
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                page = browser.new_page(viewport={"width": 1400, "height": 1100})
                page.set_default_timeout(WAIT * 1000)
                page.goto(self.url)
                page.locator("canvas.upper-canvas").wait_for()
                settle(page)
                while time.time() < self.until:
                    digit = "1" if len(self.rows) % 2 == 0 else "7"
                    ms, reading = one_stroke(page, digit)
                    self.rows.append({"drawn": digit, "reading": reading, "ms": round(ms, 1)})
                    time.sleep(self.pause)  # a person looks at the reading
                browser.close()
        except Exception as e:  # noqa: BLE001 - reported with the figures
            self.error = f"{type(e).__name__}: {str(e)[:200]}"

    def summary(self) -> dict[str, Any]:
        ms = sorted(r["ms"] for r in self.rows)
        return {"strokes": len(ms), "median_ms": round(statistics.median(ms), 1) if ms else None,
                "p95_ms": _quantile(ms, 0.95), "max_ms": ms[-1] if ms else None,
                "within_1s": sum(m <= 1000 for m in ms), "wrong_readings": sum(r["drawn"] != r["reading"]
                                                                              for r in self.rows),
                "error": self.error}


# --------------------------------------------------------------------------- the server's side


def _proc_stat(pid: int) -> tuple[float, float]:
    """(utime + stime in seconds, RSS in MB) of a process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks, int(fields[21]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _children(pid: int) -> list[int]:
    """Every descendant of `pid` (the embedded engine's scheduler, its worker command and their workers)."""
    out = []
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())  # children start from any of its threads
    except OSError:
        return out
    for task in tasks:
        try:
            kids = [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
        for kid in kids:
            out += [kid, *_children(kid)]
    return out


class ServerMonitor(threading.Thread):
    """Samples the server's and its workers' CPU time and RSS every half second."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.stop, self.lock = pid, threading.Event(), threading.Lock()
        self.server_cpu, self.worker_cpu = 0.0, dict[int, float]()
        self.peak_server, self.peak_family = 0.0, 0.0

    def sample(self) -> tuple[float, float]:
        with self.lock:
            self.server_cpu, rss = _proc_stat(self.pid)
            family = rss
            for child in _children(self.pid):
                try:
                    cpu, child_rss = _proc_stat(child)
                except OSError:
                    continue  # it ended while we looked
                self.worker_cpu[child] = cpu
                family += child_rss
            self.peak_server = max(self.peak_server, rss)
            self.peak_family = max(self.peak_family, family)
            return self.server_cpu, sum(self.worker_cpu.values())

    def run(self) -> None:
        while not self.stop.wait(0.5):
            try:
                self.sample()
            except OSError:
                return


# A profiler inside the server, started by a sitecustomize module that --profile puts on the
# server's PYTHONPATH (app code unchanged). Every 5 ms it reads each Python thread's CPU clock
# (pthread_getcpuclockid) and charges the CPU that thread used since the last sample to its
# current stack: self time to the innermost frame, total time to every function on the stack.
# CPU of threads Python does not know (OpenBLAS) shows as the process's unattributed rest.
_SITECUSTOMIZE = """
import os
out = os.environ.pop("CAPACITY_PROFILE_OUT", None)
if out:
    from benchmarks.capacity import profile_server  # the project folder is on PYTHONPATH too
    profile_server(out)
"""


def profile_server(out: str, interval: float = 0.005) -> None:
    """Start the sampling thread in this (server) process; it rewrites `out` (JSON) every 2 s."""

    def label(code):
        name = Path(code.co_filename)
        where = name.name if "site-packages" not in code.co_filename else code.co_filename.split("site-packages/")[1]
        return f"{where}:{code.co_firstlineno}:{code.co_name}"

    def role(thread):
        if thread is None:
            return "other"
        if thread is threading.main_thread():
            return "main (event loop)"
        return "script runs" if "ScriptRunner" in thread.name else thread.name.split("-")[0].split("(")[0]

    gc_time: dict[str, float] = {}
    gc_count: dict[str, int] = {}
    gc_start: dict[int, float] = {}

    def on_gc(phase, info):  # garbage collections hold the GIL: timed here, not sampled
        g = str(info["generation"])
        if phase == "start":
            gc_start[threading.get_ident()] = time.thread_time()
        elif threading.get_ident() in gc_start:
            gc_time[g] = gc_time.get(g, 0.0) + time.thread_time() - gc_start.pop(threading.get_ident())
            gc_count[g] = gc_count.get(g, 0) + 1

    import gc

    gc.callbacks.append(on_gc)

    def loop():
        me = threading.get_ident()
        last: dict[int, float] = {}
        self_t: dict[str, float] = {}
        total_t: dict[str, float] = {}
        roles: dict[str, float] = {}
        next_dump = time.monotonic() + 2
        while True:
            time.sleep(interval)
            threads = {t.ident: t for t in threading.enumerate()}
            roles["profiler itself"] = time.thread_time()
            for ident, top in sys._current_frames().items():
                frame: types.FrameType | None = top
                if ident == me:
                    continue
                try:
                    cpu = time.clock_gettime(time.pthread_getcpuclockid(ident))
                except (OSError, ValueError):
                    continue
                used = cpu - last.get(ident, cpu)
                last[ident] = cpu
                if used <= 0:
                    continue
                r = role(threads.get(ident))
                roles[r] = roles.get(r, 0.0) + used
                seen, leaf = set(), True
                while frame is not None:
                    name = label(frame.f_code)
                    if leaf:
                        self_t[name] = self_t.get(name, 0.0) + used
                        leaf = False
                    if name not in seen:
                        seen.add(name)
                        total_t[name] = total_t.get(name, 0.0) + used
                    frame = frame.f_back
            if time.monotonic() >= next_dump:
                next_dump = time.monotonic() + 2
                known = {t.native_id for t in threading.enumerate()}
                native: dict[str, float] = {}
                for task in Path("/proc/self/task").iterdir():
                    try:
                        if int(task.name) in known:
                            continue
                        fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
                        comm = re.sub(r"\d+$", "", (task / "comm").read_text().strip()) or "?"
                    except (OSError, ValueError):
                        continue
                    used = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
                    native[comm] = native.get(comm, 0.0) + used
                data = {"process_cpu": sum(os.times()[:2]), "native": native, "roles": roles, "self": self_t,
                        "total": total_t, "gc": dict(gc_time), "gc_count": dict(gc_count)}
                tmp = out + ".tmp"
                with open(tmp, "w") as f:
                    json.dump(data, f)
                os.replace(tmp, out)

    threading.Thread(target=loop, daemon=True, name="capacity-profiler").start()


def _read_profile(path):
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None


def _profile_diff(before, after, readings, top=15):
    """Per reading: CPU ms of the server process, by thread role, and the top functions (self and total)."""
    if not before or not after or not readings:
        return None

    def diff(key):
        return {k: v - before[key].get(k, 0.0) for k, v in after[key].items() if v - before[key].get(k, 0.0) > 0}

    per = 1000 / readings
    process = (after["process_cpu"] - before["process_cpu"]) * per
    roles = diff("roles")
    return {
        "process_ms_per_reading": round(process, 2),
        "python_threads_ms_per_reading": {k: round(v * per, 2) for k, v in sorted(roles.items(), key=lambda x: -x[1])},
        "unattributed_ms_per_reading (native threads, e.g. OpenBLAS)": round(process - sum(roles.values()) * per, 2),
        "native_threads_ms_per_reading (by name, 10 ms ticks)":
            {k: round(v * per, 2) for k, v in diff("native").items()},
        "gc_ms_per_reading (by generation; Streamlit's post-run gc.collect(2) is generation 2)":
            {k: round(v * per, 2) for k, v in sorted(diff("gc").items())},
        "gc_collections_per_reading": {k: round(v / readings, 2) for k, v in sorted(diff("gc_count").items())},
        "self_ms_per_reading": {k: round(v * per, 2)
                                for k, v in sorted(diff("self").items(), key=lambda x: -x[1])[:top]},
        "total_ms_per_reading": {k: round(v * per, 2)
                                 for k, v in sorted(diff("total").items(), key=lambda x: -x[1])[:top * 2]},
    }


# --------------------------------------------------------------------------- the run


def _quantile(values: Sequence[float], q: float) -> float | None:
    if not values:
        return None
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def run(sessions: int = 10, trainers: int = 2, duration: float = 60.0, think: float = 2.5, seed: int = 0,
        url: str | None = None, profile: bool = False, max_runs: int = 2, server_env: Mapping[str, str] | None = None,
        browser: bool = False) -> dict[str, Any]:
    """Run the load (and, with `browser`, one chromium drawing meanwhile); returns the summary dict."""
    sessions, trainers = max(0, min(sessions, MAX_SESSIONS)), max(0, min(trainers, MAX_SESSIONS - sessions))
    if url is not None and urllib.parse.urlsplit(url).hostname not in ("127.0.0.1", "localhost", "::1"):
        raise SystemExit("--url must be a loopback address (127.0.0.1, localhost or [::1])")
    drawings, kind = make_drawings(40, seed)
    proc = monitor = user = None
    profile_out = None
    if url is None:
        env = {"DIGIT_LAB_MAX_RUNS": str(max_runs), **(server_env or {})}
        if profile:
            site = Path(tempfile.mkdtemp(prefix="capacity-"))
            (site / "sitecustomize.py").write_text(_SITECUSTOMIZE)
            profile_out = str(site / "profile.json")
            env.update(PYTHONPATH=os.pathsep.join(filter(None, [str(site), str(ROOT), os.environ.get("PYTHONPATH")])),
                       CAPACITY_PROFILE_OUT=profile_out)
        proc, url = start_app(env)
    stats: Stats = {"latencies": [], "runs": [], "errors": [], "clears": 0, "trainer_epochs": [], "first_epoch": [],
                    "epochs_at_deadline": []}
    try:
        # Warm-up (not measured): one drawing loads the model and fills the page's caches.
        warm = {"latencies": [], "runs": [], "errors": [], "clears": 0, "trainer_epochs": [], "first_epoch": [],
                    "epochs_at_deadline": []}
        asyncio.run(asyncio.wait_for(
            drawer(url, time.time() + 0.1, drawings[:1], random.Random(seed), 0.0, warm), 120))
        if proc is not None:
            monitor = ServerMonitor(proc.pid)
            monitor.start()
            cpu0, workers0 = monitor.sample()
        prof0 = _read_profile(profile_out) if profile_out else None
        load0 = os.getloadavg()
        cpu0 = time.process_time()
        t0 = time.perf_counter()

        async def main():
            until = time.time() + duration
            rng = random.Random(seed)
            tasks = [trainer(url, until, stats) for _ in range(trainers)]
            tasks += [drawer(url, until, drawings, random.Random(rng.random()), think, stats) for _ in range(sessions)]
            await asyncio.wait_for(asyncio.gather(*tasks), duration + FIRST_EPOCH_WAIT * bool(trainers) + 2 * WAIT + 30)

        user = BrowserUser(url, time.time() + duration) if browser else None
        if user is not None:
            user.start()
        asyncio.run(main())
        if user is not None:
            user.join(2 * WAIT)
        wall = time.perf_counter() - t0
        client_cpu = time.process_time() - cpu0
        load1 = os.getloadavg()
        server = None
        if monitor is not None:
            time.sleep(2.1)  # the profile's last dump
            cpu1, workers1 = monitor.sample()
            monitor.stop.set()
            server = {"server_cpu_s": round(cpu1 - cpu0, 1), "server_cpu_util_pct_of_one_core":
                      round(100 * (cpu1 - cpu0) / wall, 1), "workers_cpu_s": round(workers1 - workers0, 1),
                      "peak_rss_server_mb": round(monitor.peak_server), "peak_rss_with_workers_mb":
                      round(monitor.peak_family)}
        prof = _profile_diff(prof0, _read_profile(profile_out), len(stats["runs"])) if profile_out else None
    finally:
        if proc is not None:
            stop_app(proc)
    lat = stats["latencies"]
    errors = stats["errors"]
    counts: dict[str, int] = {}
    for e in errors:
        k = e.split(":")[0]
        counts[k] = counts.get(k, 0) + 1
    result = {
        "sessions": sessions, "trainers": trainers, "duration_s": duration, "think_s": think, "seed": seed,
        "drawings": kind, "readings": len(lat), "readings_per_s": round(len(lat) / wall, 2),
        "p50_s": _round(statistics.median(lat) if lat else None), "p95_s": _round(_quantile(lat, 0.95)),
        "max_s": _round(max(lat) if lat else None),
        "run_end_p50_s": _round(statistics.median(stats["runs"]) if stats["runs"] else None),
        "run_end_p95_s": _round(_quantile(stats["runs"], 0.95)),
        "clears": stats["clears"], "errors": len(errors), "error_kinds": counts, "error_examples": errors[:5],
        "trainer_epochs_seen": stats["trainer_epochs"],
        **first_epoch_summary(stats["first_epoch"]),
        "epochs_per_minute": round(sum(stats["epochs_at_deadline"]) * 60 / duration, 1) if trainers else None,
        "load_avg_before_after": [round(load0[0], 2), round(load1[0], 2)],
        "sessions_process_cpu_s": round(client_cpu, 1),  # this process: the simulated browsers, on the same cores
    }
    if server:
        result.update(server)
    if user is not None:
        result["browser"] = user.summary()
    if prof:
        result["profile"] = prof
    return result


def first_epoch_summary(firsts: Sequence[float | None]) -> dict[str, Any]:
    """Seconds from Start to each trainer's first finished epoch: p50, p95, max, and how many saw one within
    FIRST_EPOCH_GOAL (a trainer that saw none counts as never)."""
    seen = sorted(f for f in firsts if f is not None)
    return {
        "first_epoch_p50_s": _round(statistics.median(seen) if seen else None),
        "first_epoch_p95_s": _round(_quantile(seen, 0.95)),
        "first_epoch_max_s": _round(seen[-1] if seen else None),
        "first_epoch_within_goal": f"{sum(f <= FIRST_EPOCH_GOAL for f in seen)}/{len(firsts)}",
        "first_epoch_never": len(firsts) - len(seen),
    }


def _round(x: float | None) -> float | None:
    return None if x is None else round(x, 3)


def run_cost(reps: int = 60, seed: int = 0) -> dict[str, Any]:
    """One session and nothing else: the server's CPU for a stroke's run and for a Clear, in ms (means of `reps`).

    Each repetition sends a whole drawing at once (its last stroke's canvas), then Clear as
    chromium sends it; the server's CPU time is read from /proc around each. Three drawings first
    warm the page's caches.
    """
    drawings, kind = make_drawings(20, seed)
    finals = [steps[-1][0] for steps in drawings]
    proc, url = start_app()
    stats: Stats = {"errors": []}
    stroke, clear = [], []

    async def main():
        s = Session(url, stats)
        await s.open()
        await s.rerun()
        await s.wait_run()
        for value in finals[:3]:
            await s.rerun([("canvas", ("json_value", value))])
            await s.wait_run()
        for i in range(reps):
            c0 = _proc_stat(proc.pid)[0]
            await s.rerun([("canvas", ("json_value", finals[i % len(finals)]))])
            await s.wait_run()
            if s.prediction is None:
                stats["errors"].append("no reading")
            c1 = _proc_stat(proc.pid)[0]
            await s.rerun([("canvas", ("json_value", EMPTY_CANVAS))])  # Clear, as chromium sends it
            await s.wait_run()
            stroke.append(c1 - c0)
            clear.append(_proc_stat(proc.pid)[0] - c1)
        await s.close()

    try:
        asyncio.run(asyncio.wait_for(main(), reps * 2 * WAIT))
    finally:
        stop_app(proc)
    return {"repetitions": reps, "drawings": kind, "stroke_run_ms": round(1000 * statistics.mean(stroke), 1),
            "clear_ms": round(1000 * statistics.mean(clear), 1), "errors": len(stats["errors"]),
            "load_average": round(os.getloadavg()[0], 2)}


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--url", help="a running app on loopback (no CPU or memory figures then)")
    p.add_argument("--sessions", type=int, default=10, help="drawing sessions")
    p.add_argument("--trainers", type=int, default=2, help="sessions that train a network")
    p.add_argument("--duration", type=float, default=60, help="seconds the load lasts")
    p.add_argument("--think", type=float, default=2.5,
                   help="seconds between a session's drawings, jittered ±20%% (a person looking, then Clear)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--max-runs", type=int, default=2, help="DIGIT_LAB_MAX_RUNS of the server it starts")
    p.add_argument("--profile", action="store_true", help="sample the server's Python stacks (CPU per reading)")
    p.add_argument("--server-env", action="append", default=[], metavar="NAME=VALUE",
                   help="an environment setting for the server it starts, e.g. STREAMLIT_RUNNER_POST_SCRIPT_GC=false")
    p.add_argument("--browser", action="store_true",
                   help="also one real chromium drawing on Draw meanwhile (its stroke-to-reading times)")
    p.add_argument("--run-cost", type=int, metavar="N",
                   help="instead of the load: one session, N drawings each followed by Clear; the server's CPU "
                        "per stroke run and per Clear (the server's /proc clock, 10 ms ticks: use N >= 50)")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    if args.run_cost:
        result = run_cost(args.run_cost, args.seed)
        print(json.dumps(result) if args.json else
              f"one session, {result['repetitions']} drawings: server CPU {result['stroke_run_ms']} ms per stroke run, "
              f"{result['clear_ms']} ms per Clear (load average {result['load_average']})")
        return 1 if result["errors"] else 0
    server_env = dict(item.split("=", 1) for item in args.server_env)
    result = run(args.sessions, args.trainers, args.duration, args.think, args.seed, args.url, args.profile,
                 args.max_runs, server_env, args.browser)
    result["server_env"] = server_env
    if args.json:
        print(json.dumps(result))
    else:
        print(f"{args.sessions} drawing sessions (a stroke, its reading, then {args.think:g} s ±20% of thinking "
              f"with Clear, from seed {args.seed}), {args.trainers} training, {args.duration:g} s")
        for k, v in result.items():
            if k == "profile":
                print("profile (server CPU ms per reading):")
                for pk, pv in v.items():
                    print(f"  {pk}:")
                    if isinstance(pv, dict):
                        for fk, fv in pv.items():
                            print(f"    {fv:8.2f}  {fk}")
                    else:
                        print(f"    {pv}")
            else:
                print(f"{k:>34}: {v}")
    failed = result["errors"] or (args.browser and (result["browser"]["error"] or result["browser"]["wrong_readings"]))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
