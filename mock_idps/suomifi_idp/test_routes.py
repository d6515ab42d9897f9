"""Endpoints for tests only (faults_enabled): arm faults, reload the SP metadata, log this
browser's session out at an SP (the mock's own LogoutRequest, IdP-initiated), and roll the
signing key one step."""

from __future__ import annotations

import json
import logging

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from mock_idps.saml_common.entity import MetadataError
from mock_idps.saml_common.keys import RolloverError
from mock_idps.saml_common.logout import LogoutError, idp_logout_request
from mock_idps.saml_common.web import fault_endpoint, reload_endpoint
from mock_idps.suomifi_idp.provider import idp_of
from mock_idps.suomifi_idp.sessions import end_session, read_session

log = logging.getLogger("mock_idps.suomifi_idp")


async def faults(request: Request) -> Response:
    board = idp_of(request).faults
    if board is None:  # not routed without faults, but be explicit
        return JSONResponse({"error": "faults disabled"}, status_code=404)
    return await fault_endpoint(request, {"": board})


async def reload_sp_metadata(request: Request) -> Response:
    return await reload_endpoint(idp_of(request).reload_sp_metadata)


async def key_rollover(request: Request) -> Response:
    """POST `{"step": "publish" | "switch" | "retire"}`: one step of a signing-key rollover;
    answers the signing key and the published ones (certificate file names)."""
    try:
        step = json.loads(await request.body()).get("step")
    except (ValueError, AttributeError):
        return JSONResponse({"error": "body must be a JSON object"}, status_code=400)
    idp = idp_of(request)
    try:
        state = await run_in_threadpool(idp.roll_key, str(step))
    except RolloverError as exc:
        return JSONResponse({"error": str(exc)}, status_code=409)
    except MetadataError as exc:
        return JSONResponse({"error": str(exc)}, status_code=502)
    log.info("signing key rollover: %s", step)
    return JSONResponse(state)


async def idp_logout(request: Request) -> Response:
    """GET ?sp=ENTITY_ID: end this browser's session here and send a LogoutRequest to the SP."""
    idp = idp_of(request)
    session = read_session(request, idp.signer, idp.now())
    if session is None:
        return JSONResponse({"error": "no session in this browser"}, status_code=400)
    sp = request.query_params.get("sp", "")
    name_id = idp.signer.name_id(session.session_index, sp)
    try:
        url = await run_in_threadpool(
            idp_logout_request, idp.server, sp, name_id, session.session_index
        )
    except LogoutError as exc:
        return JSONResponse({"error": str(exc)}, status_code=400)
    log.info("IdP-initiated LogoutRequest: sp=%s", sp)
    response = RedirectResponse(url, status_code=303, headers={"Cache-Control": "no-store"})
    end_session(response, idp.secure_cookies)
    return response
