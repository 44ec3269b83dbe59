#!/usr/bin/env bash
# The browser tests' set-up (ctest's browser_setup fixture): Debian's chromium, Node.js 18 or
# later with npm, and playwright-core installed from tests/browser/package-lock.json into the
# build directory given as $1 (never into the source tree). As root, a missing Debian package is
# installed with apt-get; otherwise the one apt-get line to run is printed and the set-up fails.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
mkdir -p "${1:?usage: setup.sh BUILD_DIR/browser}"
target="$(cd "$1" && pwd)"

missing=""
[ -x /usr/bin/chromium ] || missing="$missing chromium"
# Arabic glyphs for the screenshots (usually already there).
[ "$(dpkg-query -W -f='${Status}' fonts-dejavu-core 2>/dev/null)" = 'install ok installed' ] ||
    missing="$missing fonts-dejavu-core"
# Node.js may come from elsewhere than Debian (NodeSource bundles npm): only ask for Debian's when
# there is no npm at all, since its npm package conflicts with such a nodejs.
command -v npm >/dev/null 2>&1 || missing="$missing nodejs npm"
if [ -n "$missing" ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "installing:$missing"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        # shellcheck disable=SC2086
        apt-get install -y -qq --no-install-recommends $missing
    else
        echo "the browser tests need these packages; run:"
        echo "  sudo apt-get install -y$missing"
        exit 1
    fi
fi

major="$(node -p 'process.versions.node.split(".")[0]')"
if [ "$major" -lt 18 ]; then
    echo "the browser tests need Node.js 18 or later (playwright-core); this is $(node --version)"
    exit 1
fi

# npm ci again only when the lock file changed (or nothing is installed yet).
if [ ! -d "$target/node_modules/playwright-core" ] || ! cmp -s "$here/package-lock.json" "$target/package-lock.json"; then
    cp "$here/package.json" "$here/package-lock.json" "$here/.npmrc" "$target/"
    (cd "$target" && npm ci --no-audit --no-fund --loglevel=error)
fi
echo "chromium: $(/usr/bin/chromium --version 2>/dev/null || echo '?')"
echo "playwright-core: $(node -p "require('$target/node_modules/playwright-core/package.json').version")"
