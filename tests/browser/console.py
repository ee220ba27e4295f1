#!/usr/bin/env python3
"""Drives ontime's web console (/console/) in a real browser, end to end.

Starts `ontime dev` (its embedded nats-server included) on free ports of 127.0.0.1 with a
temporary data directory, API tokens on and an admin token made for the run, and a local
sink that answers 200 on /ok and 500 with a recognisable body on /fail; then, in Debian's
Chromium driven by Playwright (a fresh profile, the browser's clock in Europe/Paris):

  login       a wrong token is refused with the API's message, the admin token is taken
              and kept across a reload
  namespace   one typed by hand, empty, opens; timers put in it through the API show on
              Refresh; later the API lists it
  one-time    a timer made with the form, due in a few seconds: the live preview shows its
              instant while it is typed; it fires and its execution (200) appears
  recurring   the preview reports a bad cron expression and then the next instants of a
              good one; an every-2s timer fires, is paused, resumed, edited (PATCH with
              If-Match), triggered, and deleted after a confirmation
  listing     filters by status, schedule kind (when the API has it) and metadata; Next and
              Back over the cursor
  failure     a timer calling /fail with max_attempts 1, written in the JSON editor (which
              starts from the form, and which the form reads back): its attempt's status,
              error and response excerpt on its page; its dead letter inspected, replayed (a
              second failing attempt appears) and discarded
  topics      a topic made, a subscriber added and removed, the topic deleted
  live        the live figures show the calls made and lateness percentiles
  tokens      sign out; a read token signs in, a write is refused with a readable 403, and
              once the token is revoked the next request brings the login back

Every wait is Playwright's auto-waiting `expect` (never a sleep as an assertion). Exits
non-zero with the step and what was expected when anything fails, or when the page logged
an uncaught error or a Content-Security-Policy violation.

    tests/browser/console.py --ontime target/debug/ontime --nats-server-bin $(nats/install.sh)

`--screenshots DIR` saves PNGs of the main pages into DIR (docs/screenshots/ for the README).
"""

import argparse
import http.server
import json
import os
import re
import secrets
import shutil
import sys
import tempfile
import time
import traceback
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import expect, sync_playwright

HERE = os.path.dirname(os.path.abspath(__file__))
# The helpers every test script shares, in tests/; no __pycache__ left behind.
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(HERE))
from ontime_dev import Dev, request_json, serve  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# The browser's zone: not UTC, so that local times and UTC ones differ.
BROWSER_ZONE = "Europe/Paris"
NAMESPACE = "console-test"
# What the sink answers on /fail: the test looks for it on the timer's page.
FAIL_BODY = "sink refuses this call: console-test failure 4242"
# Generous: a debug build on a busy machine.
WAIT_MS = 30_000


class Sink(http.server.BaseHTTPRequestHandler):
    """The timers' target: 200 on /ok, 500 with FAIL_BODY on /fail, 404 on /gone; counts the
    calls."""

    calls = {"ok": 0, "fail": 0, "gone": 0}

    def _answer(self):
        length = int(self.headers.get("content-length") or 0)
        if length:
            self.rfile.read(length)
        if self.path.startswith("/fail"):
            Sink.calls["fail"] += 1
            status, body = 500, FAIL_BODY.encode()
        elif self.path.startswith("/gone"):
            Sink.calls["gone"] += 1
            status, body = 404, b"no such hook"
        else:
            Sink.calls["ok"] += 1
            status, body = 200, b"received"
        self.send_response(status)
        self.send_header("content-type", "text/plain")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _answer

    def log_message(self, *args):
        pass


