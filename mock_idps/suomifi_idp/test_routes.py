"""Endpoints for tests only (faults_enabled): arm faults, reload the SP metadata."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from mock_idps.saml_common.web import fault_endpoint, reload_endpoint
from mock_idps.suomifi_idp.provider import idp_of


async def faults(request: Request) -> Response:
    board = idp_of(request).faults
    if board is None:  # not routed without faults, but be explicit
        return JSONResponse({"error": "faults disabled"}, status_code=404)
    return await fault_endpoint(request, {"": board})


async def reload_sp_metadata(request: Request) -> Response:
    return await reload_endpoint(idp_of(request).reload_sp_metadata)
