"""Client authentication at the token endpoint: client_secret_basic and client_secret_post.

RFC 6749 §2.3.1: a client uses one method per request; with HTTP Basic, client_id and secret are
form-urlencoded before base64, which clients get wrong often enough that the mock decodes it
exactly as the RFC says (a secret with ':' or '%' in it then works, or fails, the way it would
at a strict IdP).
"""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Mapping
from urllib.parse import unquote_plus

from mock_idps.oidc_idp.config import Client
from mock_idps.oidc_idp.errors import InvalidClientError, InvalidRequestError


def authenticate_client(
    authorization: str | None, params: Mapping[str, str | None], clients: Mapping[str, Client]
) -> Client:
    client_id, secret = _credentials(authorization, params)
    client = clients.get(client_id)
    if client is None or not hmac.compare_digest(
        secret.encode("utf-8"), client.client_secret.encode("utf-8")
    ):
        raise InvalidClientError("client authentication failed")
    return client


def _credentials(authorization: str | None, params: Mapping[str, str | None]) -> tuple[str, str]:
    """(client_id, secret) from exactly one of the two methods."""
    basic = _basic_credentials(authorization)
    posted_id, posted_secret = params.get("client_id"), params.get("client_secret")
    if basic is not None and posted_secret is not None:
        raise InvalidRequestError("more than one client authentication method")
    if basic is not None:
        if posted_id not in (None, basic[0]):
            raise InvalidRequestError("client_id differs from the authenticated client")
        return basic
    if posted_secret is None:
        raise InvalidClientError("client authentication is required")
    return posted_id or "", posted_secret


def _basic_credentials(authorization: str | None) -> tuple[str, str] | None:
    if not authorization:
        return None
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise InvalidClientError("malformed Basic credentials") from exc
    client_id, colon, secret = decoded.partition(":")
    if not colon:
        raise InvalidClientError("malformed Basic credentials")
    return unquote_plus(client_id), unquote_plus(secret)
