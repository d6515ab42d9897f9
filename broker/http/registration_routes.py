"""The registration pages of the login journey: the form (phone, e-mail, partner organisations,
`contact_form.py`) and the e-mail code. What was typed is kept by the journey."""

from __future__ import annotations

from collections.abc import Mapping

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from broker import paths
from broker.http.contact_form import contact_fields, edited_draft, org_view
from broker.http.context import broker, locale_of
from broker.http.forms import text_field
from broker.http.pages import page
from broker.http.responses import logged_in, redirect
from broker.http.transaction import belongs, current_transaction, transaction_form
from broker.journey.completion import Redirect
from broker.journey.login_state import state_of
from broker.journey.registration import Draft
from broker.journey.registration_flow import RegistrationFlow
from broker.store.records import TransactionRecord


async def show_register(request: Request) -> Response:
    tx = await current_transaction(request)
    return render_register(request, tx, broker(request).registration.draft(tx), query="")


async def post_register(request: Request) -> Response:
    ctx = broker(request)
    tx = await current_transaction(request)
    form = await request.form()
    saved = ctx.registration.draft(tx)
    if not belongs(request, tx, form):  # an old or forged page: what was saved stays
        return render_register(
            request, tx, saved, query="", errors={"form": "registration.form.expired"}, status=400
        )
    draft, query, action = edited_draft(form, ctx.registration.catalogue)
    if action == "link":
        return redirect(request, await ctx.registration.link_by_other_route(tx))
    elif action == "continue":
        locale = locale_of(request, tx.request.get("ui_locales"))
        outcome = await ctx.registration.submit_registration(tx, draft, locale)
        if isinstance(outcome, Redirect):
            return redirect(request, outcome)
        return render_register(request, tx, draft, query=query, errors=outcome, status=400)
    tx = await ctx.registration.save_draft(tx, draft)
    return render_register(request, tx, draft, query=query)


def render_register(
    request: Request,
    tx: TransactionRecord,
    draft: Draft,
    *,
    query: str,
    errors: Mapping[str, str] | None = None,
    status: int = 200,
) -> Response:
    ctx = broker(request)
    locale = locale_of(request, tx.request.get("ui_locales"))
    return page(
        request,
        "register.html",
        status_code=status,
        action=paths.REGISTER,
        errors=errors or {},
        **transaction_form(request, tx),
        link_failed=state_of(tx).link_failed,
        suggested=_suggestion(ctx.registration, tx, draft, locale),
        **contact_fields(ctx.registration.catalogue, draft, query, locale),
    )


def _suggestion(
    registration: RegistrationFlow, tx: TransactionRecord, draft: Draft, locale: str
) -> dict[str, str] | None:
    """The home municipality the IdP sent, offered for private practitioners until chosen."""
    org = registration.suggested_partner(tx)
    if org is None or org.org_id in draft.partners:
        return None
    return org_view(org, locale)


async def show_confirm(request: Request) -> Response:
    tx = await current_transaction(request)
    if state_of(tx).code_sent_to is None:
        return redirect(request, Redirect(paths.REGISTER))
    return render_confirm(request, tx)


async def post_confirm(request: Request) -> Response:
    ctx = broker(request)
    tx = await current_transaction(request)
    form = await request.form()
    if not belongs(request, tx, form):
        return render_confirm(request, tx, errors={"form": "registration.form.expired"}, status=400)
    if text_field(form, "action") == "resend":
        locale = locale_of(request, tx.request.get("ui_locales"))
        errors = await ctx.registration.resend_code(tx, locale)
        return render_confirm(
            request, tx, errors=errors, resent=not errors, status=400 if errors else 200
        )
    outcome = await ctx.registration.confirm_registration(tx, text_field(form, "code", 32))
    if isinstance(outcome, Redirect):
        return logged_in(request, outcome, state_of(tx).remember)
    if "form" in outcome:  # the form changed in another tab since the code was sent
        return render_register(
            request, tx, ctx.registration.draft(tx), query="", errors=outcome, status=400
        )
    return render_confirm(request, tx, errors=outcome, status=400)


def render_confirm(
    request: Request,
    tx: TransactionRecord,
    *,
    errors: Mapping[str, str] | None = None,
    resent: bool = False,
    status: int = 200,
) -> Response:
    return page(
        request,
        "confirm.html",
        status_code=status,
        action=paths.CONFIRM,
        **transaction_form(request, tx),
        email=state_of(tx).code_sent_to or "",
        errors=errors or {},
        resent=resent,
        back_url=paths.REGISTER,
    )


ROUTES = [
    Route(paths.REGISTER, show_register, methods=["GET"]),
    Route(paths.REGISTER, post_register, methods=["POST"]),
    Route(paths.CONFIRM, show_confirm, methods=["GET"]),
    Route(paths.CONFIRM, post_confirm, methods=["POST"]),
]
