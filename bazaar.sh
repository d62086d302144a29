#!/usr/bin/env bash
# The one entry script for bazaar-inventory, used by the README and CI.
#
#   ./bazaar.sh setup          chromium and fonts (apt), .venv from requirements/lock.txt, the batch core (cargo), web/ build, Kafka jars, kustomize (idempotent)
#   ./bazaar.sh demo|up|bench  setup, then that bazaar subcommand
#   ./bazaar.sh test [ARGS]    setup, ruff and mypy (BAZAAR_CHECKS=0 skips them), then pytest (default: -q -m 'not slow')
#   ./bazaar.sh lock [ARGS]    re-resolve requirements/*.txt from pyproject.toml (ARGS to uv, e.g. --upgrade)
#   ./bazaar.sh WORD [ARGS]    any other bazaar subcommand, e.g. ./bazaar.sh kafka
#   ./bazaar.sh WORD --help    that word's help at once, without setting up
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

# Every Python dependency comes from the lock at its locked version and hash (the same librdkafka
# in tests, benchmarks and the image). The lock is complete, so pip resolves nothing (--no-deps: its
# resolver, moving an installed package to another locked version, trips over a dependency's extras
# in hash-checking mode); pip check then confirms the whole is consistent.
ensure_python_packages() {
  local stamp=.venv/.bazaar-lock.sha256 want
  want=$(digest pyproject.toml requirements/lock.txt)
  [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && return
  say "installing Python packages into .venv (pip install --no-deps --require-hashes -r requirements/lock.txt)"
  .venv/bin/pip install -q --disable-pip-version-check --no-deps --require-hashes -r requirements/lock.txt
  .venv/bin/pip install -q --disable-pip-version-check --no-deps -e .
  .venv/bin/pip check -q --disable-pip-version-check >/dev/null || { .venv/bin/pip check; die "requirements/lock.txt is not complete: ./bazaar.sh lock"; }
  echo "$want" >"$stamp"
}

# The stock agent's compiled batch core (batchcore/, a PyO3 extension: streams/core.py), built from
# source with maturin and cargo and installed into .venv whenever its sources change. Without cargo
# (or when the build fails) setup goes on, saying so: the worker then runs the Python rules alone
# (BAZAAR_STREAM_CORE=auto, the default).
ensure_batchcore() {
  local stamp=.venv/.bazaar-batchcore.sha256 want out started
  want=$(digest batchcore/Cargo.toml batchcore/Cargo.lock batchcore/src/*.rs)
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && .venv/bin/python -c 'import bazaar_batchcore' 2>/dev/null; then return; fi
  command -v cargo >/dev/null || [ ! -x "$HOME/.cargo/bin/cargo" ] || PATH="$HOME/.cargo/bin:$PATH"
  if ! command -v cargo >/dev/null; then
    say "cargo not found: the compiled batch core is not built; the worker runs the Python rules alone (install Rust: https://rustup.rs)"
    drop_batchcore
    return 0
  fi
  say "building the compiled batch core (batchcore/) with maturin and cargo, release (a minute or two the first time)"
  out=$(mktemp -d)
  started=$SECONDS
  if .venv/bin/maturin build --quiet --release --locked -m batchcore/Cargo.toml -i .venv/bin/python -o "$out" &&
     .venv/bin/pip install -q --disable-pip-version-check --no-deps --force-reinstall "$out"/bazaar_batchcore-*.whl; then
    echo "$want" >"$stamp"
    say "batch core built and installed in $((SECONDS - started)) s"
  else
    say "the batch core did not build (above); the worker runs the Python rules alone until it does"
    drop_batchcore
  fi
  rm -rf "$out"
}

# A core built from other sources than these must not run: the Python rules are the specification
drop_batchcore() {
  rm -f .venv/.bazaar-batchcore.sha256
  if .venv/bin/pip show -q bazaar-batchcore >/dev/null 2>&1; then
    .venv/bin/pip uninstall -y -q bazaar-batchcore
    say "removed the batch core built from earlier sources"
  fi
}

UV_VERSION=0.13.8  # the resolver behind ./bazaar.sh lock, kept in its own venv out of .venv

# Resolve pyproject.toml into requirements/lock.txt (base + test + bench + build) and
# requirements/lock-runtime.txt (base alone, constrained to the same versions), hashes for every
# platform's files, universal markers. The current pins are uv's preferences, so a refresh moves only
# what pyproject no longer admits, or what ARGS ask for (--upgrade, --upgrade-package NAME).
lock() {
  local tools=${XDG_CACHE_HOME:-$HOME/.cache}/bazaar/uv-$UV_VERSION python header name
  python=$(pick_python)
  if [ ! -x "$tools/bin/uv" ]; then
    say "installing uv $UV_VERSION into $tools"
    "$python" -m venv "$tools"
    "$tools/bin/pip" install -q --disable-pip-version-check "uv==$UV_VERSION"
  fi
  header=$("$python" -m bazaar.lockfile header pyproject.toml)
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  mkdir -p requirements
  for name in lock lock-runtime; do
    if [ -f "requirements/$name.txt" ]; then cp "requirements/$name.txt" "$tmp/$name.txt"; fi
  done
  local compile=("$tools/bin/uv" pip compile pyproject.toml --universal --python-version 3.11 --generate-hashes
                 --custom-compile-command "./bazaar.sh lock" --quiet)
  "${compile[@]}" --extra test --extra bench --extra build -o "$tmp/lock.txt" "$@"
  "${compile[@]}" -c "$tmp/lock.txt" -o "$tmp/lock-runtime.txt"
  for name in lock lock-runtime; do
    {
      echo "# Locked Python dependencies of pyproject.toml ($([ $name = lock ] && echo "base + test + bench + build extras: setup, CI, benchmarks" || echo "base only, the versions of lock.txt: the Docker image"))."
      echo "# Refresh with ./bazaar.sh lock; tests/unit/test_lock.py fails when pyproject.toml has changed since."
      echo "$header"
      sed "s#$tmp/#requirements/#g" "$tmp/$name.txt"  # (the runtime lock's constraint, named where it is kept)
    } >"requirements/$name.txt"
  done
  say "requirements/lock.txt: $(grep -c '^[A-Za-z0-9].*==' requirements/lock.txt) packages, confluent-kafka $(sed -n 's/^confluent-kafka==\([^ ;]*\).*/\1/p' requirements/lock.txt | head -1)"
}

KUSTOMIZE_VERSION=v5.8.2  # renders deploy/k8s for tests/unit/test_deploy_k8s.py, which reads this line

# kustomize, built once from the Go module proxy with the machine's own Go (no toolchain download),
# kept out of the work tree like uv. Without Go, or when the build fails, setup goes on: only the
# manifest test needs it, and it fails saying so.
ensure_kustomize() {
  local bin=${XDG_CACHE_HOME:-$HOME/.cache}/bazaar/kustomize-$KUSTOMIZE_VERSION/kustomize go=go
  [ -x "$bin" ] && return
  command -v go >/dev/null || go=/usr/local/go/bin/go
  command -v "$go" >/dev/null || { say "go not found: kustomize not built (tests/unit/test_deploy_k8s.py needs it)"; return 0; }
  say "building kustomize $KUSTOMIZE_VERSION with go install (once)"
  GOBIN=$(dirname "$bin") GOTOOLCHAIN=local GOFLAGS=-buildvcs=false "$go" install "sigs.k8s.io/kustomize/kustomize/v5@$KUSTOMIZE_VERSION" ||
    say "kustomize $KUSTOMIZE_VERSION did not build (above); tests/unit/test_deploy_k8s.py will fail until it does"
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
  ensure_batchcore
  ensure_web
  ensure_kustomize
  .venv/bin/bazaar kafka --fetch-only
}

# Lint, format and types before the tests (a few seconds; the first failure stops the run). What
# they check and how strictly is in pyproject.toml ([tool.ruff], [tool.mypy]).
checks() {
  [ "${BAZAAR_CHECKS:-1}" = 0 ] && return
  say "checks: ruff check, ruff format --check, mypy"
  .venv/bin/ruff check --quiet . || die "ruff check failed (.venv/bin/ruff check --fix . fixes some)"
  .venv/bin/ruff format --check --quiet . || die "ruff format would change the files above: .venv/bin/ruff format ."
  .venv/bin/mypy || die "mypy failed"
}

usage() { sed -n '2,/^set -euo/{/^#/s/^# \{0,1\}//p}' "${BASH_SOURCE[0]}"; }

# What a word does, for `./bazaar.sh WORD --help` before setup has made the venv's own help available
word_usage() {
  case $1 in
    setup) printf '%s\n' "usage: ./bazaar.sh setup" \
      "  installs what is missing, idempotently: chromium and fonts (apt), .venv from requirements/lock.txt" \
      "  plus the project (pip install --no-deps -e .), the compiled batch core (batchcore/, maturin and cargo)," \
      "  the web/ build, Apache Kafka's jars (Maven)," \
      "  kustomize (go install, for the manifest test)" ;;
    lock) printf '%s\n' "usage: ./bazaar.sh lock [uv pip compile ARGS]" \
      "  re-resolves requirements/lock.txt (base + test + bench + build) and requirements/lock-runtime.txt (base, for" \
      "  the Docker image) from pyproject.toml, with hashes; pins pyproject still admits stay as they are." \
      "  --upgrade moves every package to its newest admitted version, --upgrade-package NAME[==V] one" ;;
    test) printf '%s\n' "usage: ./bazaar.sh test [PYTEST ARGS]   (default: -q -m 'not slow'; -m slow: the slow ones)" \
      "  sets up what is missing, runs ruff and mypy (BAZAAR_CHECKS=0 skips them), then pytest:" \
      "  -m unit for the fast tests alone, -m integration" ;;
    up) printf '%s\n' "usage: ./bazaar.sh up [--workers N]" \
      "  sets up what is missing, then runs the Kafka broker, the stream worker(s), the API, the notifier" \
      "  and the analytics process in the foreground; Ctrl-C stops them all" ;;
    demo) printf '%s\n' "usage: ./bazaar.sh demo [ARGS]" \
      "  sets up what is missing, then runs \`up\` plus a simulated day of POS traffic, checking every stock at the end" ;;
    *) printf '%s\n' "usage: ./bazaar.sh $1 [ARGS]" "  sets up what is missing, then runs: bazaar $1 ARGS" ;;
  esac
  case $1 in
    setup | lock) ;;
    *) echo "(the full list of options: the same command once ./bazaar.sh setup has made .venv)" ;;
  esac
}

