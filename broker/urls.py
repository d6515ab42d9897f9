"""The one test of "a URL the broker may trust a server-to-server answer from" in production."""

from __future__ import annotations

from urllib.parse import urlsplit


def is_https(url: str) -> bool:
    """An absolute https URL with a host: anyone on the path of plain http (or a `file:` or
    other scheme's reader) could otherwise choose the keys or answers the broker trusts."""
    try:
        parts = urlsplit(url)
        return parts.scheme == "https" and bool(parts.hostname)
    except ValueError:  # e.g. an invalid IPv6 literal
        return False
