"""The account page: the person edits their contact details and partner organisations, sees the
login routes linked to the account, and deletes it. Reached with the browser's SSO session (from
a portal's "edit account" link, say); its CSRF tokens are bound to that session."""

from __future__ import annotations

import dataclasses
import re
import time
from collections.abc import Mapping

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from broker.errors import AccountRequiredError, FormInputError
from broker.http.context import broker, locale_of
from broker.http.cookies import SESSION
from broker.http.errors import NO_STORE
from broker.http.oidc_routes import redirect
from broker.http.pages import page
from broker.http.registration_routes import contact_fields, edited_draft
from broker.journey.flow import ACCOUNT_DELETE_PATH, ACCOUNT_PATH
from broker.journey.registration import Draft, account_claims
from broker.store.accounts import AccountRecord
from broker.store.records import SessionRecord

DELETE_PATH = ACCOUNT_DELETE_PATH
EMAIL_PATH = ACCOUNT_PATH + "/email"


async def _signed_in(request: Request) -> tuple[SessionRecord, AccountRecord]:
    ctx = broker(request)
    session = await ctx.provider.sessions.active(ctx.cookies.read(request.cookies, SESSION))
    account = await ctx.journey.accounts.accounts.get(session.sub) if session else None
    if session is None or account is None:
        raise AccountRequiredError("account page without an SSO session of an account")
    return session, account


def _csrf_ok(request: Request, session: SessionRecord, token: object) -> bool:
    valid = isinstance(token, str) and broker(request).cookies.check_csrf(session.sid, token)
    return bool(valid)


def _ui_locales(request: Request) -> str | None:
    wanted = request.query_params.get("ui_locales", "")[:35]
    return wanted if re.fullmatch(r"[A-Za-z -]*", wanted) and wanted else None


def _login_too_old(request: Request, session: SessionRecord) -> bool:
    """Deleting asks for a recent login: a session left open on a shared computer, or a
    stolen session cookie, must not be enough to delete the account."""
    ctx = broker(request)
    age = ctx.provider.clock.now() - session.auth_time
    return age > ctx.settings.accounts.delete_login_max_age


async def _fresh_login(request: Request) -> Response:
    """The person logs in again (the IdP asked to authenticate anew), then comes back to the
    delete confirmation."""
    journey = broker(request).journey
    fresh = await journey.begin_for_account(_ui_locales(request), then=DELETE_PATH, fresh=True)
    return redirect(request, fresh)


async def show_account(request: Request) -> Response:
    """Without the SSO session of an account: a login for this page first."""
    ctx = broker(request)
    try:
        session, account = await _signed_in(request)
    except AccountRequiredError:
        return redirect(request, await ctx.journey.begin_for_account(_ui_locales(request)))
    draft = Draft(account.phone, account.email, account.partners)
    return await render_account(request, session, account, draft, query="")


async def post_account(request: Request) -> Response:
    ctx = broker(request)
    session, account = await _signed_in(request)
    form = await request.form()
    saved = Draft(account.phone, account.email, account.partners)
    if not _csrf_ok(request, session, form.get("csrf_token")):
        errors = {"form": "registration.form.expired"}
        return await render_account(request, session, account, saved, "", errors, 400)
    stage = ctx.journey.accounts
    draft, query, action = edited_draft(form, stage.catalogue)
    if action != "save":
        return await render_account(request, session, account, draft, query)
    checked = stage.check(draft)
    if checked.registration is None:
        return await render_account(request, session, account, draft, query, checked.errors, 400)
    new_email = checked.registration.email
    keep = dataclasses.replace(checked.registration, email=account.email)
    try:
        if new_email != account.email:  # the code goes out first: a refused address saves nothing
            await stage.codes.send(_code_key(session), new_email, locale_of(request))
        edited = await stage.accounts.edit(
            account, keep, stage.catalogue, session.claims.get("route")
        )
    except FormInputError as exc:
        errors = {exc.field: exc.message_id}
        return await render_account(request, session, account, draft, query, errors, 400)
    await _refresh_session(request, session, edited)
    if new_email != account.email:
        return _render_email_code(request, session, new_email)
    return RedirectResponse(ACCOUNT_PATH + "?saved=1", 303, headers=NO_STORE)


def _code_key(session: SessionRecord) -> str:
    """The e-mail code of an address change is bound to the SSO session that asked for it
    (registration's are bound to the login transaction)."""
    return "account:" + session.sid


def _render_email_code(
    request: Request,
    session: SessionRecord,
    email: str,
    errors: Mapping[str, str] | None = None,
    *,
    resent: bool = False,
    status: int = 200,
) -> Response:
    """A changed address is the account's only once the code sent to it is typed back, as at
    registration; until then the account keeps the address it had."""
    response = page(
        request,
        "confirm.html",
        status_code=status,
        title_id="account.email_code.title",
        intro_id="account.email_code.intro",
        change_id="account.email_code.cancel",
        action=EMAIL_PATH,
        csrf_token=broker(request).cookies.csrf_token(session.sid),
        tx="",
        new_email=email,
        email=email,
        errors=errors or {},
        resent=resent,
        back_url=ACCOUNT_PATH,
    )
    response.headers.update(NO_STORE)
    return response


