"""The account page (`journey/account_page.py`): parse, call, render. Reached with the browser's
SSO session; its CSRF tokens are bound to that session."""

from __future__ import annotations

import re
from collections.abc import Mapping

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from broker import paths
from broker.errors import AccountRequiredError, FormInputError
from broker.http.contact_form import contact_fields, edited_draft
from broker.http.context import broker, locale_of
from broker.http.cookies import SESSION
from broker.http.errors import NO_STORE
from broker.http.forms import csrf_ok, csrf_token
from broker.http.pages import page
from broker.http.responses import redirect
from broker.journey.account_page import SignedIn
from broker.journey.registration import Draft

FORM_EXPIRED = {"form": "registration.form.expired"}


async def _signed_in(request: Request) -> SignedIn:
    ctx = broker(request)
    return await ctx.account_page.signed_in(ctx.cookies.read(request.cookies, SESSION))


def _ui_locales(request: Request) -> str | None:
    wanted = request.query_params.get("ui_locales", "")[:35]
    return wanted if re.fullmatch(r"[A-Za-z -]*", wanted) and wanted else None


async def _fresh_login(request: Request) -> Response:
    """The person logs in again (the IdP asked to authenticate anew), then comes back to the
    delete confirmation."""
    journey = broker(request).journey
    fresh = await journey.begin_for_account(
        _ui_locales(request), then=paths.ACCOUNT_DELETE, fresh=True
    )
    return redirect(request, fresh)


async def show_account(request: Request) -> Response:
    """Without the SSO session of an account: a login for this page first."""
    try:
        who = await _signed_in(request)
    except AccountRequiredError:
        journey = broker(request).journey
        return redirect(request, await journey.begin_for_account(_ui_locales(request)))
    return await render_account(request, who, who.saved, query="")


async def post_account(request: Request) -> Response:
    account_page = broker(request).account_page
    who = await _signed_in(request)
    form = await request.form()
    if not csrf_ok(request, who.session.sid, form):
        return await render_account(request, who, who.saved, "", FORM_EXPIRED, 400)
    draft, query, action = edited_draft(form, account_page.stage.catalogue)
    if action != "save":
        return await render_account(request, who, draft, query)
    edited = await account_page.save(who, draft, locale_of(request))
    if edited.errors:
        return await render_account(request, who, draft, query, edited.errors, 400)
    if edited.code_sent_to is not None:
        return _render_email_code(request, who, edited.code_sent_to)
    return RedirectResponse(paths.ACCOUNT + "?saved=1", 303, headers=NO_STORE)


def _render_email_code(
    request: Request,
    who: SignedIn,
    email: str,
    errors: Mapping[str, str] | None = None,
    *,
    resent: bool = False,
    status: int = 200,
) -> Response:
    response = page(
        request,
        "confirm.html",
        status_code=status,
        title_id="account.email_code.title",
        intro_id="account.email_code.intro",
        change_id="account.email_code.cancel",
        action=paths.ACCOUNT_EMAIL,
        csrf_token=csrf_token(request, who.session.sid),
        tx="",
        new_email=email,
        email=email,
        errors=errors or {},
        resent=resent,
        back_url=paths.ACCOUNT,
    )
    response.headers.update(NO_STORE)
    return response


async def post_email_code(request: Request) -> Response:
    account_page = broker(request).account_page
    who = await _signed_in(request)
    form = await request.form()
    email = form.get("new_email")
    if not isinstance(email, str) or not csrf_ok(request, who.session.sid, form):
        return await render_account(request, who, who.saved, "", FORM_EXPIRED, 400)
    try:
        if form.get("action") == "resend":
            await account_page.resend_email_code(who, email, locale_of(request))
            return _render_email_code(request, who, email, resent=True)
        code = form.get("code")
        await account_page.confirm_email(who, email, code if isinstance(code, str) else "")
    except FormInputError as exc:
        return _render_email_code(request, who, email, {exc.field: exc.message_id}, status=400)
    return RedirectResponse(paths.ACCOUNT + "?saved=email", 303, headers=NO_STORE)


async def render_account(
    request: Request,
    who: SignedIn,
    draft: Draft,
    query: str,
    errors: Mapping[str, str] | None = None,
    status: int = 200,
) -> Response:
    account_page = broker(request).account_page
    locale = locale_of(request)
    saved = request.query_params.get("saved")
    response = page(
        request,
        "account.html",
        status_code=status,
        ui_locales=None,
        action=paths.ACCOUNT,
        csrf_token=csrf_token(request, who.session.sid),
        errors=errors or {},
        saved=saved == "1" and not errors,
        email_changed=saved == "email" and not errors,
        email_verified=who.account.email_verified_at is not None,
        links=await account_page.links(who, locale),
        delete_url=paths.ACCOUNT_DELETE,
        retention_days=account_page.retention_days,
        **contact_fields(account_page.stage.catalogue, draft, query, locale),
    )
    response.headers.update(NO_STORE)
    return response


async def show_delete(request: Request) -> Response:
    who = await _signed_in(request)
    if broker(request).account_page.login_too_old(who):
        return await _fresh_login(request)
    return _render_delete(request, who)


def _render_delete(
    request: Request, who: SignedIn, *, status: int = 200, not_confirmed: bool = False
) -> Response:
    return page(
        request,
        "account_delete.html",
        status_code=status,
        action=paths.ACCOUNT_DELETE,
        csrf_token=csrf_token(request, who.session.sid),
        cancel_url=paths.ACCOUNT,
        retention_days=broker(request).account_page.retention_days,
        deleted=False,
        not_confirmed=not_confirmed,
    )


async def post_delete(request: Request) -> Response:
    """Deleting needs the box ticked and a recent login (`AccountPage.login_too_old`)."""
    ctx = broker(request)
    who = await _signed_in(request)
    form = await request.form()
    if not csrf_ok(request, who.session.sid, form) or form.get("confirm") != "yes":
        return _render_delete(request, who, status=400, not_confirmed=True)
    if ctx.account_page.login_too_old(who):  # the page was left open: log in again, confirm
        return await _fresh_login(request)
    await ctx.account_page.delete(who)
    response = page(request, "account_delete.html", deleted=True)
    ctx.cookies.clear(response, SESSION)
    response.headers.update(NO_STORE)
    return response


ROUTES = [
    Route(paths.ACCOUNT, show_account, methods=["GET"]),
    Route(paths.ACCOUNT, post_account, methods=["POST"]),
    Route(paths.ACCOUNT_EMAIL, post_email_code, methods=["POST"]),
    Route(paths.ACCOUNT_DELETE, show_delete, methods=["GET"]),
    Route(paths.ACCOUNT_DELETE, post_delete, methods=["POST"]),
]
