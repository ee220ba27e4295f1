"""Checks docker-compose.yml: valid against the Compose specification (the schema vendored by
check-jsonschema), and the topology ontime needs: a 3-node NATS cluster whose nodes route to
each other, and at least 2 gateways, 2 schedulers and 3 workers on all three nodes with R3."""

import pathlib
import subprocess
import sys

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
results = []


def check(name, ok, detail=""):
    results.append((name, ok, detail))


schema = subprocess.run(
    [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.compose-spec", str(COMPOSE)],
    capture_output=True,
    text=True,
)
check("schema: Compose specification", schema.returncode == 0, schema.stdout + schema.stderr)

doc = yaml.safe_load(COMPOSE.read_text())
services = doc.get("services", {})
nats = {n: s for n, s in services.items() if str(s.get("image", "")).startswith("nats:")}
check("three nats nodes", len(nats) == 3, sorted(nats))
for name, svc in nats.items():
    conf_mounts = [v.split(":")[0] for v in svc.get("volumes", []) if v.endswith(".conf:ro")]
    conf = (ROOT / conf_mounts[0]).read_text() if conf_mounts else ""
    routes_ok = all(f"nats-route://{other}:6222" in conf for other in nats)
    check(f"{name}: routes to every node, sync_interval always", routes_ok and "sync_interval: always" in conf, conf_mounts)


def count(part):
    return sum(1 for s in services.values() if s.get("command", [None])[0] == part)


for part, minimum in [("gateway", 2), ("scheduler", 2), ("worker", 3)]:
    check(f"at least {minimum} {part}s", count(part) >= minimum, count(part))
for name, svc in services.items():
    if svc.get("command", [None])[0] in ("gateway", "scheduler", "worker"):
        env = svc.get("environment", {})
        urls = env.get("ONTIME_NATS_URL", "")
        check(f"{name}: all three nodes, replicas 3", all(f"nats://{n}:4222" in urls for n in nats) and str(env.get("ONTIME_REPLICAS")) == "3", urls)
        check(f"{name}: the shared secret key", "ONTIME_SECRET_KEY" in str(env.get("ONTIME_SECRET_KEY", "")), env.get("ONTIME_SECRET_KEY"))

failed = [r for r in results if not r[1]]
for name, ok, detail in failed:
    print(f"FAIL {name}: {detail}")
print(f"compose: {len(results) - len(failed)} passed, {len(failed)} failed")
sys.exit(1 if failed else 0)
