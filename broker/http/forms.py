"""Reading what a request sends: parameters each at most once, a urlencoded body, a bounded
text field, and the CSRF token of a form bound to its login or SSO session."""

from __future__ import annotations

from collections.abc import Mapping

from starlette.datastructures import FormData, QueryParams
from starlette.requests import Request

from broker.errors import CSRFError, InvalidRequestError
from broker.http.context import broker

FORM_TYPE = "application/x-www-form-urlencoded"
MAX_FIELD = 254


def single_values(params: QueryParams | FormData) -> tuple[dict[str, str], frozenset[str]]:
    """Parameters as a plain dict, and the names that were sent more than once (RFC 6749 §3.1)."""
    values: dict[str, str] = {}
    repeated = set()
    for key, value in params.multi_items():
        if not isinstance(value, str):
            raise InvalidRequestError("file uploads are not accepted")
        if key in values:
            repeated.add(key)
        values.setdefault(key, value)
    return values, frozenset(repeated)


async def form_of(request: Request) -> dict[str, str]:
    """A urlencoded body with each parameter at most once (RFC 6749 §3.2)."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != FORM_TYPE:
        raise InvalidRequestError(f"content type must be {FORM_TYPE}")
    values, repeated = single_values(await request.form())
    if repeated:
        raise InvalidRequestError(f"repeated parameter: {sorted(repeated)[0]}")
    return values


def text_field(form: FormData | Mapping[str, object], name: str, limit: int = MAX_FIELD) -> str:
    value = form.get(name)
    return value[:limit] if isinstance(value, str) else ""


def csrf_token(request: Request, bound_to: str) -> str:
    """The token for a form of one login transaction or SSO session (`bound_to`: its id)."""
    return broker(request).cookies.csrf_token(bound_to)


def csrf_ok(request: Request, bound_to: str, form: FormData | Mapping[str, object]) -> bool:
    """Whether the form carries the token of `bound_to`: forging one needs the broker's key,
    and one browser's token is refused with another's login or session."""
    token = form.get("csrf_token")
    return isinstance(token, str) and broker(request).cookies.check_csrf(bound_to, token)


def require_csrf(request: Request, bound_to: str, form: FormData | Mapping[str, object]) -> None:
    if not csrf_ok(request, bound_to, form):
        raise CSRFError("form without a valid CSRF token")
