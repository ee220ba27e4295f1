"""Schemathesis hooks for the fuzz run (loaded through SCHEMATHESIS_HOOKS by fuzz.py).

- Every callback URL a request carries is pointed at the local sink before it is sent, so
  the timers the fuzzer creates call 127.0.0.1 and nothing else.
- Every answer is recorded (method, path template, namespace, status) in the file named by
  ONTIME_FUZZ_LOG, from which fuzz.py counts what the run created.
"""

import json
import os

import schemathesis

SINK = os.environ["ONTIME_FUZZ_SINK"]
LOG = os.environ["ONTIME_FUZZ_LOG"]


def _local(value):
    """The same document with every `target.http.url` (at any depth) pointed at the sink."""
    if isinstance(value, dict):
        out = {k: _local(v) for k, v in value.items()}
        http = out.get("http")
        if isinstance(http, dict) and isinstance(http.get("url"), str):
            http["url"] = SINK
        return out
    if isinstance(value, list):
        return [_local(v) for v in value]
    return value


@schemathesis.hook
def before_call(context, case, kwargs):
    if isinstance(case.body, (dict, list)):
        case.body = _local(case.body)


@schemathesis.hook
def after_call(context, case, response):
    params = case.path_parameters or {}
    record = {
        "method": case.method.upper(),
        "path": case.path,
        "ns": params.get("ns"),
        "status": response.status_code,
    }
    if response.status_code >= 400:
        try:
            error = response.json()
            record["error"] = error.get("error")
            record["field"] = error.get("field")
            record["message"] = error.get("message")
        except ValueError:
            record["error"] = "(not JSON)"
    with open(LOG, "a", encoding="utf-8") as log:
        log.write(json.dumps(record) + "\n")
