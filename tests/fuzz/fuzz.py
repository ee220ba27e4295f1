#!/usr/bin/env python3
"""Fuzzes ontime's REST API from its own OpenAPI document with Schemathesis.

Starts `ontime dev` (its embedded nats-server included) on free ports of 127.0.0.1 with a
temporary data directory, API tokens on and an admin token made for the run, and a local
sink that every timer the fuzzer creates calls; then runs Schemathesis against
/openapi.json three times, every answer checked against the document (status code, content
type, headers, body), no 5xx, and no route that does what the credentials do not allow:

  admin      with the admin token, every phase: nothing answers 401, and the run creates
             at least one timer (read back through the API);
  anonymous  without any credentials, shorter: every route but /health, /ready, /metrics and
             /openapi.json answers 401, and every one of them is tried;
  read       with a `read` token scoped to the namespace `fuzz` (made with POST /v1/tokens),
             shorter, most requests sent to `fuzz`: nothing answers 401, no write (a method
             other than GET and HEAD) answers 2xx, and some read does.

Exits non-zero if Schemathesis found any failure in any run or a check above fails; what
failed is named (method, path, status, the path sent).

    tests/fuzz/fuzz.py --ontime target/debug/ontime --nats-server-bin $(nats/install.sh)

Every request goes to 127.0.0.1: the API under test, and the sink (hooks.py points every
callback URL and every OAuth2 token URL at it).
"""

import argparse
import collections
import http.server
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
# The helpers every test script shares, in tests/; no __pycache__ left behind.
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(HERE))
from ontime_dev import Dev, request_json, serve  # noqa: E402

# What every run checks: no 5xx, every answer as the document describes it (status code,
# content type, headers, body), and no operation that declares a token answering 2xx
# without one or with a wrong one (`ignored_auth` retries a 2xx without the token and with
# an invalid one).
CHECKS = ",".join(
    [
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_headers_conformance",
        "response_schema_conformance",
        "ignored_auth",
    ]
)

# The routes anyone may call; every other one needs a token.
OPEN_PATHS = ("/health", "/ready", "/metrics", "/openapi.json")
# The methods that only read: a `read` token may use these, and only these.
READS = ("GET", "HEAD")
METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")

# The token the read run uses.
READ_TOKEN = {"name": "fuzz-read", "role": "read", "namespaces": ["fuzz"]}


class Sink(http.server.BaseHTTPRequestHandler):
    """The callback target of every fuzzed timer: reads the request, answers 204; at
    /token, the token endpoint of every fuzzed OAuth2 prerequisite, answers a token."""

    calls = 0
    token_requests = 0

    def _answer(self):
        length = int(self.headers.get("content-length") or 0)
        if length:
            self.rfile.read(length)
        if self.path.startswith("/token"):
            Sink.token_requests += 1
            body = json.dumps(
                {"access_token": "fuzz-access-token", "token_type": "Bearer", "expires_in": 3600}
            ).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        Sink.calls += 1
        self.send_response(204)
        self.end_headers()

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _answer

    def log_message(self, *args):
        pass


def count_timers(base, token, namespace):
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
            page = request_json(
                f"{base}/v1/namespaces/{ns}/timers?{urllib.parse.urlencode(query)}", token
            )
            ids.update(item["id"] for item in page["items"])
            cursor = page.get("next_cursor")
            if not cursor:
                break
    return len(ids)


def operations(document):
    """Every (METHOD, path) the document declares."""
    return {
        (method.upper(), path)
        for path, item in document.get("paths", {}).items()
        for method in item
        if method in METHODS
    }


