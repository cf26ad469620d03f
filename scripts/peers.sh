#!/usr/bin/env bash
# Benchmark peers that are not npm packages, built into a cache the suite looks in (issue 18).
#
#   scripts/peers.sh fetch    build what is missing (npm run peers:fetch)
#   scripts/peers.sh status   print what is there; exit 1 if something is missing
#
# Peers:
#   centrifugo  github.com/centrifugal/centrifugo/v6, pinned below, built with the machine's Go
#               (`go install`, through the Go module proxy) into .cache/peers/bin/centrifugo.
#               The build takes several minutes on 2 cores; later fetches find it and do nothing.
#
# Environment:
#   CENTRIFUGO_VERSION   module version, default v6.9.1
#
# Without Go, the suite runs without Centrifugo (its P4 row says "not measured"). To measure it
# anyway: install Go (https://go.dev/dl/) and rerun this, or put a centrifugo v6 binary at
# .cache/peers/bin/centrifugo, on the PATH, or name it with TICKWIRE_BENCH_CENTRIFUGO.
set -euo pipefail

CENTRIFUGO_VERSION="${CENTRIFUGO_VERSION:-v6.9.1}"
SCRIPT_DIR="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)"
REPO_ROOT="$(cd -- "$SCRIPT_DIR/.." && pwd -P)"
BIN_DIR="$REPO_ROOT/.cache/peers/bin"
CENTRIFUGO="$BIN_DIR/centrifugo"
# `go install` builds without the release's version stamp (the binary says v0.0.0): the version
# built is recorded beside it.
CENTRIFUGO_STAMP="$BIN_DIR/centrifugo.version"

log() { printf 'peers.sh: %s\n' "$*" >&2; }

# The version built here, e.g. "v6.9.1"; empty when there is none.
centrifugo_version() {
  [[ -x "$CENTRIFUGO" && -f "$CENTRIFUGO_STAMP" ]] || return 0
  cat "$CENTRIFUGO_STAMP"
}

fetch_centrifugo() {
  local have
  have="$(centrifugo_version)"
  if [[ "$have" == "$CENTRIFUGO_VERSION" ]]; then
    log "centrifugo $have already built: $CENTRIFUGO"
    return 0
  fi
  if ! command -v go >/dev/null 2>&1; then
    log "no 'go' on the PATH: centrifugo is not built, and the benchmark suite runs without it (P4 not measured)."
    log "To measure it: install Go (https://go.dev/dl/) and run 'npm run peers:fetch' again, or put a"
    log "centrifugo v6 binary at $CENTRIFUGO (or on the PATH, or named by TICKWIRE_BENCH_CENTRIFUGO)."
    return 0
  fi
  mkdir -p "$BIN_DIR"
  log "building centrifugo $CENTRIFUGO_VERSION with $(go version) (several minutes on 2 cores) ..."
  rm -f "$CENTRIFUGO_STAMP"
  GOBIN="$BIN_DIR" go install "github.com/centrifugal/centrifugo/v6@$CENTRIFUGO_VERSION"
  echo "$CENTRIFUGO_VERSION" >"$CENTRIFUGO_STAMP"
  log "built: $CENTRIFUGO ($CENTRIFUGO_VERSION)"
}

case "${1:-fetch}" in
  fetch) fetch_centrifugo ;;
  status)
    have="$(centrifugo_version)"
    if [[ -n "$have" ]]; then
      echo "centrifugo $have $CENTRIFUGO"
    else
      echo "centrifugo missing (npm run peers:fetch)"
      exit 1
    fi
    ;;
  *)
    log "usage: scripts/peers.sh fetch|status"
    exit 2
    ;;
esac
