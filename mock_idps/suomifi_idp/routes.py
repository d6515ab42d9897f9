"""What a browser sees: /sso, the picker (/login), the POST back to the SP, /slo, /metadata.

An AuthnRequest that is unsigned, wrongly signed, from an unknown SP or for an ACS URL outside the
SP's metadata gets an error page and never a Response. Once the request is valid, every answer
goes to the SP: a Response with an Assertion, or an error status: NoAuthnContext when the chosen
method does not reach the requested level of assurance, NoPassive when IsPassive was asked and the
browser has no session here. /slo takes an SP's LogoutRequest (`mock_idps.saml_common.logout`).
"""

from __future__ import annotations

import logging
import secrets
from urllib.parse import urlencode

from saml2.samlp import STATUS_NO_PASSIVE
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from mock_idps.saml_common.authn_requests import AuthnRequestError, PendingRequest
from mock_idps.saml_common.entity import METADATA_VALID_SECONDS, signed_idp_metadata
from mock_idps.saml_common.faults import LOGOUT_FAULTS, Fault
from mock_idps.saml_common.logout import (
    LogoutError,
    SPLogout,
    check_logout_response,
    logout_response,
    read_logout_request,
)
from mock_idps.saml_common.sessions import (
    CookieScope,
    csrf_ok,
    issue_csrf_token,
    seal,
    set_cookie,
    unseal,
)
from mock_idps.saml_common.web import authn_request, parameters, post_answer
from mock_idps.suomifi_idp.methods import Method, satisfies
from mock_idps.suomifi_idp.provider import MockSuomifiIdP, idp_of
from mock_idps.suomifi_idp.responses import (
    EncryptionCertificateError,
    Login,
    error_response,
    success_response,
)
from mock_idps.suomifi_idp.sessions import (
    CSRF_COOKIE,
    IdPSession,
    end_session,
    read_session,
    start_session,
)
from mock_idps.suomifi_idp.texts import LANGUAGE_NAMES, LOCALES, TEXTS

log = logging.getLogger("mock_idps.suomifi_idp")


async def metadata(request: Request) -> Response:
    idp = idp_of(request)
    valid_until = idp.now() + METADATA_VALID_SECONDS
    xml = await run_in_threadpool(signed_idp_metadata, idp.server, idp.keys, valid_until)
    return Response(xml, media_type="application/samlmetadata+xml")


async def sso(request: Request) -> Response:
    idp = idp_of(request)
    try:
        pending = await authn_request(request, idp.server)
    except AuthnRequestError as exc:
        log.info("AuthnRequest refused: %s", exc)
        return idp.pages.error("fi", str(exc))
    session = read_session(request, idp.signer, idp.now())
    if session is not None and not pending.force_authn and session.hetu in idp.persons:
        return await _answer(request, idp, pending, session, "fi")
    if pending.is_passive:  # no page may be shown: SAML Core §3.4.1
        log.info("NoPassive: sp=%s", pending.sp_entity_id)
        xml = await run_in_threadpool(
            error_response,
            idp.signing(),
            idp.entity_id,
            pending,
            idp.clock(),
            "no session",
            STATUS_NO_PASSIVE,
        )
        return post_answer(idp.pages, "fi", pending, xml)
    return _picker(request, idp, pending, "fi")


async def login(request: Request) -> Response:
    """GET: the picker in another language; POST: the person picked a method and a person."""
    idp = idp_of(request)
    form = await parameters(request)
    lang = form.get("lang", "fi")
    locale = lang if lang in LOCALES else "fi"
    data = unseal(idp.signer, form.get("request"), idp.now())
    if data is None:
        return idp.pages.error(locale, TEXTS[locale]["form_expired"])
    pending = PendingRequest.from_dict(data)
    if request.method == "GET":
        return _picker(request, idp, pending, locale)
    if not csrf_ok(request, idp.signer, CSRF_COOKIE, form.get("csrf_token")):
        return idp.pages.error(locale, TEXTS[locale]["form_expired"])
    method = next((m for m in Method if m.value == form.get("method")), None)
    person = idp.persons.get(form.get("hetu", ""))
    if method is None or person is None:
        return _picker(request, idp, pending, locale, error=TEXTS[locale]["choose_both"])
    session = IdPSession(person.hetu, method.value, idp.now(), "_" + secrets.token_hex(16))
    response = await _answer(request, idp, pending, session, locale)
    start_session(response, idp.signer, session, idp.secure_cookies)
    return response


