#!/usr/bin/env bash
# The one entry script for bazaar-inventory, used by the README and CI.
#
#   ./bazaar.sh setup          chromium and fonts (apt), .venv, Python packages, web/ build, Kafka jars (idempotent)
#   ./bazaar.sh demo|up|bench  setup, then that bazaar subcommand
#   ./bazaar.sh test [ARGS]    setup, then pytest (default: -q)
#   ./bazaar.sh WORD [ARGS]    any other bazaar subcommand, e.g. ./bazaar.sh kafka
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

say() { printf 'bazaar setup: %s\n' "$*"; }
die() { printf 'bazaar setup: %s\n' "$*" >&2; exit 1; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# sha256 of the given files, to know when an install step must run again
digest() { cat "$@" | sha256sum | cut -c1-64; }

ensure_chromium() {
  [ -x /usr/bin/chromium ] && return
  command -v apt-get >/dev/null || die "chromium is missing and apt-get is not available; install chromium at /usr/bin/chromium"
  say "installing chromium with apt-get"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
}

# Urdu glyphs for the browser tests' screenshots (Noto Naskh / Nastaliq); optional, never fatal
ensure_fonts() {
  command -v fc-list >/dev/null || return 0
  [[ $(fc-list : family 2>/dev/null) == *"Noto Naskh Arabic"* ]] && return 0
  command -v apt-get >/dev/null || return 0
  say "installing fonts-noto-core (Urdu script in screenshots)"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-noto-core >/dev/null 2>&1 ||
    say "fonts-noto-core not installed; Urdu text in screenshots may show boxes"
}

pick_python() {
  local candidate
  for candidate in python3.11 python3; do
    if command -v "$candidate" >/dev/null &&
       "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
      echo "$candidate"
      return
    fi
  done
  die "Python 3.11+ is required (python3.11 not found on PATH); install python3.11 and python3.11-venv"
}

ensure_venv() {
  [ -x .venv/bin/python ] && return
  local python
  python=$(pick_python)
  say "creating .venv with $python"
  "$python" -m venv .venv
}

ensure_python_packages() {
  local stamp=.venv/.bazaar-pyproject.sha256 want
  want=$(digest pyproject.toml)
  [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && return
  say "installing Python packages into .venv (pip install -e '.[test,bench]')"
  .venv/bin/pip install -q --disable-pip-version-check -e '.[test,bench]'
  echo "$want" >"$stamp"
}

ensure_web() {
  [ -f web/package.json ] || return 0
  local stamp=web/node_modules/.bazaar-package.sha256 want manifests=(web/package.json)
  if [ -f web/package-lock.json ]; then manifests+=(web/package-lock.json); fi
  want=$(digest "${manifests[@]}")
  if ! { [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; }; then
    say "installing web/ packages with npm"
    (cd web && { npm ci --no-audit --no-fund --loglevel=error || npm install --no-audit --no-fund --loglevel=error; })
    echo "$want" >"$stamp"
  fi
  say "building web/"
  (cd web && npm run build --silent)
}

setup() {
  ensure_chromium
  ensure_fonts
  ensure_venv
  ensure_python_packages
  ensure_web
  .venv/bin/bazaar kafka --fetch-only
}

usage() { sed -n '2,8s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; }

main() {
  [ $# -gt 0 ] || { usage >&2; exit 2; }
  local command=$1
  shift
  case $command in
    -h | --help | help) usage ;;
    setup) setup ;;
    demo | up | bench) setup; exec .venv/bin/bazaar "$command" "$@" ;;
    test)
      setup
      [ $# -gt 0 ] || set -- -q
      exec .venv/bin/python -m pytest "$@"
      ;;
    *)
      [ -x .venv/bin/bazaar ] || setup
      exec .venv/bin/bazaar "$command" "$@"
      ;;
  esac
}

main "$@"
