#!/usr/bin/env bash
# Install the named Debian packages that are not installed yet: `scripts/apt-install.sh PKG...`.
# Runs `apt-get update` once, and only when something is missing. Skips (with a note) when not
# root or not on a Debian-like system, so that a developer's own machine is never touched.
set -euo pipefail

missing=()
for pkg in "$@"; do
    status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
    if [[ $status != "install ok installed" ]]; then
        missing+=("$pkg")
    fi
done
if (( ${#missing[@]} == 0 )); then
    exit 0
fi
if [[ $(id -u) -ne 0 ]]; then
    echo "apt-install: not root, skipping; please install: ${missing[*]}" >&2
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "apt-install: no apt-get here, skipping; please install: ${missing[*]}" >&2
    exit 0
fi

echo "apt-install: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
