#!/usr/bin/env bash
# Run uv wherever it was installed: on PATH, in the user's pip scripts directory (~/.local/bin is
# often not on PATH), or as `python3 -m uv`. Usage: scripts/uv.sh ARGS...  (the same as `uv ARGS...`)
# Install it first with scripts/install-uv.sh (`make install` does).
set -euo pipefail

PYTHON=${PYTHON:-python3}

# `uv --version` rather than `command -v uv`: a pyenv shim can exist without a uv behind it.
if uv --version >/dev/null 2>&1; then
    exec uv "$@"
fi
user_base=$("$PYTHON" -m site --user-base 2>/dev/null || true)
if [[ -n $user_base && -x $user_base/bin/uv ]]; then
    exec "$user_base/bin/uv" "$@"
fi
if "$PYTHON" -m uv --version >/dev/null 2>&1; then
    exec "$PYTHON" -m uv "$@"
fi
echo "scripts/uv.sh: uv not found; run scripts/install-uv.sh (or make install)" >&2
exit 127
