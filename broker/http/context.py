"""What every route needs, built once at start-up and kept on `app.state`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

from starlette.requests import Request

from broker.frontend.oidc.provider import OIDCProvider
from broker.health import Readiness
from broker.http.cookies import LANGUAGE, CookieSigner
from broker.journey.account_page import AccountPage
from broker.journey.audit_trail import AuditTrail
from broker.journey.flow import LoginJourney
from broker.journey.idp_set import CurrentIdPs
from broker.journey.logout import RPLogout, UpstreamLogouts
from broker.journey.registration_flow import RegistrationFlow
from broker.journey.saml_service import SAMLService
from broker.metrics import Metrics
from broker.rate_limits import RateLimiter
from broker.settings import Settings
from broker.ui import Renderer, negotiate_locale


@dataclass
class BrokerContext:
    settings: Settings
    provider: OIDCProvider
    journey: LoginJourney
    cookies: CookieSigner
    renderer: Renderer
    limiter: RateLimiter
    metrics: Metrics
    readiness: Readiness
    audit: AuditTrail
    idps: CurrentIdPs
    account_page: AccountPage
    rp_logout: RPLogout
    registration: RegistrationFlow

    @property
    def logouts(self) -> UpstreamLogouts:
        """Single logout with the SAML IdPs of the current IdP set."""
        return self.idps.current.logouts

    @property
    def saml(self) -> SAMLService | None:
        """The SAML service provider of the current IdP set (None without SAML IdPs)."""
        return self.idps.current.saml


def broker(request: Request) -> BrokerContext:
    return cast(BrokerContext, request.app.state.broker)


def locale_of(request: Request, ui_locales: str | None = None) -> str:
    ctx = broker(request)
    return negotiate_locale(
        ui_locales or request.query_params.get("ui_locales"),
        ctx.cookies.read(request.cookies, LANGUAGE),
        request.headers.get("accept-language"),
    )
