"""The broker's SAML service provider, set up only when a SAML IdP is configured: its keys, the
shared context for SAML connectors, its signed metadata for the IdPs' operators, and single
logout with the SAML IdPs."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass

import httpx

from broker.clock import Clock
from broker.frontend.oidc.provider import OIDCProvider
from broker.journey.flow import ACS_PATH, SLO_PATH
from broker.journey.logout import SPSigner, UpstreamLogouts
from broker.journey.upstreams import Connector, SAMLContext
from broker.settings import Settings
from broker.store.base import Store
from broker.upstream.registry import Registry
from broker.upstream.saml import SAMLConnector
from broker.upstream.saml_sp import Contact, Organisation, ServiceProvider, sp_metadata_xml


@dataclass(frozen=True)
class SAMLService:
    context: SAMLContext
    metadata: bytes
    signer: SPSigner


async def start_saml_service(
    settings: Settings, registry: Registry, store: Store
) -> SAMLService | None:
    """None without SAML IdPs (no SP key is made then). Key generation and xmlsec1 run in a
    thread: they take seconds the first time."""
    saml_idps = [idp for idp in registry.idps() if idp.saml is not None]
    if not saml_idps:
        return None
    sp_settings = settings.saml_sp
    sp = await asyncio.to_thread(
        ServiceProvider.load, settings.saml_entity_id, sp_settings.key_directory
    )
    acs_url = settings.issuer + ACS_PATH
    requested = sorted({a for idp in saml_idps for a in idp.saml_settings.requested_attributes})
    organisation = Organisation(
        names={
            "fi": sp_settings.organisation_name,
            "sv": sp_settings.organisation_name,
            "en": sp_settings.organisation_name,
        },
        urls={"fi": sp_settings.organisation_url or settings.issuer},
    )
    contacts = (
        [Contact("technical", sp_settings.contact_email)] if sp_settings.contact_email else []
    )
    metadata = await asyncio.to_thread(
        sp_metadata_xml,
        sp.entity_id,
        acs_url,
        settings.issuer + SLO_PATH,
        sp.keys,
        requested,
        organisation=organisation,
        contacts=contacts,
        xmlsec_binary=sp.xmlsec_binary,
    )
    key = await asyncio.to_thread(sp.keys.private_key)
    return SAMLService(
        SAMLContext(sp, acs_url, store.remember_jti), metadata, SPSigner(sp.entity_id, key)
    )


def upstream_logouts(
    settings: Settings,
    saml: SAMLService | None,
    provider: OIDCProvider,
    connectors: Mapping[str, Connector],
    http: httpx.AsyncClient,
    clock: Clock,
) -> UpstreamLogouts:
    """Single logout with every SAML IdP (none without the SAML service provider)."""
    saml_connectors = {
        idp_id: connector
        for idp_id, connector in connectors.items()
        if isinstance(connector, SAMLConnector)
    }
    return UpstreamLogouts(
        provider,
        clock,
        http,
        saml_connectors,
        saml.signer if saml else None,
        slo_url=settings.issuer + SLO_PATH,
        ttl=settings.tokens.transaction_ttl,
        clock_skew=settings.tokens.clock_skew,
    )
