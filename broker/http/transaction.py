"""This browser's login transaction, and the forms of its pages: each carries the transaction
id and a CSRF token bound to it, so a page of another login, or another browser's, is refused."""

from __future__ import annotations

from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request

from broker.errors import TransactionError
from broker.http.context import broker
from broker.http.cookies import TRANSACTION
from broker.http.forms import csrf_ok, csrf_token, require_csrf, single_values
from broker.store.records import TransactionRecord


async def current_transaction(request: Request) -> TransactionRecord:
    ctx = broker(request)
    return await ctx.journey.current(ctx.cookies.read(request.cookies, TRANSACTION))


def belongs(request: Request, tx: TransactionRecord, form: FormData) -> bool:
    """Whether the form is a page of this browser's login (an old or forged page is not)."""
    return form.get("tx") == tx.tx_id and csrf_ok(request, tx.tx_id, form)


async def checked_form(request: Request, tx: TransactionRecord) -> dict[str, str]:
    """The posted form of a choice page, once it is shown to belong to this browser's login."""
    form, _ = single_values(await request.form())
    if form.get("tx") != tx.tx_id:
        raise TransactionError("form belongs to another login transaction")
    require_csrf(request, tx.tx_id, form)
    return form


def transaction_form(request: Request, tx: TransactionRecord) -> dict[str, Any]:
    """What every form of the login transaction carries, and the language it is in."""
    return {
        "ui_locales": tx.request.get("ui_locales"),
        "csrf_token": csrf_token(request, tx.tx_id),
        "tx": tx.tx_id,
    }
