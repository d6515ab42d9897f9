"""DEVELOPMENT-ONLY login page, used until the login journey exists.

Mounted only when `dev_login.enabled` is set, which settings refuse in production mode. It trusts
whatever user name is typed, so it must never face real users.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from broker.errors import CSRFError, TransactionError
from broker.http.context import broker
from broker.http.cookies import TRANSACTION
from broker.http.oidc_routes import redirect, single_values
from broker.http.pages import page

MAX_FIELD = 200


async def dev_login(request: Request) -> Response:
    ctx = broker(request)
    tx_id = ctx.cookies.read(request.cookies, TRANSACTION)
    tx = await ctx.journey.current(tx_id)
    if request.method == "GET":
        return page(
            request,
            "dev_login.html",
            ui_locales=tx.request.get("ui_locales"),
            action="/dev-login",
            csrf_token=ctx.cookies.csrf_token(tx.tx_id),
            tx=tx.tx_id,
            login_hint=tx.request.get("login_hint"),
        )
    form, _ = single_values(await request.form())
    if form.get("tx") != tx.tx_id:
        raise TransactionError("form belongs to another login transaction")
    if not ctx.cookies.check_csrf(tx.tx_id, form.get("csrf_token")):
        raise CSRFError("dev login without a valid CSRF token")
    username = form.get("username", "").strip()[:MAX_FIELD]
    if not username:
        return await _again(request, tx.tx_id)
    claims: dict[str, str | bool] = {
        key: form[key].strip()[:MAX_FIELD] for key in ("name", "email") if form.get(key, "").strip()
    }
    if "email" in claims:
        claims["email_verified"] = False
    acr_values = tx.request.get("acr_values") or ctx.settings.acr_values_supported
    outcome = await ctx.journey.finish(
        tx, f"dev:{username}", claims, acr=acr_values[0], amr=("dev",)
    )
    return redirect(request, outcome)


async def _again(request: Request, tx_id: str) -> Response:
    ctx = broker(request)
    return page(
        request,
        "dev_login.html",
        status_code=400,
        action="/dev-login",
        csrf_token=ctx.cookies.csrf_token(tx_id),
        tx=tx_id,
    )


ROUTES = [Route("/dev-login", dev_login, methods=["GET", "POST"])]
