#!/usr/bin/env bash
# ctest deploy_config_check and deploy_compose_config_check: `flowgate check` passes on a shipped
# example config with its installed paths moved into a temporary directory: /etc/flowgate/flows/ →
# the repository's config/flows/; the secrets systemd or compose hand over
# (/run/credentials/flowgate.service/NAME, /run/secrets/NAME) → made-up ones; /var/lib/flowgate/ →
# the directory. A config key renamed in the code then fails here, not on an operator's server.
# With a unit file, every credential the config reads must be one the unit loads.
# usage: config_check.sh CONFIG BUILT_BINARY SOURCE_DIR [UNIT_FILE]
set -euo pipefail

config="${1:?usage: config_check.sh CONFIG BUILT_BINARY SOURCE_DIR [UNIT_FILE]}"
bin="${2:?}"
src="${3:?}"
unit="${4:-}"

secrets="$(grep -o '"file:/run/\(credentials/flowgate\.service\|secrets\)/[A-Za-z0-9._-]*' "$config" |
    sed 's#.*/##' | sort -u)"
if [ -n "$unit" ]; then
    for name in $secrets; do
        if ! grep -q "^LoadCredential=$name:" "$unit"; then
            echo "FAIL: $config reads the credential $name, which $unit does not load"
            exit 1
        fi
    done
fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/secrets"
(
    umask 077
    for name in $secrets; do
        head -c 32 /dev/urandom | od -An -v -tx1 | tr -d ' \n' >"$tmp/secrets/$name"
    done
)

sed -e "s#/etc/flowgate/flows/#$src/config/flows/#g" \
    -e "s#/run/credentials/flowgate.service/#$tmp/secrets/#g" \
    -e "s#/run/secrets/#$tmp/secrets/#g" \
    -e "s#/var/lib/flowgate/#$tmp/#g" "$config" >"$tmp/flowgate.json"

check() {
    status=0
    out="$("$bin" check --config "$tmp/flowgate.json" 2>&1)" || status=$?
    printf '%s\n' "$out"
}
check
if [ "$status" -ne 0 ] || grep -q 'warning' <<<"$out"; then
    echo "FAIL: flowgate check found problems in $config"
    exit 1
fi
echo "flowgate check: $config is valid"
