#!/usr/bin/env bash
# ctest deploy_systemd_verify: `systemd-analyze verify` on deploy/systemd/flowgate.service, and its
# exposure score from `systemd-analyze security` kept at 2.0 or below (of 10; "OK").
# verify insists that ExecStart's program exists, so it checks a copy whose /usr/local/bin/flowgate
# is the binary just built; every other line is the shipped one.
# usage: systemd_verify.sh UNIT_FILE BUILT_BINARY
set -euo pipefail

unit="${1:?usage: systemd_verify.sh UNIT_FILE BUILT_BINARY}"
bin="${2:?usage: systemd_verify.sh UNIT_FILE BUILT_BINARY}"

if ! command -v systemd-analyze >/dev/null 2>&1; then
    echo "SKIPPED: systemd-analyze is missing (Debian's systemd package; \`make deps\` as root installs it)"
    exit 77
fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
copy="$tmp/flowgate.service"
sed "s#/usr/local/bin/flowgate#$bin#g" "$unit" >"$copy"
if ! grep -q "^ExecStart=$bin serve " "$copy"; then
    echo "FAIL: $unit has no ExecStart=/usr/local/bin/flowgate serve ..."
    exit 1
fi

# verify exits 0 on an unknown or misspelt key and only says so: any line about the unit fails too.
status=0
out="$(systemd-analyze verify "$copy" 2>&1)" || status=$?
printf '%s\n' "$out"
if [ "$status" -ne 0 ] || grep -q 'flowgate\.service' <<<"$out"; then
    echo "FAIL: systemd-analyze verify found problems in $unit"
    exit 1
fi
echo "systemd-analyze verify: no problems"

score="$(systemd-analyze security --offline=yes --threshold=20 "$copy" 2>&1)" || {
    printf '%s\n' "$score"
    echo "FAIL: the unit's exposure is above 2.0"
    exit 1
}
printf '%s\n' "$score" | tail -n 1
