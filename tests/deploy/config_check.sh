#!/usr/bin/env bash
# ctest deploy_config_check: `flowgate check` passes on a shipped example config (deploy/flowgate.json)
# with its installed paths moved into a temporary directory: /etc/flowgate/flows/ → the repository's
# config/flows/, the systemd credentials → made-up secrets, /var/lib/flowgate/ → the directory. A
# config key renamed in the code then fails here instead of on an operator's server. With a unit
# file, every credential the config reads must be one the unit loads (LoadCredential=NAME:...).
# usage: config_check.sh CONFIG BUILT_BINARY SOURCE_DIR [UNIT_FILE]
set -euo pipefail

config="${1:?usage: config_check.sh CONFIG BUILT_BINARY SOURCE_DIR [UNIT_FILE]}"
bin="${2:?}"
src="${3:?}"
unit="${4:-}"

if [ -n "$unit" ]; then
    for name in $(grep -o '/run/credentials/flowgate.service/[A-Za-z0-9._-]*' "$config" | sed 's#.*/##' | sort -u); do
        if ! grep -q "^LoadCredential=$name:" "$unit"; then
            echo "FAIL: $config reads the credential $name, which $unit does not load"
            exit 1
        fi
    done
fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/credentials"
(umask 077
 head -c 32 /dev/urandom | od -An -v -tx1 | tr -d ' \n' >"$tmp/credentials/data.key"
 for name in kannel-password kannel-url-secret; do
     head -c 24 /dev/urandom | od -An -v -tx1 | tr -d ' \n' >"$tmp/credentials/$name"
 done)

sed -e "s#/etc/flowgate/flows/#$src/config/flows/#g" \
    -e "s#/run/credentials/flowgate.service/#$tmp/credentials/#g" \
    -e "s#/var/lib/flowgate/#$tmp/#g" "$config" >"$tmp/flowgate.json"

status=0
out="$("$bin" check --config "$tmp/flowgate.json" 2>&1)" || status=$?
printf '%s\n' "$out"
if [ "$status" -ne 0 ] || printf '%s\n' "$out" | grep -q 'warning'; then
    echo "FAIL: flowgate check found problems in $config"
    exit 1
fi
echo "flowgate check: $config is valid"
