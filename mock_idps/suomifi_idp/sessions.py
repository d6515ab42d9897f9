"""The mock Suomi.fi's IdP session (who, with which method, since when) and its cookie names;
the signed-cookie machinery is `mock_idps.saml_common.sessions`."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from starlette.requests import Request
from starlette.responses import Response

from mock_idps.saml_common import sessions
from mock_idps.saml_common.sessions import CookieScope, Signer

SESSION_COOKIE = "suomifi_mock_session"
CSRF_COOKIE = "suomifi_mock_csrf"
NAMESPACE = "mock-suomifi-idp"


@dataclass(frozen=True)
class IdPSession:
    """Who is logged in at the mock, with which method, since when."""

    hetu: str
    method: str
    auth_time: int
    session_index: str


def read_session(request: Request, signer: Signer, now: int) -> IdPSession | None:
    data = sessions.read_session(request, signer, SESSION_COOKIE, now)
    try:
        return IdPSession(**data) if data is not None else None
    except TypeError:
        return None


def start_session(response: Response, signer: Signer, session: IdPSession, secure: bool) -> None:
    sessions.start_session(
        response, signer, SESSION_COOKIE, CookieScope(secure=secure), asdict(session)
    )


def end_session(response: Response, secure: bool) -> None:
    sessions.delete_cookie(response, SESSION_COOKIE, CookieScope(secure=secure))
