"""Endpoints for tests only (faults_enabled): arm faults per organisation, reload the SP
metadata."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from mock_idps.org_saml_idp.provider import idp_of
from mock_idps.saml_common.faults import FaultBoard
from mock_idps.saml_common.web import fault_endpoint, reload_endpoint


async def faults(request: Request) -> Response:
    entities = idp_of(request).entities
    boards: dict[str, FaultBoard] = {
        org_id: e.faults for org_id, e in entities.items() if e.faults is not None
    }
    return await fault_endpoint(request, boards)


async def reload_sp_metadata(request: Request) -> Response:
    return await reload_endpoint(idp_of(request).reload_sp_metadata)
