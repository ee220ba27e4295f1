#!/usr/bin/env python3
"""Fuzzes ontime's REST API from its own OpenAPI document with Schemathesis.

Starts `ontime dev` (its embedded nats-server included) on free ports of 127.0.0.1 with a
temporary data directory, and a local sink that every timer the fuzzer creates calls; runs
Schemathesis against /openapi.json; reads back through the API how many timers the run
created; exits non-zero if Schemathesis found any failure or the run created no timer.

    tests/fuzz/fuzz.py --ontime target/debug/ontime --nats-server-bin $(nats/install.sh)

Every request goes to 127.0.0.1: the API under test, and the sink (hooks.py points every
callback URL at it).
"""

import argparse
import collections
import http.server
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))

# What the run checks: no 5xx, and every answer as the document describes it (status code,
# content type, headers, body).
CHECKS = ",".join(
    [
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_headers_conformance",
        "response_schema_conformance",
    ]
)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Sink(http.server.BaseHTTPRequestHandler):
    """The callback target of every fuzzed timer: reads the request, answers 204."""

    calls = 0

    def _answer(self):
        length = int(self.headers.get("content-length") or 0)
        if length:
            self.rfile.read(length)
        Sink.calls += 1
        self.send_response(204)
        self.end_headers()

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _answer

    def log_message(self, *args):
        pass


def get_json(url):
    with urllib.request.urlopen(url, timeout=10) as answer:
        return json.load(answer)


def wait_ready(base, process, deadline):
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"ontime dev exited with {process.returncode} before it was ready")
        try:
            get_json(f"{base}/ready")
            return
        except (urllib.error.URLError, ConnectionError, OSError):
            time.sleep(0.2)
    raise SystemExit("ontime dev was not ready within 60 s")


def count_timers(base, namespace):
    """Every timer of `namespace`, cancelled ones included (they are listed apart)."""
    ns = urllib.parse.quote(namespace, safe="")
    ids = set()
    for status in (None, "cancelled"):
        cursor = None
        while True:
            query = {"limit": "1000"}
            if status:
                query["status"] = status
            if cursor:
                query["cursor"] = cursor
            page = get_json(f"{base}/v1/namespaces/{ns}/timers?{urllib.parse.urlencode(query)}")
            ids.update(item["id"] for item in page["items"])
            cursor = page.get("next_cursor")
            if not cursor:
                break
    return len(ids)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ontime", required=True, help="the ontime binary")
    parser.add_argument("--nats-server-bin", required=True)
    parser.add_argument("--st", default=shutil.which("st") or "st", help="the Schemathesis CLI")
    parser.add_argument("--max-examples", type=int, default=40, help="cases per operation and phase")
    parser.add_argument("--seed", type=int, default=20261201)
    parser.add_argument("--max-time", type=int, default=150, help="seconds for the fuzzer")
    parser.add_argument("--keep", action="store_true", help="keep the data directory and logs")
    args = parser.parse_args()
    if os.sep in args.st:
        args.st = os.path.abspath(args.st)

    work = tempfile.mkdtemp(prefix="ontime-fuzz-")
    log_path = os.path.join(work, "calls.ndjson")
    open(log_path, "w").close()

    sink = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Sink)
    threading.Thread(target=sink.serve_forever, daemon=True).start()
    sink_url = f"http://127.0.0.1:{sink.server_address[1]}/hook"

    http_port, nats_port = free_port(), free_port()
    base = f"http://127.0.0.1:{http_port}"
    ontime_log = open(os.path.join(work, "ontime.log"), "w")
    ontime = subprocess.Popen(
        [
            args.ontime,
            "dev",
            "--data-dir",
            os.path.join(work, "data"),
            "--nats-server-bin",
            args.nats_server_bin,
            "--nats-port",
            str(nats_port),
            "--http",
            f"127.0.0.1:{http_port}",
        ],
        stdout=ontime_log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "ONTIME_LOG": os.environ.get("ONTIME_LOG", "warn")},
    )
    started = time.monotonic()
    failed = True
    try:
        wait_ready(base, ontime, started + 60)
        env = {
            **os.environ,
            "PYTHONPATH": HERE + os.pathsep + os.environ.get("PYTHONPATH", ""),
            "SCHEMATHESIS_HOOKS": "hooks",
            "ONTIME_FUZZ_SINK": sink_url,
            "ONTIME_FUZZ_LOG": log_path,
        }
        command = [
            args.st,
            "run",
            f"{base}/openapi.json",
            "--checks",
            CHECKS,
            "--mode",
            "positive",
            "--phases",
            "examples,coverage,fuzzing,stateful",
            "--max-examples",
            str(args.max_examples),
            "--seed",
            str(args.seed),
            "--max-time",
            str(args.max_time),
            "--workers",
            "2",
            "--request-timeout",
            "15",
            "--generation-database",
            "none",
            "--no-color",
            "--suppress-health-check",
            "all",
            "--report",
            "junit",
            "--report-dir",
            os.path.join(work, "report"),
        ]
        print("$", " ".join(command), flush=True)
        # In the temporary directory: Schemathesis keeps a cache (.schemathesis/) where it runs.
        fuzz = subprocess.run(command, env=env, cwd=work)

        calls = [json.loads(line) for line in open(log_path, encoding="utf-8")]
        by_status = collections.Counter(c["status"] // 100 * 100 for c in calls)
        writes = [
            c
            for c in calls
            if c["method"] in ("POST", "PUT") and 200 <= c["status"] < 300 and c["ns"]
        ]
        namespaces = sorted({c["ns"] for c in writes})
        created = sum(count_timers(base, ns) for ns in namespaces)
        errors = sum(1 for c in calls if c["status"] >= 500)
        elapsed = time.monotonic() - started
        print()
        print("ontime fuzz summary")
        print(f"  requests        {len(calls)} ("
              + ", ".join(f"{k // 100}xx: {v}" for k, v in sorted(by_status.items())) + ")")
        print(f"  server errors   {errors}")
        print(f"  2xx PUT/POST    {len(writes)} in {len(namespaces)} namespaces")
        print(f"  timers created  {created} (read back from the API)")
        print(f"  callbacks made  {Sink.calls} (all to {sink_url})")
        print(f"  schemathesis    exit code {fuzz.returncode}")
        print(f"  duration        {elapsed:.0f} s")
        failed = fuzz.returncode != 0 or created == 0 or errors > 0
        if created == 0:
            print("FAIL: the fuzzer created no timer; the document does not let it past validation")
    finally:
        ontime.terminate()
        try:
            ontime.wait(timeout=20)
        except subprocess.TimeoutExpired:
            ontime.kill()
        sink.shutdown()
        ontime_log.close()
        if failed or args.keep:
            print(f"logs and reports kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
