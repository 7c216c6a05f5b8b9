# shellcheck shell=bash
# Source this file (`source .ci/chromium.sh`) to get a headless Chromium for the browser tests:
# installs Debian's chromium package when /usr/bin/chromium is missing, then exports GRANTS_CHROMIUM
# with its path. Tests that need a browser skip, saying why, when the variable is empty and no
# chromium is on the PATH.
if [ ! -x /usr/bin/chromium ]; then
    echo "== installing chromium (Debian package)"
    SUDO=""
    if [ "$(id -u)" != "0" ] && command -v sudo >/dev/null 2>&1; then SUDO="sudo"; fi
    $SUDO apt-get update -qq || true
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends chromium >/dev/null || \
        echo "chromium could not be installed; the browser tests will skip"
fi
if [ -x /usr/bin/chromium ]; then
    export GRANTS_CHROMIUM=/usr/bin/chromium
    echo "== chromium: $("$GRANTS_CHROMIUM" --version 2>/dev/null || echo "$GRANTS_CHROMIUM")"
fi
