# shellcheck shell=bash
# Source this file (`source .ci/node.sh`) to get Node.js and npm for the DPoP interop tests, which run
# unmodified JavaScript OAuth clients (openid-client, oauth4webapi; integration/testdata/dpop-js)
# against the example server: installs Debian's nodejs and npm packages when node or npm is missing.
# The tests install their npm packages themselves (npm ci, pinned by package-lock.json) and skip,
# saying why, when node or npm is still missing.
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    echo "== installing nodejs and npm (Debian packages)"
    SUDO=""
    if [ "$(id -u)" != "0" ] && command -v sudo >/dev/null 2>&1; then SUDO="sudo"; fi
    $SUDO apt-get update -qq || true
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null || \
        echo "nodejs could not be installed; the JavaScript DPoP interop tests will skip"
fi
if command -v node >/dev/null 2>&1; then
    echo "== node: $(node --version), npm: $(npm --version 2>/dev/null || echo missing)"
fi
