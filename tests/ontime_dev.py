"""What the test scripts (tests/fuzz, tests/browser) share: an `ontime dev` of their own on
free ports of 127.0.0.1, with a temporary data directory and API tokens on, a local HTTP
sink, and JSON requests to the API."""

import http.server
import json
import os
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def request_json(url, token=None, body=None, method=None):
    """The JSON answer of a request (a GET, or a POST of `body`), with `token` as bearer;
    None for an answer without a body."""
    headers = {"accept": "application/json"}
    data = None
    if token:
        headers["authorization"] = f"Bearer {token}"
    if body is not None:
        headers["content-type"] = "application/json"
        data = json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers=headers, method=method)
    with urllib.request.urlopen(request, timeout=10) as answer:
        text = answer.read()
        return json.loads(text) if text else None


def serve(handler):
    """An HTTP server of `handler` (a BaseHTTPRequestHandler) on a free port of 127.0.0.1, in a
    thread: the server and its base URL."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


class Dev:
    """`ontime dev` on free ports, its data and log in `work`, with tokens on and
    `admin_token` as the operator's admin token."""

    def __init__(self, ontime, nats_server_bin, work, admin_token):
        http_port = free_port()
        self.base = f"http://127.0.0.1:{http_port}"
        self.log = open(os.path.join(work, "ontime.log"), "w")
        self.process = subprocess.Popen(
            [
                ontime, "dev",
                "--data-dir", os.path.join(work, "data"),
                "--nats-server-bin", nats_server_bin,
                "--nats-port", str(free_port()),
                "--http", f"127.0.0.1:{http_port}",
                # On loopback, `auto` would mean no tokens.
                "--auth", "tokens",
            ],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            env={
                **os.environ,
                "ONTIME_LOG": os.environ.get("ONTIME_LOG", "warn"),
                "ONTIME_ADMIN_TOKEN": admin_token,
            },
        )

    def wait_ready(self, deadline):
        """Returns once /ready answers; exits the script if it dies or `deadline` (a
        time.monotonic() instant) passes first."""
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(
                    f"ontime dev exited with {self.process.returncode} before it was ready")
            try:
                request_json(f"{self.base}/ready")
                return
            except (urllib.error.URLError, ConnectionError, OSError):
                time.sleep(0.2)
        raise SystemExit("ontime dev was not ready within 60 s")

    def exited(self):
        """Why it is no longer running, or None while it is."""
        code = self.process.poll()
        return None if code is None else f"ontime dev exited with {code}"

    def stop(self):
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()
