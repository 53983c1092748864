"""A dataset mirror on 127.0.0.1 for the download tests (data.download, the server's one download):
never the internet.

    from mirrors import Mirror, no_proxies
    mirror = Mirror(files.get)           # body(filename) -> bytes, or None for a 404
    download_dataset("mnist", dest, mirrors=[mirror.url])
    mirror.close()
"""

import http.server
import threading

PROXY_VARIABLES = ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "ALL_PROXY")


def no_proxies(monkeypatch):
    """Take the proxies out of the environment: one must never see these loopback requests."""
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("no_proxy", "*")
    monkeypatch.setenv("NO_PROXY", "*")


class Mirror:
    """A ThreadingHTTPServer on 127.0.0.1 serving ``body(filename)`` (the last part of the path) under `url`.

    `mode` (which a test may change between requests):
      "ok"         the file with its Content-Length;
      "cut"        the full Content-Length, then half the file and the connection closed;
      "no-length"  no Content-Length, the file ended by closing the connection;
      "404"        Not Found (as is a file `body` returns None for);
      "stall"      nothing at all until the mirror is closed.
    With `hold`, each file stops half-way until `release` is set, so a test can look at a download under way.
    `requests` lists the file names asked for, in order.
    """

    def __init__(self, body, mode="ok", hold=False):
        self.mode, self.requests = mode, []
        self.release, self.closing = threading.Event(), threading.Event()
        if not hold:
            self.release.set()
        mirror = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                name = self.path.rsplit("/", 1)[-1]
                mirror.requests.append(name)
                if mirror.mode == "stall":
                    mirror.closing.wait(60)
                    return
                content = None if mirror.mode == "404" else body(name)
                if content is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                if mirror.mode != "no-length":
                    self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                half = len(content) // 2
                self.wfile.write(content[:half])  # a download under way (and where "cut" hangs up)
                if mirror.mode == "cut":
                    self.close_connection = True
                    return
                try:
                    self.wfile.flush()
                    mirror.release.wait(30)
                    self.wfile.write(content[half:])
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client hung up (a test's download stopped on purpose)

            def log_message(self, *args):
                pass  # keep test output clean

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/mnist/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def close(self):
        self.release.set()
        self.closing.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)
