#!/usr/bin/env bash
# The system prerequisites of `npm test` (Debian/Ubuntu package names):
#
#   java >= 17           openjdk-17-jre-headless   Kafka broker of the real-broker tests
#   mvn                  maven                     fetches the Kafka jars once (scripts/kafka.sh fetch)
#   chromium             chromium                  browser tests (playwright-core drives the system's browser)
#   haproxy              haproxy                   load-balancer test
#   python3 venv+pip     python3-venv              Python client tests (scripts/py-test.sh)
#
#   bash scripts/prereqs.sh            install what is missing with apt-get when root, else say how and exit 1
#   bash scripts/prereqs.sh --check    only report; exit 1 when something is missing
#
# Run by `npm test` (the pretest script) and by .ci/run. Lookups honour the tests' own overrides:
# TICKWIRE_CHROMIUM (browser path) and TICKWIRE_HAPROXY (haproxy path).
set -euo pipefail

mode=install
case "${1:-}" in
  '') ;;
  --check) mode=check ;;
  *) echo "usage: $0 [--check]" >&2; exit 2 ;;
esac

# The tests also look in the sbin directories, which are not on a normal user's PATH.
find_haproxy() {
  if [ -n "${TICKWIRE_HAPROXY:-}" ]; then [ -x "$TICKWIRE_HAPROXY" ]; return; fi
  PATH="$PATH:/usr/sbin:/usr/local/sbin" command -v haproxy >/dev/null 2>&1
}

java_ok() {
  command -v java >/dev/null 2>&1 || return 1
  # `java -version` prints e.g. 'openjdk version "17.0.12"' or '"1.8.0_412"' (major 8) on stderr.
  local v major
  v="$(java -version 2>&1 | sed -n 's/.*version "\([^"]*\)".*/\1/p' | head -n 1)"
  major="${v%%.*}"
  [ "$major" = 1 ] && major="$(echo "$v" | cut -d. -f2)"
  [[ "$major" =~ ^[0-9]+$ ]] && [ "$major" -ge 17 ]
}

missing=()
why=()
scan() {
  missing=()
  why=()
  java_ok || { missing+=(openjdk-17-jre-headless); why+=("java 17+ (Kafka broker)"); }
  command -v mvn >/dev/null 2>&1 || { missing+=(maven); why+=("mvn (fetches the Kafka jars)"); }
  local browser="${TICKWIRE_CHROMIUM:-/usr/bin/chromium}"
  [ -x "$browser" ] || { missing+=(chromium); why+=("$browser (browser tests)"); }
  find_haproxy || { missing+=(haproxy); why+=("haproxy (load-balancer test)"); }
  command -v python3 >/dev/null 2>&1 && python3 -c 'import venv, ensurepip' >/dev/null 2>&1 ||
    { missing+=(python3-venv); why+=("python3 with venv and ensurepip (Python client tests)"); }
}

report() {
  echo "prereqs: missing: ${why[*]/%/;}" | sed 's/;$//' >&2
  echo "prereqs: packages: ${missing[*]}" >&2
}

scan
if [ ${#missing[@]} -eq 0 ]; then
  echo "prereqs: ok (java 17+, maven, chromium, haproxy, python3-venv)"
  exit 0
fi

cmd="apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y ${missing[*]}"
if [ "$mode" = check ]; then
  report
  echo "prereqs: install them with: sudo sh -c '$cmd'   (or run bash scripts/prereqs.sh as root)" >&2
  exit 1
fi
if [ "$(id -u)" != 0 ]; then
  report
  echo "prereqs: not root, so not installing; run: sudo sh -c '$cmd'   (or: sudo bash scripts/prereqs.sh)" >&2
  exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
  report
  echo "prereqs: apt-get not found: install the equivalents of these Debian packages with your package manager" >&2
  exit 1
fi

echo "prereqs: apt-get install ${missing[*]}" >&2
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
hash -r
scan
if [ ${#missing[@]} -gt 0 ]; then
  report
  echo "prereqs: still missing after apt-get install" >&2
  exit 1
fi
echo "prereqs: ok (installed what was missing)"
