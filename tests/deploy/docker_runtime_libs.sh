#!/usr/bin/env bash
# ctest deploy_docker_runtime_libs: the runtime stage of deploy/Dockerfile installs only
# RUNTIME_PACKAGES onto debian:bookworm-slim; every shared library the built binary links must
# come from one of them, from what they depend on, or from the slim image itself. The image
# cannot be built here (no registry to pull the base from), so this checks its one list that
# drifts: a new library in CMakeLists.txt without its package in the Dockerfile fails here.
# usage: docker_runtime_libs.sh DOCKERFILE BUILT_BINARY
set -euo pipefail

dockerfile="${1:?usage: docker_runtime_libs.sh DOCKERFILE BUILT_BINARY}"
bin="${2:?}"

if ! command -v dpkg-query >/dev/null 2>&1 || ! apt-cache show libc6 >/dev/null 2>&1; then
    echo "SKIPPED: needs dpkg and apt's package lists (apt-get update)"
    exit 77
fi

packages="$(sed -n 's/^ARG RUNTIME_PACKAGES="\(.*\)"$/\1/p' "$dockerfile")"
if [ -z "$packages" ]; then
    echo "FAIL: no ARG RUNTIME_PACKAGES=\"...\" line in $dockerfile"
    exit 1
fi
# What debian:bookworm-slim already has that a C++ program links: the C and C++ runtimes.
base="libc6 libgcc-s1 libstdc++6"
# shellcheck disable=SC2086
provided="$(apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks \
    --no-replaces --no-enhances $packages $base | grep -v '^ ' | grep -v '^<' | sed 's/:.*//' | sort -u)"

missing=0
while read -r lib path; do
    [ -n "$path" ] || continue
    # dpkg may know the file by its merged-/usr path or by the /lib one.
    real="$(readlink -f "$path")"
    owner=""
    for candidate in "$real" "${real#/usr}" "$path"; do
        owner="$(dpkg-query -S "$candidate" 2>/dev/null | head -n 1 | sed 's/:.*//')" || true
        [ -z "$owner" ] || break
    done
    if [ -z "$owner" ]; then
        echo "FAIL: $lib ($path) belongs to no Debian package"
        missing=1
    elif ! grep -qx "$owner" <<<"$provided"; then
        echo "FAIL: $lib comes from $owner, which RUNTIME_PACKAGES ($packages) does not bring"
        missing=1
    else
        echo "ok: $lib ← $owner"
    fi
done < <(ldd "$bin" | awk '$2 == "=>" && $3 ~ /^\// {print $1, $3} $1 ~ /^\// {print $1, $1}')
exit "$missing"
