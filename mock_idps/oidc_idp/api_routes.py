"""What a relying party calls directly: discovery, JWKS, token, userinfo, and the test faults.

The token endpoint first validates the request completely (client, code, redirect_uri, PKCE) and
only then lets an armed fault change the answer, so a fault always means "a good request got a bad
response" and a test's own mistakes do not use it up.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from mock_idps.oidc_idp.authorize import single_values
from mock_idps.oidc_idp.claims import SCOPES_SUPPORTED, STANDARD_CLAIMS, released_claims
from mock_idps.oidc_idp.client_auth import authenticate_client
from mock_idps.oidc_idp.config import LOCALES, Client, Organisation
from mock_idps.oidc_idp.errors import (
    InvalidGrantError,
    InvalidRequestError,
    InvalidTokenError,
    OAuthError,
    UnsupportedGrantTypeError,
)
from mock_idps.oidc_idp.faults import ArmedFault, Fault, FaultRequestError, parse_fault_request
from mock_idps.oidc_idp.grants import ACCESS_TOKEN_LIFETIME, AuthorizationCode, verify_pkce
from mock_idps.oidc_idp.keys import ALGORITHM
from mock_idps.oidc_idp.provider import MockIdP, idp_of, org_of
from mock_idps.oidc_idp.tokens import issue_id_token

log = logging.getLogger("mock_idps.oidc_idp")
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
_CODE_VERIFIER = re.compile(r"[A-Za-z0-9._~-]{43,128}")  # RFC 7636 §4.1
_TOKEN_PARAMS = ("grant_type", "code", "redirect_uri", "code_verifier", "client_id")
_GARBAGE = b"<html><head><title>502 Bad Gateway</title></head><body>upstream error</body></html>"


async def discovery(request: Request) -> Response:
    org, idp = org_of(request), idp_of(request)
    return JSONResponse(discovery_document(idp, org))


def discovery_document(idp: MockIdP, org: Organisation) -> dict[str, Any]:
    oid = org.org_id
    org_claims = sorted({name for user in org.users for name in user.claims})
    return {
        "issuer": idp.issuer(oid),
        "authorization_endpoint": idp.endpoint(oid, "authorize"),
        "token_endpoint": idp.endpoint(oid, "token"),
        "userinfo_endpoint": idp.endpoint(oid, "userinfo"),
        "jwks_uri": idp.endpoint(oid, "jwks"),
        "end_session_endpoint": idp.endpoint(oid, "logout"),
        "scopes_supported": list(SCOPES_SUPPORTED),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": [ALGORITHM],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "code_challenge_methods_supported": ["S256"],
        "acr_values_supported": list(org.acr_values_supported),
        "claims_supported": [
            *STANDARD_CLAIMS,
            *org_claims,
            *("iss", "aud", "exp", "iat", "auth_time", "nonce", "acr", "amr", "at_hash"),
        ],
        "prompt_values_supported": ["none", "login"],
        "ui_locales_supported": list(LOCALES),
        "claims_parameter_supported": False,
        "request_parameter_supported": False,
        "request_uri_parameter_supported": False,
        "authorization_response_iss_parameter_supported": idp.iss_parameter,
    }


async def jwks(request: Request) -> Response:
    org, idp = org_of(request), idp_of(request)
    return JSONResponse(idp.keys[org.org_id].jwks())


async def token(request: Request) -> Response:
    org, idp = org_of(request), idp_of(request)
    form = await request.form()
    params = single_values([(k, v) for k, v in form.multi_items() if isinstance(v, str)])
    try:
        client = authenticate_client(
            request.headers.get("authorization"), params, idp.config.clients
        )
        code, issued = _redeem(idp, org, client, params)
    except OAuthError as exc:
        log.info("token refused: org=%s error=%s (%s)", org.org_id, exc.error, exc.description)
        return _oauth_error(exc)
    armed = idp.faults.take(org.org_id) if idp.faults is not None else None
    if armed is not None:
        log.info("token fault: org=%s fault=%s", org.org_id, armed.fault.value)
    return await _token_response(idp, org, code, issued, armed)


async def userinfo(request: Request) -> Response:
    org, idp = org_of(request), idp_of(request)
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return _oauth_error(InvalidTokenError("a Bearer access token is required"))
    found = idp.grants.access_token(value.strip(), idp.clock())
    user = org.user_by_sub(found.grant.sub) if found and found.grant.org_id == org.org_id else None
    if found is None or user is None:
        return _oauth_error(InvalidTokenError("the access token is unknown, expired or revoked"))
    return JSONResponse(released_claims(user, found.grant.scope), headers=_NO_STORE)


async def faults_endpoint(request: Request) -> Response:
    """POST arms a fault, GET lists them, DELETE disarms all (routed only when enabled)."""
    idp = idp_of(request)
    board = idp.faults
    if board is None:  # not routed then; kept as a second lock
        return JSONResponse({"error": "faults are disabled"}, status_code=404)
    if request.method == "DELETE":
        board.clear()
    elif request.method == "POST":
        try:
            org_id, armed = parse_fault_request(await request.body(), set(idp.config.organisations))
        except FaultRequestError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        board.arm(org_id, armed)
        log.info(
            "fault armed: org=%s fault=%s count=%d", org_id, armed.fault.value, armed.remaining
        )
    return JSONResponse({"armed": board.describe()})


def _redeem(
    idp: MockIdP, org: Organisation, client: Client, params: Mapping[str, str | None]
) -> tuple[str, AuthorizationCode]:
    repeated = [k for k in _TOKEN_PARAMS if k in params and params[k] is None]
    if repeated:
        raise InvalidRequestError(f"parameter repeated: {repeated[0]}")
    grant_type, code = params.get("grant_type"), params.get("code")
    if not grant_type:
        raise InvalidRequestError("grant_type is missing")
    if grant_type != "authorization_code":
        raise UnsupportedGrantTypeError("only grant_type=authorization_code is supported")
    if not code:
        raise InvalidRequestError("code is missing")
    issued = idp.grants.redeem_code(code, idp.clock())
    if issued is None:
        raise InvalidGrantError("the code is unknown, used or expired")
    if issued.grant.org_id != org.org_id or issued.grant.client_id != client.client_id:
        raise InvalidGrantError("the code was issued to another client or organisation")
    if params.get("redirect_uri") != issued.redirect_uri:
        raise InvalidGrantError("redirect_uri differs from the authorization request")
    _check_pkce(params.get("code_verifier"), issued.code_challenge)
    return code, issued


def _check_pkce(verifier: str | None, challenge: str | None) -> None:
    if challenge is None:
        if verifier is not None:
            raise InvalidGrantError("code_verifier given, but the request had no code_challenge")
        return
    if verifier is None or not _CODE_VERIFIER.fullmatch(verifier):
        raise InvalidGrantError("code_verifier is missing or malformed")
    if not verify_pkce(verifier, challenge):
        raise InvalidGrantError("code_verifier does not match the code_challenge")


async def _token_response(
    idp: MockIdP,
    org: Organisation,
    code: str,
    issued: AuthorizationCode,
    armed: ArmedFault | None,
) -> Response:
    fault = armed.fault if armed is not None else None
    if armed is not None and fault is Fault.SLOW_TOKEN:
        await asyncio.sleep(armed.seconds)
    if fault is Fault.TOKEN_ERROR:
        return _oauth_error(InvalidGrantError("test fault: token_error"))
    if fault is Fault.TOKEN_GARBAGE:
        return Response(_GARBAGE, media_type="application/json", headers=_NO_STORE)
    user = org.user_by_sub(issued.grant.sub)
    if user is None:
        return _oauth_error(InvalidGrantError("the user no longer exists"))
    now = idp.now()
    access_token = idp.grants.issue_access_token(code, issued.grant, now)
    body: dict[str, Any] = {
        "access_token": access_token,
        "token_type": "Bearer",
        "expires_in": ACCESS_TOKEN_LIFETIME,
        "scope": " ".join(issued.grant.scope),
    }
    if fault is not Fault.NO_ID_TOKEN:
        body["id_token"] = issue_id_token(
            issuer=idp.issuer(org.org_id),
            grant=issued.grant,
            user=user,
            access_token=access_token,
            keys=idp.keys[org.org_id],
            now=now,
            fault=fault,
        )
    log.info("token issued: org=%s client_id=%s", org.org_id, issued.grant.client_id)
    return JSONResponse(body, headers=_NO_STORE)


def _oauth_error(error: OAuthError) -> Response:
    headers = dict(_NO_STORE)
    if isinstance(error, InvalidTokenError):
        headers["WWW-Authenticate"] = f'Bearer error="{error.error}"'
    elif error.status_code == 401:
        headers["WWW-Authenticate"] = 'Basic realm="token"'
    return JSONResponse(error.as_dict(), status_code=error.status_code, headers=headers)
