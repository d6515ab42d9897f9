"""Demo portal: a Mielenterveystalo-like OpenID Connect relying party for `make demo` and tests.

Run it with `python -m mock_idps.demo_portal --help`; build it in tests with `create_app(...)`.
It uses authlib's Starlette client and joserfc only, never `broker`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mock_idps.demo_portal.app import create_app

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    # Lazy, so that `python -m mock_idps.demo_portal` can set up logging and warnings before
    # authlib is imported.
    if name == "create_app":
        from mock_idps.demo_portal.app import create_app

        return create_app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