class Console:
    """The browser session and the steps run in it."""

    def __init__(self, page, base, sink, admin_token, shots, api):
        self.page, self.base, self.sink = page, base, sink
        self.admin_token, self.shots, self.api = admin_token, shots, api

    # Helpers

    def shot(self, name):
        if self.shots:
            # Without the notices of the steps before.
            expect(self.page.locator(".toast")).to_have_count(0)
            self.page.screenshot(path=os.path.join(self.shots, f"{name}.png"), full_page=True)

    def nav(self, name):
        self.page.get_by_role("navigation", name="Main").get_by_role("link", name=name, exact=True).click()

    def heading(self, text):
        expect(self.page.get_by_role("heading", level=1)).to_contain_text(text)

    def toast(self, text):
        expect(self.page.get_by_role("status").filter(has_text=text).first).to_be_visible()

    def region(self, name):
        return self.page.get_by_role("region", name=name, exact=True)

    def label(self, text):
        return self.page.get_by_label(text, exact=True)

    def execution(self, has_text):
        """The rows of the timer page's executions that hold `has_text`."""
        return self.region("Executions").get_by_role("row").filter(has_text=has_text)

    def confirm(self, button):
        dialog = self.page.get_by_role("dialog")
        expect(dialog).to_be_visible()
        dialog.get_by_role("button", name=button, exact=True).click()
        expect(dialog).to_have_count(0)

    def new_timer(self, timer_id):
        self.nav("New timer")
        self.heading("New timer")
        self.label("Timer id (optional)").fill(timer_id)

    def create(self, timer_id):
        self.page.get_by_role("button", name="Create timer").click()
        self.heading(timer_id)

    # Steps

    def login(self):
        page = self.page
        page.goto(f"{self.base}/console/")
        self.heading("Sign in to ontime")
        self.label("API token").fill("ot_nothing_likethis")
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("alert")).to_contain_text("This token was refused")
        expect(page.get_by_role("alert")).to_contain_text("unknown, revoked or expired")
        self.label("API token").fill(self.admin_token)
        page.get_by_role("button", name="Sign in").click()
        self.heading("Namespaces")
        expect(page.get_by_role("button", name="Sign out")).to_be_visible()
        page.reload()
        self.heading("Namespaces")

    def open_namespace(self):
        main = self.page.get_by_role("main")
        self.label("Namespace name").fill(NAMESPACE)
        main.get_by_role("button", name="Open", exact=True).click()
        self.heading("Timers")
        expect(main).to_contain_text("No timer matches in this namespace.")
        expect(self.label("Namespace")).to_have_value(NAMESPACE)
        seed(self.base, self.admin_token, self.sink)
        main.get_by_role("button", name="Refresh").click()
        expect(self.page.get_by_role("table").get_by_role("link")).to_have_text(
            ["daily-report", "invoice-42-reminder", "nightly-cleanup", "webhook-gone"])

    def one_time(self):
        page = self.page
        self.new_timer("first-call")
        self.label("Schedule kind").select_option("at")
        due = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(seconds=8)
        local = due.astimezone(ZoneInfo(BROWSER_ZONE)).strftime("%Y-%m-%dT%H:%M:%S")
        page.get_by_label("Due at").fill(local)
        instant = due.strftime("%Y-%m-%dT%H:%M:%S.000Z")
        preview = self.region("Schedule preview")
        expect(preview.locator(f'time[datetime="{instant}"]')).to_be_visible()
        expect(preview).to_contain_text("It fires once")
        self.label("URL").fill(f"{self.sink}/ok")
        self.label("Body").fill('{"hello": "console"}')
        self.label("Metadata").fill("suite=browser\nrun=once")
        self.create("first-call")
        expect(self.execution("succeeded").first).to_contain_text("200", timeout=WAIT_MS)
        expect(self.execution("succeeded").first).to_contain_text("received")
        self.heading("succeeded")

    def recurring(self):
        page = self.page
        self.new_timer("every-2s")
        preview = self.region("Schedule preview")
        self.label("Schedule kind").select_option("cron")
        self.label("Cron expression").fill("0 0 25 * * *")
        expect(preview.get_by_role("alert")).to_contain_text("out of range")
        expect(preview.get_by_role("alert")).to_contain_text("Field: cron")
        self.label("Cron expression").fill("0 30 9 * * MON-FRI")
        self.label("Time zone").fill("Europe/Paris")
        expect(preview.get_by_role("listitem")).to_have_count(5)
        self.shot("create")
        self.label("Schedule kind").select_option("every")
        self.label("Interval").fill("2s")
        expect(preview.get_by_role("listitem")).to_have_count(5)
        self.label("URL").fill(f"{self.sink}/ok")
        self.label("Metadata").fill("suite=browser")
        self.create("every-2s")
        expect(self.execution("succeeded").first).to_contain_text("200", timeout=WAIT_MS)

        page.get_by_role("button", name="Pause", exact=True).click()
        self.toast("Paused")
        self.heading("paused")
        expect(self.region("Next occurrences")).to_contain_text("Paused")
        page.get_by_role("button", name="Resume", exact=True).click()
        self.toast("Resumed")
        expect(page.get_by_role("heading", level=1)).to_contain_text(re.compile("scheduled|running"))

        page.get_by_role("button", name="Edit", exact=True).click()
        editor = self.label("Definition (JSON)")
        definition = json.loads(editor.input_value())
        definition["metadata"]["edited"] = "yes"
        editor.fill(json.dumps(definition, indent=2))
        page.get_by_role("button", name="Save", exact=True).click()
        self.toast("Saved: revision")
        expect(self.region("Overview")).to_contain_text("edited=yes")

        page.get_by_role("button", name="Trigger now").click()
        self.toast("Triggered")
        expect(self.region("Counters")).to_contain_text(re.compile(r"Triggered\s*1"))
        expect(self.execution("succeeded")).not_to_have_count(0)
        self.shot("timer")

    def failure(self):
        page = self.page
        self.new_timer("always-fails")
        self.label("Schedule kind").select_option("after")
        self.label("Delay").fill("1s")
        self.label("URL").fill(f"{self.sink}/ok")
        preview = self.region("Schedule preview")
        expect(preview.get_by_role("listitem")).to_have_count(1)
        # The JSON editor starts from the form; the form reads the JSON back.
        page.get_by_label("JSON", exact=True).check()
        editor = self.label("Timer (JSON)")
        doc = json.loads(editor.input_value())
        assert doc == {"id": "always-fails", "schedule": {"after": "1s"},
                       "target": {"http": {"url": f"{self.sink}/ok", "method": "POST"}}}, doc
        doc["target"]["http"]["url"] = f"{self.sink}/fail"
        doc["retry"] = {"max_attempts": 1}
        editor.fill(json.dumps(doc, indent=2))
        expect(preview.get_by_role("listitem")).to_have_count(1)
        page.get_by_label("Form", exact=True).check()
        expect(self.label("URL")).to_have_value(f"{self.sink}/fail")
        expect(self.label("Max attempts")).to_have_value("1")
        page.get_by_label("JSON", exact=True).check()
        self.create("always-fails")
        row = self.execution("failed").first
        expect(row).to_contain_text("500", timeout=WAIT_MS)
        expect(row).to_contain_text("HTTP 500")
        expect(row).to_contain_text(FAIL_BODY)
        self.heading("failed")

    def listing(self):
        page = self.page
        self.nav("Timers")
        self.heading("Timers")
        table = page.get_by_role("table")
        for timer in ("first-call", "every-2s", "always-fails", "daily-report"):
            expect(table.get_by_role("link", name=timer, exact=True)).to_be_visible()
        self.shot("timers")

        self.label("Status").select_option("failed")
        page.get_by_role("button", name="Apply").click()
        expect(table.get_by_role("link")).to_have_text(["always-fails", "webhook-gone"])

        self.label("Status").select_option("")
        self.label("Metadata").fill("run=once")
        page.get_by_role("button", name="Apply").click()
        expect(table.get_by_role("link")).to_have_text(["first-call"])

        if self.api["kind"]:
            self.label("Metadata").fill("")
            self.label("Schedule kind").select_option("cron")
            page.get_by_role("button", name="Apply").click()
            expect(table.get_by_role("link")).to_have_text(["daily-report", "nightly-cleanup"])

        page.goto(f"{self.base}/console/#/ns/{NAMESPACE}/timers?meta=suite%3Dbrowser&limit=1")
        pages = page.get_by_role("navigation", name="Timer pages")
        expect(table.get_by_role("link")).to_have_text(["every-2s"])
        expect(pages).to_contain_text("Page 1")
        pages.get_by_role("link", name="Next").click()
        expect(table.get_by_role("link")).to_have_text(["first-call"])
        expect(pages).to_contain_text("Page 2")
        pages.get_by_role("link", name="Back").click()
        expect(table.get_by_role("link")).to_have_text(["every-2s"])

        table.get_by_role("link", name="every-2s").click()
        self.heading("every-2s")
        page.get_by_role("button", name="Delete", exact=True).click()
        self.confirm("Delete")
        self.heading("cancelled")

    def dead_letters(self):
        page = self.page
        self.nav("Dead letters")
        self.heading("Dead letters")
        row = page.get_by_role("row").filter(has_text="always-fails")
        expect(row).to_contain_text("HTTP 500")
        expect(page.get_by_role("row").filter(has_text="webhook-gone")).to_contain_text("HTTP 404")
        self.shot("dead-letters")
        row.get_by_role("link", name="Inspect the letter of always-fails").click()
        self.heading("Dead letter of always-fails")
        expect(self.region("Last attempt")).to_contain_text(FAIL_BODY)
        page.get_by_role("button", name="Replay", exact=True).click()
        self.toast("Replay sent: attempt 2")
        page.get_by_role("link", name="Open the timer").click()
        self.heading("always-fails")
        # The replay's letter is written before its log entry: once #2 is logged, the
        # letter is the replay's, and discarding it is for good.
        expect(self.execution("#2").first).to_contain_text("500", timeout=WAIT_MS)
        self.nav("Dead letters")
        self.heading("Dead letters")
        row = page.get_by_role("row").filter(has_text="always-fails")
        expect(row).to_contain_text("HTTP 500")
        row.get_by_role("button", name="Discard the letter of always-fails").click()
        self.confirm("Discard")
        self.toast("Dead letter discarded")
        expect(page.get_by_role("row").filter(has_text="always-fails")).to_have_count(0)
        expect(page.get_by_role("row").filter(has_text="webhook-gone")).to_contain_text("HTTP 404")

    def topics(self):
        page = self.page
        self.nav("Topics")
        self.heading("Topics")
        self.label("Topic name").fill("orders")
        self.label("Description").fill("new orders")
        page.get_by_role("button", name="Create topic").click()
        self.heading("Topic orders")
        self.label("Subscriber id").fill("billing")
        self.label("Subscriber URL").fill(f"{self.sink}/ok")
        page.get_by_role("button", name="Add subscriber").click()
        subscribers = self.region("Subscribers")
        expect(subscribers.get_by_role("row").filter(has_text="billing")).to_contain_text(f"POST {self.sink}/ok")
        subscribers.get_by_role("button", name="Remove subscriber billing").click()
        self.confirm("Remove")
        expect(subscribers).to_contain_text("No subscriber")
        page.get_by_role("button", name="Delete topic").click()
        self.confirm("Delete")
        self.heading("Topics")
        expect(page.get_by_role("main")).to_contain_text("No topic in this namespace yet.")

    def live(self):
        page = self.page
        self.nav("Live")
        self.heading("Live figures")
        calls = page.get_by_role("group", name="Calls since start", exact=True).locator(".figure-value")
        expect(calls).to_have_attribute("data-value", re.compile(r"^[1-9][0-9]*$"))
        p50 = page.get_by_role("group", name="Lateness p50", exact=True).locator(".figure-value")
        expect(p50).to_have_attribute("data-value", re.compile(r"^[0-9.e-]+$"))
        expect(page.get_by_role("group", name="Dead letters since start", exact=True).locator(".figure-value")).to_have_attribute("data-value", re.compile(r"^[1-9]"))
        # Two readings make the charts.
        expect(page.locator("svg.spark").first).to_be_visible()
        self.shot("live")

    def namespaces(self):
        page = self.page
        page.get_by_role("link", name="ontime console").click()
        self.heading("Namespaces")
        if self.api["namespaces"]:
            expect(page.get_by_role("main").get_by_role("link", name=NAMESPACE, exact=True)).to_be_visible()

    def tokens(self):
        page = self.page
        page.get_by_role("button", name="Sign out").click()
        self.heading("Sign in to ontime")
        page.reload()
        self.heading("Sign in to ontime")
        issued = request_json(f"{self.base}/v1/tokens", self.admin_token,
                              {"name": "console-read", "role": "read", "namespaces": [NAMESPACE]})
        self.label("API token").fill(issued["token"])
        page.get_by_role("button", name="Sign in").click()
        self.heading("Namespaces")
        page.goto(f"{self.base}/console/#/ns/{NAMESPACE}/timers")
        expect(page.get_by_role("table").get_by_role("link", name="first-call", exact=True)).to_be_visible()
        self.new_timer("refused")
        self.label("Schedule kind").select_option("after")
        self.label("Delay").fill("1h")
        self.label("URL").fill(f"{self.sink}/ok")
        page.get_by_role("button", name="Create timer").click()
        alert = page.get_by_role("main").get_by_role("alert")
        expect(alert).to_contain_text("403 forbidden")
        expect(alert).to_contain_text(f"may not write in namespace {NAMESPACE}")
        request_json(f"{self.base}/v1/tokens/{issued['id']}", self.admin_token, method="DELETE")
        self.nav("Timers")
        self.heading("Sign in to ontime")
        expect(page.get_by_role("main")).to_contain_text("unknown, revoked or expired")


