"""The HTTP layer's own helpers, on a real Starlette app over ASGI (no broker behind them):
parameters each at most once, urlencoded bodies only, bounded fields, and CSRF tokens that hold
only for the login or session they were made for."""

from __future__ import annotations

from collections.abc import AsyncIterator
from types import SimpleNamespace

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from broker.errors import BrokerError, CSRFError, InvalidRequestError
from broker.http.cookies import CookieSigner
from broker.http.forms import csrf_ok, csrf_token, form_of, require_csrf, single_values, text_field

KEYS = [b"k" * 32]
REFUSED = "form without a valid CSRF token"  # the reason operators read in the log


async def echo_params(request: Request) -> Response:
    values, repeated = single_values(request.query_params)
    return JSONResponse({"values": values, "repeated": sorted(repeated)})


async def echo_form(request: Request) -> Response:
    return JSONResponse(await form_of(request))


async def echo_any_form(request: Request) -> Response:
    async with request.form() as form:  # closes the upload's spooled file
        values, repeated = single_values(form)
    return JSONResponse({"values": values, "repeated": sorted(repeated)})


async def field(request: Request) -> Response:
    form = await request.form()
    return JSONResponse({"q": text_field(form, "q", 5), "missing": text_field(form, "nope")})


async def token(request: Request) -> Response:
    return JSONResponse({"token": csrf_token(request, request.path_params["bound"])})


async def check(request: Request) -> Response:
    form = await request.form()
    bound = request.path_params["bound"]
    ok = csrf_ok(request, bound, form)
    try:
        require_csrf(request, bound, form)
    except CSRFError as refused:
        return JSONResponse({"ok": ok, "required": False, "why": refused.detail})
    return JSONResponse({"ok": ok, "required": True})


async def broker_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, BrokerError)
    return JSONResponse({"error": type(exc).__name__, "why": str(exc)}, status_code=400)


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    app = Starlette(
        routes=[
            Route("/params", echo_params),
            Route("/form", echo_form, methods=["POST"]),
            Route("/any-form", echo_any_form, methods=["POST"]),
            Route("/field", field, methods=["POST"]),
            Route("/token/{bound}", token),
            Route("/check/{bound}", check, methods=["POST"]),
        ],
        exception_handlers={InvalidRequestError: broker_error},
    )
    app.state.broker = SimpleNamespace(cookies=CookieSigner(KEYS, secure=True))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://broker.test") as client:
        yield client


async def test_repeated_parameters_are_named_and_the_first_value_kept(
    http: httpx.AsyncClient,
) -> None:
    answer = (await http.get("/params?a=1&b=2&a=3")).json()
    assert answer == {"values": {"a": "1", "b": "2"}, "repeated": ["a"]}


async def test_a_token_request_body_must_be_urlencoded_with_each_parameter_once(
    http: httpx.AsyncClient,
) -> None:
    ok = await http.post("/form", data={"grant_type": "authorization_code", "code": "c"})
    assert ok.json() == {"grant_type": "authorization_code", "code": "c"}
    as_json = await http.post("/form", json={"grant_type": "x"})
    assert as_json.status_code == 400 and "content type" in as_json.json()["why"]
    twice = await http.post(
        "/form",
        content="code=a&code=b",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert twice.status_code == 400 and twice.json()["why"] == "repeated parameter: code"
    charset = await http.post(
        "/form",
        content="code=a",
        headers={"content-type": "Application/X-WWW-Form-Urlencoded; charset=utf-8"},
    )
    assert charset.json() == {"code": "a"}
    for headers in ({}, {"content-type": ""}, {"content-type": "text/plain"}):
        untyped = await http.post("/form", content="code=a", headers=headers)
        assert untyped.status_code == 400, headers
        assert untyped.json() == {
            "error": "InvalidRequestError",
            "why": "content type must be application/x-www-form-urlencoded",
        }


async def test_a_file_upload_is_refused_wherever_a_form_is_read(http: httpx.AsyncClient) -> None:
    plain = await http.post("/any-form", files={"q": ("q.txt", b"x")}, data={"a": "1"})
    assert plain.status_code == 400
    assert plain.json() == {"error": "InvalidRequestError", "why": "file uploads are not accepted"}
    multipart = await http.post("/any-form", files={"a": (None, b"1")})
    assert multipart.json() == {"values": {"a": "1"}, "repeated": []}


async def test_a_text_field_is_cut_to_its_limit_and_a_missing_one_is_empty(
    http: httpx.AsyncClient,
) -> None:
    assert (await http.post("/field", data={"q": "abcdefgh"})).json() == {
        "q": "abcde",
        "missing": "",
    }


async def test_a_csrf_token_holds_only_for_what_it_was_made_for(http: httpx.AsyncClient) -> None:
    mine = (await http.get("/token/tx-A")).json()["token"]
    assert (await http.post("/check/tx-A", data={"csrf_token": mine})).json() == {
        "ok": True,
        "required": True,
    }
    for bound, form in [
        ("tx-B", {"csrf_token": mine}),  # another login's (or another browser's) form
        ("tx-A", {"csrf_token": mine[:-1] + ("A" if mine[-1] != "A" else "B")}),
        ("tx-A", {"csrf_token": ""}),
        ("tx-A", {}),
    ]:
        answer = (await http.post(f"/check/{bound}", data=form)).json()
        assert answer == {"ok": False, "required": False, "why": REFUSED}, (bound, form)


async def test_a_token_from_another_key_is_refused(http: httpx.AsyncClient) -> None:
    forged = CookieSigner([b"x" * 32], secure=True).csrf_token("tx-A")
    answer = (await http.post("/check/tx-A", data={"csrf_token": forged})).json()
    assert answer == {"ok": False, "required": False, "why": REFUSED}
