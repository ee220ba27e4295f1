"""Schemathesis hooks for the fuzz runs (loaded through SCHEMATHESIS_HOOKS by fuzz.py).

- Every callback URL a request carries is pointed at the local sink before it is sent, so
  the timers the fuzzer creates call 127.0.0.1 and nothing else; so is every OAuth2
  prerequisite's `token_url` (the sink hands out a token there).
- The ids of the tokens and signing secrets the run made are kept, and half the requests to
  `/v1/tokens/{id}` and `/v1/namespaces/{ns}/signing-secrets/{id}` are sent to one of
  them: nothing in the document links the answer that makes one to the routes that take
  its id, so generated ids alone only ever find nothing.
- With ONTIME_FUZZ_NAMESPACE set (the run with a token scoped to one namespace), most
  requests are sent to that namespace instead of the generated one, so the token's scope is
  exercised from inside as well as from outside.
- Every answer is recorded (method, path template, path sent, namespace, status, whether the
  request carried `Authorization`) in the file named by ONTIME_FUZZ_LOG, from which fuzz.py
  counts what the run created and checks who was let in where.
"""

import json
import os
import threading
import urllib.parse
import zlib

import schemathesis

SINK = os.environ["ONTIME_FUZZ_SINK"]
TOKEN_URL = os.environ.get("ONTIME_FUZZ_TOKEN_URL", SINK)
LOG = os.environ["ONTIME_FUZZ_LOG"]
NAMESPACE = os.environ.get("ONTIME_FUZZ_NAMESPACE")

TOKEN = "/v1/tokens/{id}"
SECRETS = "/v1/namespaces/{ns}/signing-secrets"
SECRET = SECRETS + "/{id}"
# What the run made: token ids, and (namespace, id) of signing secrets.
made = {TOKEN: [], SECRET: []}
lock = threading.Lock()


def _pick(value, choices):
    """One of `choices` for half the generated values (chosen from the value, so a seed
    replays the same), else None."""
    digest = zlib.crc32(value.encode())
    with lock:
        if not choices or digest % 2:
            return None
        return choices[digest // 2 % len(choices)]


def _local(value):
    """The same document with every `target.http.url` and every `token_url` (at any depth)
    pointed at the sink."""
    if isinstance(value, dict):
        out = {k: _local(v) for k, v in value.items()}
        http = out.get("http")
        if isinstance(http, dict) and isinstance(http.get("url"), str):
            http["url"] = SINK
        if isinstance(out.get("token_url"), str):
            out["token_url"] = TOKEN_URL
        return out
    if isinstance(value, list):
        return [_local(v) for v in value]
    return value


@schemathesis.hook
def before_call(context, case, kwargs):
    if isinstance(case.body, (dict, list)):
        case.body = _local(case.body)
    params = case.path_parameters
    if params and isinstance(params.get("id"), str) and case.path in made:
        known = _pick(params["id"], made[case.path])
        if case.path == TOKEN and known:
            case.path_parameters = {**params, "id": known}
        elif case.path == SECRET and known:
            case.path_parameters = {**params, "ns": known[0], "id": known[1]}
    params = case.path_parameters
    if NAMESPACE and params and isinstance(params.get("ns"), str):
        # Three requests in four, chosen from the generated value so a seed replays the same.
        if zlib.crc32(params["ns"].encode()) % 4:
            case.path_parameters = {**params, "ns": NAMESPACE}


@schemathesis.hook
def after_call(context, case, response):
    params = case.path_parameters or {}
    record = {
        "method": case.method.upper(),
        "path": case.path,
        "sent": urllib.parse.urlsplit(response.request.url).path,
        "ns": params.get("ns"),
        "status": response.status_code,
        "auth": "authorization" in {name.lower() for name in response.request.headers},
    }
    if response.status_code == 201 and case.method.upper() == "POST":
        _remember(case, params, response)
    if response.status_code >= 400:
        try:
            error = response.json()
            record["error"] = error.get("error")
            record["field"] = error.get("field")
            record["message"] = error.get("message")
        except (ValueError, AttributeError):
            record["error"] = "(not a JSON object)"
    with open(LOG, "a", encoding="utf-8") as log:
        log.write(json.dumps(record) + "\n")


def _remember(case, params, response):
    """Keeps the id of a token or signing secret the run just made."""
    try:
        made_id = response.json().get("id")
    except (ValueError, AttributeError):
        return
    if not isinstance(made_id, str):
        return
    with lock:
        if case.path == "/v1/tokens":
            made[TOKEN].append(made_id)
        elif case.path == SECRETS and isinstance(params.get("ns"), str):
            made[SECRET].append((params["ns"], made_id))
