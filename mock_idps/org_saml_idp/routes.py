"""What a browser sees at one organisation: /{org}/sso, the login form (/{org}/login), the POST
back to the SP, and /{org}/metadata; `/` lists the organisations.

An AuthnRequest that is unsigned, wrongly signed, from an unknown SP or for an ACS URL outside the
SP's metadata gets an error page and never a Response. Once the request is valid, every answer
goes to the SP: a Response with an Assertion, or an error status when the request cannot be met
(InvalidNameIDPolicy, NoAuthnContext, NoPassive). A wrong password shows the form again.
"""

from __future__ import annotations

import logging
import secrets
from typing import Any
from urllib.parse import urlencode

from saml2.saml import NAMEID_FORMAT_TRANSIENT, NAMEID_FORMAT_UNSPECIFIED
from saml2.samlp import STATUS_INVALID_NAMEID_POLICY, STATUS_NO_AUTHN_CONTEXT, STATUS_NO_PASSIVE
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from mock_idps.org_saml_idp.attributes import attributes
from mock_idps.org_saml_idp.config import User
from mock_idps.org_saml_idp.provider import NAME_ID_FORMATS, MockOrgSAMLIdP, OrgEntity, idp_of
from mock_idps.org_saml_idp.texts import LANGUAGE_NAMES, LOCALES, TEXTS
from mock_idps.saml_common import sessions
from mock_idps.saml_common.authn_requests import AuthnRequestError, PendingRequest
from mock_idps.saml_common.entity import METADATA_VALID_SECONDS, signed_idp_metadata
from mock_idps.saml_common.responses import (
    EncryptionCertificateError,
    Statement,
    error_response,
    login_response,
)
from mock_idps.saml_common.web import authn_request, parameters, post_answer

log = logging.getLogger("mock_idps.org_saml_idp")

PASSWORD_PROTECTED_TRANSPORT = "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"
SESSION_COOKIE = "org_saml_mock_session"
CSRF_COOKIE = "org_saml_mock_csrf"


async def index(request: Request) -> Response:
    idp = idp_of(request)
    listed = [
        (e.org, e.entity_id, idp.endpoint(org_id, "metadata")) for org_id, e in idp.entities.items()
    ]
    return idp.pages.index(listed)


async def metadata(request: Request) -> Response:
    idp, entity = _entity(request)
    if entity is None:
        return idp.pages.error("fi", TEXTS["fi"]["unknown_org"])
    xml = await run_in_threadpool(
        signed_idp_metadata, entity.server, entity.keys, idp.now() + METADATA_VALID_SECONDS
    )
    return Response(xml, media_type="application/samlmetadata+xml")


async def sso(request: Request) -> Response:
    idp, entity = _entity(request)
    if entity is None:
        return idp.pages.error("fi", TEXTS["fi"]["unknown_org"])
    try:
        pending = await authn_request(request, entity.server)
    except AuthnRequestError as exc:
        log.info("%s: AuthnRequest refused: %s", entity.org.org_id, exc)
        return idp.pages.error("fi", str(exc))
    if refusal := _cannot_meet(pending):
        return await _refuse(idp, entity, pending, *refusal)
    session = _session(request, idp, entity)
    user = entity.org.user(session["username"]) if session else None
    if session is not None and user is not None and not pending.force_authn:
        return await _answer(idp, entity, pending, user, session, "fi")
    if pending.is_passive:
        return await _refuse(idp, entity, pending, STATUS_NO_PASSIVE, "no session")
    return _login_form(request, idp, entity, pending, "fi")


async def login(request: Request) -> Response:
    """GET: the form in another language; POST: the person's username and password."""
    idp, entity = _entity(request)
    form = await parameters(request)
    lang = form.get("lang", "fi")
    locale = lang if lang in LOCALES else "fi"
    if entity is None:
        return idp.pages.error(locale, TEXTS[locale]["unknown_org"])
    data = sessions.unseal(entity.signer, form.get("request"), idp.now())
    if data is None:
        return idp.pages.error(locale, TEXTS[locale]["form_expired"])
    pending = PendingRequest.from_dict(data)
    if request.method == "GET":
        return _login_form(request, idp, entity, pending, locale)
    if not sessions.csrf_ok(request, entity.signer, CSRF_COOKIE, form.get("csrf_token")):
        return idp.pages.error(locale, TEXTS[locale]["form_expired"])
    username = form.get("username", "").strip()
    user = entity.org.user(username)
    if user is None or not secrets.compare_digest(
        user.password.encode(), form.get("password", "").encode()
    ):
        log.info("%s: wrong username or password", entity.org.org_id)
        error = TEXTS[locale]["bad_credentials"]
        return _login_form(request, idp, entity, pending, locale, username, error)
    session = {
        "username": user.username,
        "auth_time": idp.now(),
        "session_index": "_" + secrets.token_hex(16),
    }
    response = await _answer(idp, entity, pending, user, session, locale)
    scope = idp.cookie_scope(entity.org.org_id)
    sessions.start_session(response, entity.signer, SESSION_COOKIE, scope, session)
    return response