async def post_email_code(request: Request) -> Response:
    """The code for a new address: right, and the address is the account's, verified; wrong,
    and the account keeps the address it had."""
    ctx = broker(request)
    session, account = await _signed_in(request)
    form = await request.form()
    email = form.get("new_email")
    if not isinstance(email, str) or not _csrf_ok(request, session, form.get("csrf_token")):
        errors = {"form": "registration.form.expired"}
        return await render_account(request, session, account, _saved(account), "", errors, 400)
    codes = ctx.journey.accounts.codes
    try:
        if form.get("action") == "resend":
            await codes.send(_code_key(session), email, locale_of(request))
            return _render_email_code(request, session, email, resent=True)
        code = form.get("code")
        await codes.confirm(_code_key(session), email, code if isinstance(code, str) else "")
    except FormInputError as exc:
        return _render_email_code(request, session, email, {exc.field: exc.message_id}, status=400)
    changed = await ctx.journey.accounts.accounts.change_email(
        account, email, session.claims.get("route")
    )
    await _refresh_session(request, session, changed)
    return RedirectResponse(ACCOUNT_PATH + "?saved=email", 303, headers=NO_STORE)


def _saved(account: AccountRecord) -> Draft:
    return Draft(account.phone, account.email, account.partners)


async def _refresh_session(
    request: Request, session: SessionRecord, account: AccountRecord
) -> None:
    """The SSO session answers the next portal with the edited details."""
    ctx = broker(request)
    claims = {**session.claims, **account_claims(account, ctx.journey.accounts.catalogue)}
    await ctx.provider.sessions.update_claims(session, claims)


async def render_account(
    request: Request,
    session: SessionRecord,
    account: AccountRecord,
    draft: Draft,
    query: str,
    errors: Mapping[str, str] | None = None,
    status: int = 200,
) -> Response:
    ctx = broker(request)
    locale = locale_of(request)
    registry = ctx.journey.map.registry
    links = []
    for link in await ctx.journey.accounts.accounts.links(account.account_id):
        idp = registry.idp(link.idp_id)
        links.append(
            {
                "name": idp.names.get(locale) if idp else link.idp_id,
                "linked_at": _date(link.linked_at),
                "last_login_at": _date(link.last_login_at) if link.last_login_at else "-",
            }
        )
    response = page(
        request,
        "account.html",
        status_code=status,
        ui_locales=None,
        action=ACCOUNT_PATH,
        csrf_token=ctx.cookies.csrf_token(session.sid),
        errors=errors or {},
        saved=request.query_params.get("saved") == "1" and not errors,
        email_changed=request.query_params.get("saved") == "email" and not errors,
        email_verified=account.email_verified_at is not None,
        links=links,
        delete_url=DELETE_PATH,
        retention_days=ctx.settings.accounts.audit_retention_days,
        **contact_fields(ctx.journey.accounts.catalogue, draft, query, locale),
    )
    response.headers.update(NO_STORE)
    return response


def _date(at: float) -> str:
    return time.strftime("%d.%m.%Y", time.gmtime(at))


async def show_delete(request: Request) -> Response:
    session, _ = await _signed_in(request)
    if _login_too_old(request, session):
        return await _fresh_login(request)
    return _render_delete(request, session)


def _render_delete(
    request: Request, session: SessionRecord, *, status: int = 200, not_confirmed: bool = False
) -> Response:
    ctx = broker(request)
    return page(
        request,
        "account_delete.html",
        status_code=status,
        action=DELETE_PATH,
        csrf_token=ctx.cookies.csrf_token(session.sid),
        cancel_url=ACCOUNT_PATH,
        retention_days=ctx.settings.accounts.audit_retention_days,
        deleted=False,
        not_confirmed=not_confirmed,
    )


async def post_delete(request: Request) -> Response:
    """Deleting needs the box ticked; then every SSO session of the account ends, in every
    browser, with its grants (portals that asked for it get a back-channel logout), and the
    account goes."""
    ctx = broker(request)
    session, account = await _signed_in(request)
    form = await request.form()
    if not _csrf_ok(request, session, form.get("csrf_token")) or form.get("confirm") != "yes":
        return _render_delete(request, session, status=400, not_confirmed=True)
    if _login_too_old(request, session):  # the page was left open: log in again, then confirm
        return await _fresh_login(request)
    await ctx.provider.end_subject(account.account_id)
    await ctx.journey.accounts.accounts.delete(account, session.claims.get("route"))
    response = page(request, "account_delete.html", deleted=True)
    ctx.cookies.clear(response, SESSION)
    response.headers.update(NO_STORE)
    return response


ROUTES = [
    Route(ACCOUNT_PATH, show_account, methods=["GET"]),
    Route(ACCOUNT_PATH, post_account, methods=["POST"]),
    Route(EMAIL_PATH, post_email_code, methods=["POST"]),
    Route(DELETE_PATH, show_delete, methods=["GET"]),
    Route(DELETE_PATH, post_delete, methods=["POST"]),
]