async def slo(request: Request) -> Response:
    """An SP's LogoutRequest (answered with a LogoutResponse), an SP's LogoutResponse to the
    mock's own request, or neither: then it just ends the mock's session."""
    idp = idp_of(request)
    params = await parameters(request)
    if "SAMLRequest" in params:
        return await _sp_logout(request, idp, params)
    if "SAMLResponse" in params:
        try:
            status = await run_in_threadpool(check_logout_response, idp.server, params)
        except LogoutError as exc:
            return idp.pages.error("fi", str(exc))
        return idp.pages.message("fi", f"{TEXTS['fi']['logged_out']} ({status.rpartition(':')[2]})")
    response = idp.pages.message("fi", TEXTS["fi"]["logged_out"])
    end_session(response, idp.secure_cookies)
    return response


async def _sp_logout(request: Request, idp: MockSuomifiIdP, params: dict[str, str]) -> Response:
    try:
        logout = await run_in_threadpool(read_logout_request, idp.server, params)
    except LogoutError as exc:
        log.info("LogoutRequest refused: %s", exc)
        return idp.pages.error("fi", str(exc))
    session = read_session(request, idp.signer, idp.now())
    failure = idp.faults is not None and idp.faults.take(LOGOUT_FAULTS) is not None
    ended = not failure and (session is None or _names(logout, idp, session))
    url = await run_in_threadpool(logout_response, idp.server, logout, ended, failure)
    log.info("LogoutResponse: sp=%s ended=%s fault=%s", logout.sp_entity_id, ended, failure)
    response = RedirectResponse(url, status_code=303, headers={"Cache-Control": "no-store"})
    if ended and session is not None:
        end_session(response, idp.secure_cookies)
    return response


def _names(logout: SPLogout, idp: MockSuomifiIdP, session: IdPSession) -> bool:
    """Whether the SP's LogoutRequest names this browser's session at the mock."""
    name_id = idp.signer.name_id(session.session_index, logout.sp_entity_id)
    return logout.names(name_id, session.session_index)


async def _answer(
    request: Request, idp: MockSuomifiIdP, pending: PendingRequest, session: IdPSession, locale: str
) -> Response:
    method = Method(session.method)
    name_id = idp.signer.name_id(session.session_index, pending.sp_entity_id)
    login_ = Login(
        idp.persons[session.hetu], method, session.auth_time, session.session_index, name_id
    )
    now = idp.clock()
    if not satisfies(method.info.loa, pending.requested_loas, pending.comparison):
        log.info("NoAuthnContext: sp=%s method=%s", pending.sp_entity_id, method.value)
        message = f"{method.value} gives {method.info.loa}"
        xml = await run_in_threadpool(
            error_response, idp.signing(), idp.entity_id, pending, now, message
        )
    else:
        fault = idp.faults.take() if idp.faults is not None else None
        try:
            xml = await run_in_threadpool(_success, idp, pending, login_, now, fault)
        except EncryptionCertificateError as exc:
            return idp.pages.error(locale, str(exc))
        log.info("Response: sp=%s method=%s fault=%s", pending.sp_entity_id, method.value, fault)
    return post_answer(idp.pages, locale, pending, xml)


def _success(
    idp: MockSuomifiIdP, pending: PendingRequest, login_: Login, now: float, fault: Fault | None
) -> str:
    return success_response(
        idp.signing(),
        idp.entity_id,
        pending,
        login_,
        now,
        encrypt=idp.encrypt_assertions,
        fault=fault,
    )


def _picker(
    request: Request,
    idp: MockSuomifiIdP,
    pending: PendingRequest,
    locale: str,
    error: str | None = None,
) -> Response:
    sealed = seal(idp.signer, pending.as_dict(), idp.now())
    token, new_binding = issue_csrf_token(request, idp.signer, CSRF_COOKIE)
    languages = [
        (code, name, f"{idp.endpoint('login')}?{urlencode({'request': sealed, 'lang': code})}")
        for code, name in LANGUAGE_NAMES.items()
        if code != locale
    ]
    response = idp.pages.picker(
        locale,
        action=f"{idp.endpoint('login')}?{urlencode({'lang': locale})}",
        sp_entity_id=pending.sp_entity_id,
        sealed=sealed,
        csrf_token=token,
        persons=list(idp.persons.values()),
        languages=languages,
        error=error,
    )
    if new_binding is not None:
        set_cookie(response, CSRF_COOKIE, new_binding, CookieScope(secure=idp.secure_cookies))
    return response
