"""What one portal receives of a person: the claims of the scopes it was granted (OIDC Core
§5.4), as far as its registration allows them now.

The one release function serves both places that hold claims for a portal: the grant made at the
authorization response keeps only what its scopes release (so a code or token never carries more
than its portal may see), and userinfo releases from the grant again under the client's current
registration (so withdrawing a permission takes effect on tokens already issued). The ID token
carries no scope claims: every response type here issues an access token, and §5.4 then returns
scope claims from userinfo.

The national identity code (`hetu`) is a scope of its own, `national_identity_code`, open only to
a client registered with `release_national_identity_code`; it is never part of `profile`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from broker.claims.scopes import NATIONAL_IDENTITY_CODE_SCOPE, SCOPE_CLAIMS
from broker.store.records import ClientRecord


def permitted_scopes(client: ClientRecord) -> frozenset[str]:
    """The scopes the client may ask for: its `allowed_scopes`, and the identity code's scope
    when its registration allows that."""
    extra = {NATIONAL_IDENTITY_CODE_SCOPE} if client.release_national_identity_code else set()
    return frozenset(client.allowed_scopes) | extra


def release(
    claims: Mapping[str, Any], scopes: Iterable[str], client: ClientRecord | None
) -> dict[str, Any]:
    """The claims that `scopes` release to `client`: only scopes the client is still permitted,
    only claims that have a value. No client (it was removed): nothing."""
    if client is None:
        return {}
    permitted = permitted_scopes(client)
    released: dict[str, Any] = {}
    for scope in scopes:
        if scope not in permitted:
            continue
        for name in SCOPE_CLAIMS.get(scope, ()):
            if claims.get(name) is not None:
                released[name] = claims[name]
    return released
