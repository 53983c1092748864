"""What the hostile-visitor tests share: a real server per test, browsers as separate visitors, and
what a page shows or fetches."""

import os
import re
import time
import urllib.parse
import uuid
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa

from harness import PATIENCE, start_app, stop_app
from harness.pages import settle
from needs import missing

TIMEOUT_MS = PATIENCE * 1000


def store_kind():
    """The store a hostile scenario runs on: PostgreSQL, the one a class's host runs, where the test PostgreSQL
    is set up (DIGIT_LAB_TEST_POSTGRES_URL; .ci/run starts one, so CI always has it), else SQLite. Each scenario
    runs once, on one store: the store's own tests (tests/webapp/store) run every query on both, and the other
    browser tests run the app on SQLite."""
    if os.environ.get("DIGIT_LAB_TEST_POSTGRES_URL"):
        return "postgresql"
    if os.environ.get("CI"):
        missing("no PostgreSQL: set DIGIT_LAB_TEST_POSTGRES_URL")
    return "sqlite"


@contextmanager
def fresh_store(kind, folder):
    """An empty store's URL: an SQLite file in `folder`, or a database of its own on the test PostgreSQL
    (DIGIT_LAB_TEST_POSTGRES_URL; skipped without it, a failure under CI), dropped afterwards."""
    if kind == "sqlite":
        yield f"sqlite:///{folder}/store.sqlite"
        return
    url = os.environ.get("DIGIT_LAB_TEST_POSTGRES_URL")
    if not url:
        missing("no PostgreSQL: set DIGIT_LAB_TEST_POSTGRES_URL")
    base = sa.make_url(url)
    name = f"hostile_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')  # a name of our own making
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def rss_mb(proc):
    """The server process's resident memory now, in MB."""
    status = Path(f"/proc/{proc.pid}/status").read_text()
    return int(re.search(r"VmRSS:\s+(\d+)", status).group(1)) / 1024


@contextmanager
def server(store_url, **env):
    """A fresh app on 127.0.0.1 with its store at `store_url` and DIGIT_LAB_<NAME> settings from `env`."""
    settings = {f"DIGIT_LAB_{k.upper()}": str(v) for k, v in env.items()}
    # A closed tab's session (and what it holds) is dropped after 5 s, not Streamlit's default two minutes.
    proc, url = start_app(env={"DIGIT_LAB_STORE_URL": store_url, "STREAMLIT_SERVER_DISCONNECTED_SESSION_TTL": "5",
                               **settings})
    try:
        yield proc, url
    finally:
        stop_app(proc)


class Visitor:
    """One browser (its own cookies: one client) with its pages; `fetched` lists every URL it asked for."""

    def __init__(self, chromium, url, width=1280, height=1000):
        self.context = chromium.new_context(viewport={"width": width, "height": height})
        self.context.set_default_timeout(TIMEOUT_MS)
        self.url, self.fetched = url, []
        self.context.on("request", lambda r: self.fetched.append(r.url))
        self.page = self.context.new_page()

    def open(self, path=""):
        """Go to `path` of the app (e.g. "gallery?class=x") and wait until it is idle."""
        self.page.goto(f"{self.url}/{path}")
        self.page.locator('[data-testid="stSidebarNav"]').wait_for(state="attached")  # hidden in projector view
        settle(self.page)
        return self.page

    def go(self, title):
        """Follow the sidebar's link to a page (the same session, unlike open())."""
        self.page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name=title).click()
        settle(self.page)
        return self.page

    def publish(self, gallery_name, code):
        """Publish the session's selected model to class `code` from Gallery's form, as a visitor does."""
        page = self.go("Gallery")
        page.get_by_text("Publish one of your models").click()
        page.get_by_label("Name in the gallery").wait_for()
        settle(page)  # the page's reruns are over: a click now is not lost to one (seen in CI under load)
        page.get_by_label("Name in the gallery").fill(gallery_name)
        page.get_by_label("Class code (optional)").fill(code)
        settle(page)
        page.get_by_role("button", name="Publish").click()
        self.wait_for_text(f"Published {gallery_name}")  # not "Published models", the heading above
        return page

    def new_tab(self):
        """Another tab of the same browser (same cookies)."""
        self.page = self.context.new_page()
        return self.page

    def client_cookie(self):
        return next((c["value"] for c in self.context.cookies() if c["name"] == "digit_lab_client"), None)

    def upload(self, name, data):
        """Upload a model file on Draw, as a visitor would; the page afterwards."""
        page = self.page
        expander = page.locator('[data-testid="stExpander"]').filter(has_text="Use your own model (.npz)")
        if expander.locator("details").get_attribute("open") is None:
            expander.locator("summary").click()
        page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(
            files=[{"name": name, "mimeType": "application/octet-stream", "buffer": data}])
        settle(page)
        return page

    def share(self):
        """Press Share model on Draw; the notice it shows (its text)."""
        page = self.page
        page.get_by_role("button", name="Share model").click()
        settle(page)
        notice = page.locator('[data-testid="stAlert"]').filter(has_text=re.compile("link gets|not shared")).first
        notice.wait_for()
        return notice.inner_text()

    def selected_model(self):
        """The model the page's first model selector shows."""
        return self.page.get_by_role("combobox", name="Model", exact=True).first.input_value()

    def wait_for_text(self, text, timeout=PATIENCE):
        """Wait until the main area reads `text` (the invisible joiners webapp.text.literal adds left out)."""
        deadline = time.monotonic() + timeout
        while text not in self.main_text():
            assert time.monotonic() < deadline, f"{text!r} never showed in: {self.main_text()[-1500:]!r}"
            time.sleep(0.25)

    def main_text(self):
        """What the main area reads (without the invisible word joiners that break links and short codes)."""
        return self.page.locator('[data-testid="stMain"]').inner_text().replace("\u2060", "")

    def remote_fetches(self):
        """URLs fetched that are not the app's own."""
        return [u for u in self.fetched if not u.startswith(self.url) and not u.startswith("data:")]

    def markup_in_main(self):
        """Images and links in the page's main area that point outside the app (none should exist)."""
        main = self.page.locator('[data-testid="stMain"]')
        images = [i.get_attribute("src") for i in main.locator("img").all()]
        links = [a.get_attribute("href") for a in main.locator("a").all()]
        here = urllib.parse.urlsplit(self.url).netloc
        return [u for u in images + links if u and urllib.parse.urlsplit(u).scheme not in ("", "data", "blob")
                and urllib.parse.urlsplit(u).netloc != here]

    def close(self):
        self.context.close()