def _entity(request: Request) -> tuple[MockOrgSAMLIdP, OrgEntity | None]:
    idp = idp_of(request)
    return idp, idp.entity(request.path_params["org"])


def _session(request: Request, idp: MockOrgSAMLIdP, entity: OrgEntity) -> dict[str, Any] | None:
    data = sessions.read_session(request, entity.signer, SESSION_COOKIE, idp.now())
    if data is None or not isinstance(data.get("username"), str):
        return None
    return data


def _cannot_meet(pending: PendingRequest) -> tuple[str, str] | None:
    """(status, message) when the request asks what the IdP does not do: a NameID format it
    does not issue, or an authentication context other than a password over TLS."""
    name_id_format = pending.name_id_format
    if name_id_format not in (None, NAMEID_FORMAT_UNSPECIFIED, *NAME_ID_FORMATS):
        return STATUS_INVALID_NAMEID_POLICY, f"NameID format {name_id_format} not issued"
    wanted = pending.requested_loas
    if wanted and (pending.comparison == "better" or PASSWORD_PROTECTED_TRANSPORT not in wanted):
        return STATUS_NO_AUTHN_CONTEXT, "only PasswordProtectedTransport"
    return None


async def _refuse(
    idp: MockOrgSAMLIdP, entity: OrgEntity, pending: PendingRequest, status: str, message: str
) -> Response:
    log.info("%s: %s for sp=%s", entity.org.org_id, status.rpartition(":")[2], pending.sp_entity_id)
    xml = await run_in_threadpool(
        error_response, entity.signing(), entity.entity_id, pending, idp.clock(), status, message
    )
    return post_answer(idp.pages, "fi", pending, xml)


async def _answer(
    idp: MockOrgSAMLIdP,
    entity: OrgEntity,
    pending: PendingRequest,
    user: User,
    session: dict[str, Any],
    locale: str,
) -> Response:
    statement = Statement(
        name_id_format=_name_id_format(pending),
        name_id=_name_id(pending, user),
        class_ref=PASSWORD_PROTECTED_TRANSPORT,
        auth_time=int(session["auth_time"]),
        session_index=session["session_index"],
        attributes=attributes(entity.org, user),
    )
    fault = entity.faults.take() if entity.faults is not None else None
    try:
        xml = await run_in_threadpool(
            login_response,
            entity.signing(),
            entity.entity_id,
            pending,
            statement,
            idp.clock(),
            entity.protection(),
            fault,
        )
    except EncryptionCertificateError as exc:
        return idp.pages.error(locale, str(exc))
    org_id = entity.org.org_id
    log.info(
        "%s: Response: sp=%s user=%s fault=%s", org_id, pending.sp_entity_id, user.username, fault
    )
    return post_answer(idp.pages, locale, pending, xml)


def _name_id_format(pending: PendingRequest) -> str:
    wanted = pending.name_id_format
    return wanted if wanted is not None and wanted in NAME_ID_FORMATS else NAME_ID_FORMATS[0]


def _name_id(pending: PendingRequest, user: User) -> str:
    if _name_id_format(pending) == NAMEID_FORMAT_TRANSIENT:
        return "_" + secrets.token_hex(20)  # new for every Response
    return user.persistent_id


def _login_form(
    request: Request,
    idp: MockOrgSAMLIdP,
    entity: OrgEntity,
    pending: PendingRequest,
    locale: str,
    username: str = "",
    error: str | None = None,
) -> Response:
    org_id = entity.org.org_id
    sealed = sessions.seal(entity.signer, pending.as_dict(), idp.now())
    token, new_binding = sessions.issue_csrf_token(request, entity.signer, CSRF_COOKIE)
    login_url = idp.endpoint(org_id, "login")
    languages = [
        (code, name, f"{login_url}?{urlencode({'request': sealed, 'lang': code})}")
        for code, name in LANGUAGE_NAMES.items()
        if code != locale
    ]
    response = idp.pages.login(
        entity.org,
        locale,
        action=f"{login_url}?{urlencode({'lang': locale})}",
        sp_entity_id=pending.sp_entity_id,
        sealed=sealed,
        csrf_token=token,
        languages=languages,
        username=username,
        error=error,
    )
    if new_binding is not None:
        sessions.set_cookie(response, CSRF_COOKIE, new_binding, idp.cookie_scope(org_id))
    return response