def by_status(calls):
    counts = collections.Counter(c["status"] // 100 for c in calls)
    return ", ".join(f"{k}xx: {v}" for k, v in sorted(counts.items())) or "none"


def offenders(run, calls, what):
    """One problem line per (method, path, status) among `calls`, with a path sent."""
    groups = collections.OrderedDict()
    for c in calls:
        key = (c["method"], c["path"], c["status"])
        groups.setdefault(key, []).append(c)
    return [
        f"{run}: {what}: {method} {path} answered {status} ({len(group)}x, e.g. {group[0]['sent']}"
        + (f", {group[0].get('error')}: {group[0].get('message')}" if group[0].get("error") else "")
        + ")"
        for (method, path, status), group in groups.items()
    ]


class Runs:
    """Runs Schemathesis against one server, each run with its own log of answers."""

    def __init__(self, args, base, work, env):
        self.args, self.base, self.work, self.env = args, base, work, env

    def run(self, name, *, token, phases, max_time, max_examples, namespace=None, quiet=False):
        """Schemathesis' exit code, and every answer the hooks recorded."""
        log_path = os.path.join(self.work, f"calls-{name}.ndjson")
        open(log_path, "w").close()
        command = [
            self.args.st,
            "run",
            f"{self.base}/openapi.json",
            "--checks",
            CHECKS,
            "--mode",
            "positive",
            "--phases",
            phases,
            "--max-examples",
            str(max_examples),
            "--seed",
            str(self.args.seed),
            "--max-time",
            str(max_time),
            # One worker: Hypothesis describes strategies with `ast.parse`, which CPython 3.11
            # does not make safe across threads (a SystemError, "AST constructor recursion
            # depth mismatch", now and then).
            "--workers",
            "1",
            "--request-timeout",
            "15",
            "--generation-database",
            "none",
            # The credentials are ours (or none): no generated `Authorization` header.
            "--generation-with-security-parameters",
            "false",
            "--no-color",
            "--suppress-health-check",
            "all",
            "--report",
            "junit",
            "--report-dir",
            os.path.join(self.work, "report", name),
        ]
        if quiet:
            # Without a token every answer is a 401, which Schemathesis warns about at length.
            command += ["--warnings", "off"]
        shown = list(command)
        if token:
            command += ["--header", f"Authorization: Bearer {token}"]
            shown += ["--header", f"'Authorization: Bearer <{name} token>'"]
        env = {**self.env, "ONTIME_FUZZ_LOG": log_path}
        if namespace:
            env["ONTIME_FUZZ_NAMESPACE"] = namespace
        print(f"\n== {name} run", flush=True)
        print("$", " ".join(shown), flush=True)
        # In the temporary directory: Schemathesis keeps a cache (.schemathesis/) where it runs.
        fuzz = subprocess.run(command, env=env, cwd=self.work)
        calls = [json.loads(line) for line in open(log_path, encoding="utf-8")]
        return fuzz.returncode, calls


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ontime", required=True, help="the ontime binary")
    parser.add_argument("--nats-server-bin", required=True)
    parser.add_argument("--st", default=shutil.which("st") or "st", help="the Schemathesis CLI")
    parser.add_argument("--max-examples", type=int, default=40,
                        help="cases per operation and phase, admin run")
    parser.add_argument("--short-max-examples", type=int, default=10,
                        help="cases per operation and phase, anonymous and read runs")
    parser.add_argument("--seed", type=int, default=20261201)
    parser.add_argument("--max-time", type=int, default=125, help="seconds for the admin run")
    parser.add_argument("--max-time-anonymous", type=int, default=30,
                        help="seconds for the run without credentials")
    parser.add_argument("--max-time-read", type=int, default=20,
                        help="seconds for the run with a read token")
    parser.add_argument("--keep", action="store_true", help="keep the data directory and logs")
    args = parser.parse_args()
    if os.sep in args.st:
        args.st = os.path.abspath(args.st)

    work = tempfile.mkdtemp(prefix="ontime-fuzz-")

    sink, sink_base = serve(Sink)
    sink_url = f"{sink_base}/hook"

    admin_token = "fuzz-admin-" + secrets.token_urlsafe(32)
    dev = Dev(args.ontime, args.nats_server_bin, work, admin_token)
    base = dev.base
    started = time.monotonic()
    failed = True
    try:
        dev.wait_ready(started + 60)
        protected = {op for op in operations(request_json(f"{base}/openapi.json"))
                     if op[1] not in OPEN_PATHS}
        runs = Runs(args, base, work, {
            **os.environ,
            "PYTHONPATH": HERE + os.pathsep + os.environ.get("PYTHONPATH", ""),
            "SCHEMATHESIS_HOOKS": "hooks",
            # No __pycache__ left in tests/fuzz.
            "PYTHONDONTWRITEBYTECODE": "1",
            "ONTIME_FUZZ_SINK": sink_url,
            "ONTIME_FUZZ_TOKEN_URL": f"{sink_base}/token",
        })
        problems = []
        exits = {}

        def alive():
            exited = dev.exited()
            if exited is None:
                return True
            problems.append(f"{exited} during the runs")
            return False

        # 1. Admin: everything, with the admin token.
        exits["admin"], admin = runs.run(
            "admin", token=admin_token, phases="examples,coverage,fuzzing,stateful",
            max_time=args.max_time, max_examples=args.max_examples)
        problems += offenders("admin", [c for c in admin if c["status"] >= 500], "server error")
        problems += offenders("admin", [c for c in admin if c["status"] == 401],
                              "refused the admin token")
        writes = [c for c in admin
                  if c["method"] in ("POST", "PUT") and 200 <= c["status"] < 300 and c["ns"]]
        namespaces = sorted({c["ns"] for c in writes})
        created = sum(count_timers(base, admin_token, ns) for ns in namespaces) if alive() else 0
        if created == 0:
            problems.append("admin: the fuzzer created no timer; the document does not let it past validation")
        admin_ok = {(c["method"], c["path"]) for c in admin if 200 <= c["status"] < 300}

        # 2. Anonymous: no credentials at all; every protected route must answer 401.
        anonymous = []
        if alive():
            exits["anonymous"], anonymous = runs.run(
                "anonymous", token=None, phases="examples,fuzzing",
                max_time=args.max_time_anonymous, max_examples=args.short_max_examples,
                quiet=True)
            problems += offenders("anonymous", [c for c in anonymous if c["auth"]],
                                  "sent an Authorization header")
            outside = [c for c in anonymous if c["path"] not in OPEN_PATHS and c["status"] != 401]
            problems += offenders(
                "anonymous", [c for c in outside if 200 <= c["status"] < 300],
                "ANSWERED 2xx WITHOUT A TOKEN")
            problems += offenders(
                "anonymous", [c for c in outside if not 200 <= c["status"] < 300],
                "answered other than 401 without a token")
            problems += offenders(
                "anonymous",
                [c for c in anonymous if c["path"] in OPEN_PATHS and c["status"] >= 500],
                "server error")
            untried = protected - {(c["method"], c["path"]) for c in anonymous}
            problems += [f"anonymous: never tried without a token: {m} {p}" for m, p in sorted(untried)]

        # 3. Read: a `read` token of the namespace `fuzz`; no write may succeed.
        read = []
        if alive():
            try:
                issued = request_json(f"{base}/v1/tokens", admin_token, READ_TOKEN)
                read_token = issued["token"]
            except urllib.error.HTTPError as e:
                problems.append(f"read: POST /v1/tokens {json.dumps(READ_TOKEN)} answered "
                                f"{e.code}: {e.read().decode(errors='replace')}")
                read_token = None
            except (urllib.error.URLError, OSError, KeyError, ValueError) as e:
                problems.append(f"read: POST /v1/tokens {json.dumps(READ_TOKEN)} failed: {e!r}")
                read_token = None
            if read_token:
                exits["read"], read = runs.run(
                    "read", token=read_token, phases="examples,fuzzing",
                    max_time=args.max_time_read, max_examples=args.short_max_examples,
                    namespace=READ_TOKEN["namespaces"][0])
                problems += offenders("read", [c for c in read if c["status"] >= 500], "server error")
                problems += offenders("read", [c for c in read if c["status"] == 401],
                                      "refused a valid read token")
                problems += offenders(
                    "read",
                    [c for c in read if c["method"] not in READS and 200 <= c["status"] < 300],
                    "LET A READ TOKEN WRITE")
                if not any(c["method"] in READS and 200 <= c["status"] < 300 for c in read):
                    problems.append("read: no read answered 2xx; the read token was refused everywhere")
        alive()
        problems += [f"{name}: schemathesis exited with {code}"
                     for name, code in exits.items() if code != 0]

        elapsed = time.monotonic() - started
        print()
        print("ontime fuzz summary")
        print(f"  admin run       {len(admin)} requests ({by_status(admin)}), "
              f"schemathesis exit {exits.get('admin')}")
        print(f"    server errors {sum(c['status'] >= 500 for c in admin)}, "
              f"401s {sum(c['status'] == 401 for c in admin)}")
        print(f"    2xx PUT/POST  {len(writes)} in {len(namespaces)} namespaces")
        print(f"    timers        {created} created (read back from the API)")
        print(f"    operations    {len(admin_ok & protected)} of {len(protected)} protected ones answered 2xx")
        for method, path in sorted(protected - admin_ok):
            answers = collections.Counter(
                f"{c['status']} {c.get('error')}" + (f" ({c['field']})" if c.get("field") else "")
                for c in admin if (c["method"], c["path"]) == (method, path))
            common = ", ".join(f"{answer} x{n}" for answer, n in answers.most_common(2))
            print(f"      never 2xx   {method} {path}: {common or 'never requested'}")
        if "anonymous" in exits:
            print(f"  anonymous run   {len(anonymous)} requests ({by_status(anonymous)}), "
                  f"schemathesis exit {exits['anonymous']}")
            tried = {(c["method"], c["path"]) for c in anonymous} & protected
            refused = sum(c["status"] == 401 for c in anonymous if c["path"] not in OPEN_PATHS)
            print(f"    protected     {len(tried)} of {len(protected)} operations tried, "
                  f"{refused} of {sum(c['path'] not in OPEN_PATHS for c in anonymous)} answers 401")
        if "read" in exits:
            print(f"  read run        {len(read)} requests ({by_status(read)}), "
                  f"schemathesis exit {exits['read']}")
            read_writes = [c for c in read if c["method"] not in READS]
            print(f"    writes        {len(read_writes)}, "
                  f"{sum(200 <= c['status'] < 300 for c in read_writes)} answered 2xx, "
                  f"{sum(c['status'] == 403 for c in read_writes)} answered 403")
            print(f"    reads         {sum(c['method'] in READS for c in read)}, "
                  f"{sum(c['method'] in READS and 200 <= c['status'] < 300 for c in read)} answered 2xx")
        print(f"  callbacks made  {Sink.calls} (all to {sink_url}), "
              f"{Sink.token_requests} OAuth2 token requests")
        print(f"  duration        {elapsed:.0f} s")
        for problem in problems:
            print(f"FAIL: {problem}")
        failed = bool(problems)
        print("FAILED" if failed else "OK")
    finally:
        dev.stop()
        sink.shutdown()
        if failed or args.keep:
            print(f"logs and reports kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
