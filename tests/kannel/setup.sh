#!/usr/bin/env bash
# The Kannel test's set-up (ctest's kannel_setup fixture): Debian's kannel (bearerbox, smsbox)
# and kannel-extras (fakesmsc). `make deps` installs them; this covers a bare `ctest` run. As root,
# missing packages are installed with apt-get; otherwise the apt-get line to run is printed, and
# kannel_end_to_end then skips with the same advice.
set -euo pipefail

missing=""
[ -x /usr/sbin/bearerbox ] && [ -x /usr/sbin/smsbox ] || missing="$missing kannel"
[ -x /usr/lib/kannel/test/fakesmsc ] || missing="$missing kannel-extras"
if [ -z "$missing" ]; then
    echo "kannel: $(/usr/sbin/bearerbox --version 2>&1 | head -n 1)"
    exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing:$missing"
    export DEBIAN_FRONTEND=noninteractive
    # Another set-up (the browser tests') may hold dpkg's lock: wait for it rather than fail.
    apt-get -o DPkg::Lock::Timeout=600 update -qq
    # shellcheck disable=SC2086
    apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends $missing
else
    echo "the Kannel test needs these packages; run:"
    echo "  sudo apt-get install -y$missing"
fi
