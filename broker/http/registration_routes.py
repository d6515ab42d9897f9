"""The registration pages of the login journey: the form (phone, e-mail, partner organisations)
and the e-mail code. Without JavaScript: searching, adding and removing an organisation are
buttons of the same form, each sending everything typed so far, which the journey keeps."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from broker.accounts.catalogue import Catalogue
from broker.accounts.service import MAX_PARTNERS
from broker.http.context import broker, locale_of
from broker.http.journey_routes import current_transaction, logged_in
from broker.http.oidc_routes import redirect
from broker.http.pages import page
from broker.journey.flow import CONFIRM_PATH, REGISTER_PATH, LoginJourney, Redirect
from broker.journey.login_state import state_of
from broker.journey.registration import Draft
from broker.store.accounts import PartnerOrganisationRecord
from broker.store.records import TransactionRecord

MAX_FIELD = 254
MAX_QUERY = 100
DEFAULT_KINDS = ("organisation", "wellbeing_area")
"""Offered before any search: the rest (schools, municipalities) are found by searching."""


def _trusted(request: Request, tx: TransactionRecord, form: FormData) -> bool:
    token = form.get("csrf_token")
    return form.get("tx") == tx.tx_id and broker(request).cookies.check_csrf(
        tx.tx_id, token if isinstance(token, str) else None
    )


def text_field(form: FormData, name: str, limit: int = MAX_FIELD) -> str:
    value = form.get(name)
    return value[:limit] if isinstance(value, str) else ""


def draft_of(form: FormData) -> Draft:
    partners = [p for p in form.getlist("partner") if isinstance(p, str) and p]
    return Draft(
        phone=text_field(form, "phone"),
        email=text_field(form, "email"),
        partners=tuple(dict.fromkeys(partners))[:MAX_PARTNERS],
        eligible=form.get("eligible") == "yes",
    )


async def show_register(request: Request) -> Response:
    tx = await current_transaction(request)
    journey = broker(request).journey
    return render_register(request, tx, journey.draft(tx), query="")


async def post_register(request: Request) -> Response:
    ctx = broker(request)
    tx = await current_transaction(request)
    form = await request.form()
    saved = ctx.journey.draft(tx)
    if not _trusted(request, tx, form):  # an old or forged page: what was saved stays
        return render_register(
            request, tx, saved, query="", errors={"form": "registration.form.expired"}, status=400
        )
    draft, query, action = edited_draft(form, ctx.journey.accounts.catalogue)
    if action == "link":
        return redirect(request, await ctx.journey.link_by_other_route(tx))
    elif action == "continue":
        locale = locale_of(request, tx.request.get("ui_locales"))
        outcome = await ctx.journey.submit_registration(tx, draft, locale)
        if isinstance(outcome, Redirect):
            return redirect(request, outcome)
        return render_register(request, tx, draft, query=query, errors=outcome, status=400)
    tx = await ctx.journey.save_draft(tx, draft)
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
        action=REGISTER_PATH,
        errors=errors or {},
        **_transaction_form(request, tx),
        link_failed=state_of(tx).link_failed,
        suggested=_suggestion(ctx.journey, tx, draft, locale),
        **contact_fields(ctx.journey.accounts.catalogue, draft, query, locale),
    )


def _suggestion(
    journey: LoginJourney, tx: TransactionRecord, draft: Draft, locale: str
) -> dict[str, str] | None:
    """The home municipality the IdP sent, offered for private practitioners until chosen."""
    org_id = journey.accounts.suggested_municipality(journey.pending(tx))
    org = journey.accounts.catalogue.get(org_id) if org_id else None
    if org is None or org.org_id in draft.partners:
        return None
    return _org_view(org, locale)


def contact_fields(catalogue: Catalogue, draft: Draft, query: str, locale: str) -> dict[str, Any]:
    """What `_contact_fields.html` shows: the draft, the chosen organisations and what the
    search (or, before one, the organisations and wellbeing areas) offers to add."""
    chosen = [org for org in (catalogue.get(p) for p in draft.partners) if org is not None]
    if query.strip():
        found = catalogue.search(query, locale, limit=40)
    else:
        found = catalogue.search("", locale, kinds=DEFAULT_KINDS, limit=40)
    offered = [org for org in found if org.org_id not in draft.partners]
    return {
        "draft": draft,
        "chosen": [_org_view(org, locale) for org in chosen],
        "offered": [_org_view(org, locale) for org in offered],
        "query": query,
        "searched": bool(query.strip()),
        "full": len(draft.partners) >= MAX_PARTNERS,
    }


def edited_draft(form: FormData, catalogue: Catalogue) -> tuple[Draft, str, str]:
    """The form's draft after its button (add or remove an organisation), the search query,
    and the button's action."""
    draft, query, action = (
        draft_of(form),
        text_field(form, "q", MAX_QUERY),
        text_field(form, "action"),
    )
    if action.startswith("add:") and catalogue.choosable(action[4:]):
        draft = draft.with_partner(action[4:])
    elif action.startswith("remove:"):
        draft = draft.without_partner(action[7:])
    return draft, query, action


def _transaction_form(request: Request, tx: TransactionRecord) -> dict[str, Any]:
    """What every form of the login transaction carries, and the language it is in."""
    return {
        "ui_locales": tx.request.get("ui_locales"),
        "csrf_token": broker(request).cookies.csrf_token(tx.tx_id),
        "tx": tx.tx_id,
    }


def _org_view(org: PartnerOrganisationRecord, locale: str) -> dict[str, str]:
    name = org.names.get(locale) or org.names["fi"]
    return {"id": org.org_id, "name": name, "kind": org.kind, "code": org.code or ""}


async def show_confirm(request: Request) -> Response:
    tx = await current_transaction(request)
    if state_of(tx).code_sent_to is None:
        return redirect(request, Redirect(REGISTER_PATH))
    return render_confirm(request, tx)


async def post_confirm(request: Request) -> Response:
    ctx = broker(request)
    tx = await current_transaction(request)
    form = await request.form()
    if not _trusted(request, tx, form):
        return render_confirm(request, tx, errors={"form": "registration.form.expired"}, status=400)
    if text_field(form, "action") == "resend":
        locale = locale_of(request, tx.request.get("ui_locales"))
        errors = await ctx.journey.resend_code(tx, locale)
        return render_confirm(
            request, tx, errors=errors, resent=not errors, status=400 if errors else 200
        )
    outcome = await ctx.journey.confirm_registration(tx, text_field(form, "code", 32))
    if isinstance(outcome, Redirect):
        return logged_in(request, tx, outcome)
    if "form" in outcome:  # the form changed in another tab since the code was sent
        return render_register(
            request, tx, ctx.journey.draft(tx), query="", errors=outcome, status=400
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
        action=CONFIRM_PATH,
        **_transaction_form(request, tx),
        email=state_of(tx).code_sent_to or "",
        errors=errors or {},
        resent=resent,
        back_url=REGISTER_PATH,
    )


ROUTES = [
    Route(REGISTER_PATH, show_register, methods=["GET"]),
    Route(REGISTER_PATH, post_register, methods=["POST"]),
    Route(CONFIRM_PATH, show_confirm, methods=["GET"]),
    Route(CONFIRM_PATH, post_confirm, methods=["POST"]),
]