wants_help() {
  local arg
  for arg in "$@"; do
    case $arg in
      --) return 1 ;;
      -h | --help) return 0 ;;
    esac
  done
  return 1
}

# --help answers at once: from the venv when there is one (even a stale one), else from this script
help_for() {
  local command=$1
  shift
  case $command in
    setup | lock) word_usage "$command" ;;
    test) if [ -x .venv/bin/pytest ]; then exec .venv/bin/python -m pytest "$@"; else word_usage test; fi ;;
    *) if [ -x .venv/bin/bazaar ]; then exec .venv/bin/bazaar "$command" "$@"; else word_usage "$command"; fi ;;
  esac
}

main() {
  [ $# -gt 0 ] || { usage >&2; exit 2; }
  local command=$1
  shift
  case $command in
    -h | --help) usage; exit ;;
    help) if [ $# -gt 0 ]; then help_for "$1" --help; else usage; fi; exit ;;
  esac
  if wants_help "$@"; then help_for "$command" "$@"; exit; fi
  case $command in
    setup) setup ;;
    lock) lock "$@" ;;
    demo | up | bench) setup; exec .venv/bin/bazaar "$command" "$@" ;;
    test)
      setup
      checks
      # CI's bounded set: the slow tests (a cluster or a broker of their own, fault runs) on demand
      [ $# -gt 0 ] || set -- -q -m "not slow" --durations=25
      exec .venv/bin/python -m pytest "$@"
      ;;
    *)
      [ -x .venv/bin/bazaar ] || setup
      exec .venv/bin/bazaar "$command" "$@"
      ;;
  esac
}

main "$@"
