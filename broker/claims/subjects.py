"""The `sub` each portal sees (OpenID Connect Core §8): pairwise by default, so that two portals
cannot join what they know of a person by their subject; public only for a client configured
for it.

    local subject   the broker's own stable name for the person: their professional account's
                    id (random, 160 bits)
    pairwise        HMAC-SHA256 with the subject key over the portal's sector identifier and the
                    local subject: the same for every portal of one sector (its configured
                    `sector_identifier`, else the host of its redirect URIs), different across
                    sectors, and never reversible to the local subject
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Final
from urllib.parse import urlsplit

from broker.store.records import ClientRecord

__all__ = ["SUBJECT_TYPES", "ClientSubjects", "sector_of"]

SUBJECT_TYPES: Final = ("pairwise", "public")


def sector_of(client: ClientRecord) -> str:
    """The configured sector identifier, else the (one) host of the redirect URIs; the client
    check refuses pairwise clients whose redirect URIs span hosts without one."""
    if client.sector_identifier:
        return client.sector_identifier
    return urlsplit(client.redirect_uris[0]).hostname or ""


def keyed_subject(key: bytes, *parts: str) -> str:
    """32 lower-case base32 characters (160 bits) of HMAC-SHA256 over the parts."""
    digest = hmac.new(key, "\x00".join(parts).encode(), hashlib.sha256).digest()
    return base64.b32encode(digest[:20]).decode("ascii").lower()


class ClientSubjects:
    def __init__(self, key: bytes) -> None:
        self._key = key

    def for_client(self, local_subject: str, client: ClientRecord) -> str:
        if client.subject_type == "public":
            return local_subject
        return keyed_subject(self._key, "pairwise", sector_of(client), local_subject)
