"""Request handling both mock SAML IdPs share: parameters, the AuthnRequest of a request, the
answer page, and the routes every mock has (health, and for tests faults and SP metadata reload)."""

from __future__ import annotations

import base64
import logging
from collections.abc import Awaitable, Callable, Mapping

from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT
from saml2.server import Server
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from mock_idps.saml_common.authn_requests import PendingRequest, validate_authn_request
from mock_idps.saml_common.entity import MetadataError
from mock_idps.saml_common.faults import FaultBoard, FaultRequestError, parse_fault_request
from mock_idps.saml_common.pages import Pages

log = logging.getLogger("mock_idps.saml")


async def parameters(request: Request) -> dict[str, str]:
    """Query parameters, and for POST the form fields on top."""
    params = {k: v for k, v in request.query_params.items()}
    if request.method == "POST":
        form: FormData = await request.form()
        params |= {k: v for k, v in form.items() if isinstance(v, str)}
    return params


async def authn_request(request: Request, server: Server) -> PendingRequest:
    """The request's AuthnRequest (HTTP-Redirect on GET, HTTP-POST on POST), checked in a thread;
    raises AuthnRequestError."""
    params = await parameters(request)
    binding = BINDING_HTTP_POST if request.method == "POST" else BINDING_HTTP_REDIRECT
    return await run_in_threadpool(
        validate_authn_request,
        server,
        params.get("SAMLRequest", ""),
        binding,
        params.get("RelayState"),
        params.get("SigAlg"),
        params.get("Signature"),
    )


def post_answer(pages: Pages, locale: str, pending: PendingRequest, xml: str) -> Response:
    """The auto-submitting form that carries the Response to the SP's ACS."""
    encoded = base64.b64encode(xml.encode("utf-8")).decode("ascii")
    return pages.post_to_sp(locale, pending.acs_url, encoded, pending.relay_state)


async def fault_endpoint(request: Request, boards: Mapping[str, FaultBoard]) -> Response:
    """GET what is armed, POST arm one fault, DELETE disarm all. A mock with one IdP entity has
    the one board under ""; with several, requests name the board as `org`."""
    orgs = [org for org in boards if org]
    if request.method == "DELETE":
        for board in boards.values():
            board.clear()
    elif request.method == "POST":
        try:
            org, armed = parse_fault_request(await request.body(), orgs)
        except FaultRequestError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        boards[org].arm(armed)
        log.info("fault armed: %s %s x%d", org or "-", armed.fault.value, armed.remaining)
    if not orgs:
        return JSONResponse(boards[""].describe())
    return JSONResponse({org: b.describe() for org, b in boards.items() if b.describe()})


async def reload_endpoint(reload: Callable[[], int]) -> Response:
    """Fetch the SP metadata again (blocking, in a thread); answers how many sources."""
    try:
        count = await run_in_threadpool(reload)
    except MetadataError as exc:
        return JSONResponse({"error": str(exc)}, status_code=502)
    return JSONResponse({"reloaded": count})


Endpoint = Callable[[Request], Awaitable[Response]]


def common_routes(
    faults_enabled: bool, faults: Endpoint, reload_sp_metadata: Endpoint
) -> list[Route]:
    """/healthz, and with faults enabled /_faults and /_reload-sp-metadata."""
    routes = [Route("/healthz", _healthz, methods=["GET"])]
    if faults_enabled:
        routes += [
            Route("/_faults", faults, methods=["GET", "POST", "DELETE"]),
            Route("/_reload-sp-metadata", reload_sp_metadata, methods=["POST"]),
        ]
    return routes


async def _healthz(_request: Request) -> Response:
    return PlainTextResponse("ok")
