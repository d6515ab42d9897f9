#!/usr/bin/env bash
# Make sure uv is available (scripts/uv.sh says where it is looked for); if it is not, install it
# from PyPI with pip into the user's site. Idempotent, and silent when uv is already there.
set -euo pipefail

cd "$(dirname "$0")/.."
export PYTHON=${PYTHON:-python3}
export PIP_DISABLE_PIP_VERSION_CHECK=1

if scripts/uv.sh --version >/dev/null 2>&1; then
    exit 0
fi

if ! "$PYTHON" -m pip --version >/dev/null 2>&1; then
    # Debian packages pip separately; apt-install.sh installs it when run as root.
    scripts/apt-install.sh python3-pip
fi

install=("$PYTHON" -m pip install --quiet)
if "$PYTHON" -c 'import sys; sys.exit(sys.prefix == sys.base_prefix)'; then
    : # inside a virtualenv: --user is refused there, install into the environment itself
else
    install+=(--user)
    # Debian's python3 is "externally managed" (PEP 668) and refuses even --user installs unless
    # told otherwise; a --user install leaves the system's own packages alone.
    if "$PYTHON" -c 'import os, sys, sysconfig
sys.exit(not os.path.exists(os.path.join(sysconfig.get_path("stdlib"), "EXTERNALLY-MANAGED")))'
    then
        install+=(--break-system-packages)
    fi
fi

echo "install-uv: uv not found; running ${install[*]} uv" >&2
"${install[@]}" uv

if ! scripts/uv.sh --version >&2; then
    echo "install-uv: uv was installed but cannot be run; is $PYTHON the Python you meant?" >&2
    exit 1
fi
