"""The contact form the registration and account pages share (phone, e-mail, partner
organisations). Without JavaScript, searching, adding and removing an organisation are buttons
of the same form, each sending everything typed so far."""

from __future__ import annotations

from typing import Any

from starlette.datastructures import FormData

from broker.accounts.catalogue import Catalogue
from broker.accounts.service import MAX_PARTNERS
from broker.http.forms import text_field
from broker.journey.registration import Draft
from broker.store.accounts import PartnerOrganisationRecord

MAX_QUERY = 100
DEFAULT_KINDS = ("organisation", "wellbeing_area")
"""Offered before any search: the rest (schools, municipalities) are found by searching."""


def draft_of(form: FormData) -> Draft:
    partners = [p for p in form.getlist("partner") if isinstance(p, str) and p]
    return Draft(
        phone=text_field(form, "phone"),
        email=text_field(form, "email"),
        partners=tuple(dict.fromkeys(partners))[:MAX_PARTNERS],
        eligible=form.get("eligible") == "yes",
    )


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
        "chosen": [org_view(org, locale) for org in chosen],
        "offered": [org_view(org, locale) for org in offered],
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


def org_view(org: PartnerOrganisationRecord, locale: str) -> dict[str, str]:
    name = org.names.get(locale) or org.names["fi"]
    return {"id": org.org_id, "name": name, "kind": org.kind, "code": org.code or ""}