def seed(base, token, sink):
    """Timers made through the API, so that the listing (and the dead letters: a 404 is a
    final answer) have more than the test's own."""
    later = (datetime.now(timezone.utc) + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    timers = {
        "daily-report": {"schedule": {"cron": "0 30 9 * * MON-FRI", "timezone": "Europe/Paris"},
                         "target": {"http": {"url": "https://api.example.com/report"}},
                         "metadata": {"team": "finance"}},
        "invoice-42-reminder": {"schedule": {"at": later},
                                "target": {"http": {"url": "https://api.example.com/remind", "method": "PUT"}},
                                "metadata": {"app": "billing", "invoice": "42"}},
        "nightly-cleanup": {"schedule": {"cron": "@daily"},
                            "target": {"http": {"url": "https://api.example.com/cleanup"}},
                            "metadata": {"app": "ops"}},
        "webhook-gone": {"schedule": {"after": "1s"},
                         "target": {"http": {"url": f"{sink}/gone"}},
                         "metadata": {"app": "hooks"}},
    }
    for timer_id, spec in timers.items():
        request_json(f"{base}/v1/namespaces/{NAMESPACE}/timers/{timer_id}", token, spec, method="PUT")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ontime", required=True, help="the ontime binary")
    parser.add_argument("--nats-server-bin", required=True)
    parser.add_argument("--chromium", default=CHROMIUM)
    parser.add_argument("--screenshots", metavar="DIR", help="save PNGs of the main pages here")
    parser.add_argument("--keep", action="store_true", help="keep the data directory and logs")
    args = parser.parse_args()
    if not os.access(args.chromium, os.X_OK):
        raise SystemExit(f"{args.chromium} is missing: apt-get install -y chromium")
    shots = os.path.abspath(args.screenshots) if args.screenshots else None
    if shots:
        os.makedirs(shots, exist_ok=True)

    work = tempfile.mkdtemp(prefix="ontime-browser-")
    sink, sink_base = serve(Sink)

    admin_token = "browser-admin-" + secrets.token_urlsafe(32)
    dev = Dev(args.ontime, args.nats_server_bin, work, admin_token)
    base = dev.base
    started = time.monotonic()
    problems = []
    passed = []
    api = {}
    try:
        dev.wait_ready(started + 60)
        document = request_json(f"{base}/openapi.json")
        listing = document["paths"]["/v1/namespaces/{ns}/timers"]["get"].get("parameters", [])
        api.update(namespaces="/v1/namespaces" in document["paths"],
                   kind=any(p.get("name") == "kind" for p in listing))
        expect.set_options(timeout=15_000)
        with sync_playwright() as playwright:
            context = playwright.chromium.launch_persistent_context(
                os.path.join(work, "profile"),
                executable_path=args.chromium,
                headless=True,
                args=CHROMIUM_ARGS,
                viewport={"width": 1360, "height": 900},
                locale="en-GB",
                timezone_id=BROWSER_ZONE,
            )
            page = context.pages[0] if context.pages else context.new_page()
            page_errors = []
            page.on("pageerror", lambda e: page_errors.append(f"uncaught: {e}"))
            page.on("console", lambda m: page_errors.append(f"console: {m.text}")
                    if "Content Security Policy" in m.text else None)
            console = Console(page, base, sink_base, admin_token, shots, api)
            steps = [console.login, console.open_namespace, console.one_time, console.recurring,
                     console.failure, console.listing, console.dead_letters, console.topics,
                     console.live, console.namespaces, console.tokens]
            for step in steps:
                name = step.__name__
                print(f"== {name}", flush=True)
                step_started = time.monotonic()
                try:
                    step()
                except (AssertionError, PlaywrightError) as e:
                    problems.append(f"{name}: {str(e).strip()}")
                    path = os.path.join(work, f"failed-{name}.png")
                    page.screenshot(path=path, full_page=True)
                    print(f"   failed at {page.url}; screenshot {path}", flush=True)
                    break
                passed.append(name)
                print(f"   ok ({time.monotonic() - step_started:.1f} s)", flush=True)
            problems += page_errors
            context.close()
        if dev.exited():
            problems.append(f"{dev.exited()} during the run")
    except Exception:
        problems.append(traceback.format_exc())
    finally:
        dev.stop()
        sink.shutdown()

    print()
    print("ontime console browser test")
    print(f"  steps passed    {len(passed)}: {', '.join(passed) or 'none'}")
    print(f"  sink calls      {Sink.calls['ok']} to /ok, {Sink.calls['fail']} to /fail, {Sink.calls['gone']} to /gone")
    print(f"  api             GET /v1/namespaces {'served' if api.get('namespaces') else 'absent'}, "
          f"kind filter {'served' if api.get('kind') else 'absent (not tested)'}")
    if shots:
        print(f"  screenshots     {shots}")
    print(f"  duration        {time.monotonic() - started:.0f} s")
    for problem in problems:
        print(f"FAIL: {problem}")
    failed = bool(problems)
    print("FAILED" if failed else "OK")
    if failed or args.keep:
        print(f"logs kept in {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
