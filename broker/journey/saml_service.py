"""The broker's SAML service provider, set up only when a SAML IdP is configured: its keys, the
shared context for SAML connectors, its signed metadata for the IdPs' operators, and single
logout with the SAML IdPs."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import httpx

from broker.clock import Clock
from broker.frontend.oidc.provider import OIDCProvider
from broker.journey.flow import ACS_PATH, SLO_PATH
from broker.journey.logout import SPSigner, UpstreamLogouts
from broker.journey.upstreams import Connector, SAMLContext
from broker.settings import SAMLServiceProviderSettings, Settings
from broker.store.base import Store
from broker.upstream.registry import IdP, Registry, RequestedAttribute
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
    """None without SAML IdPs (no SP key is made then). Key generation and metadata signing
    run in a thread: they take seconds the first time."""
    saml_idps = [idp for idp in registry.idps() if idp.saml is not None]
    if not saml_idps:
        return None
    sp_settings = settings.saml_sp
    sp = await asyncio.to_thread(
        ServiceProvider.load,
        settings.saml_entity_id,
        sp_settings.key_directory,
        sp_settings.crypto_backend,
    )
    acs_url = settings.issuer + ACS_PATH
    names = sp_settings.organisation().model_dump()
    url = sp_settings.organisation_url or settings.issuer
    service_names = sp_settings.service_names.model_dump() if sp_settings.service_names else names
    metadata = await asyncio.to_thread(
        sp_metadata_xml,
        sp.entity_id,
        acs_url,
        settings.issuer + SLO_PATH,
        sp.keys,
        requested_attributes(saml_idps),
        organisation=Organisation(names, dict.fromkeys(names, url)),
        contacts=_contacts(sp_settings, names["fi"]),
        service_name=service_names["en"],
        service_names=service_names,
        xmlsec_binary=sp.xmlsec_binary,
        crypto_backend=sp.crypto_backend,
    )
    key = await asyncio.to_thread(sp.keys.private_key)
    return SAMLService(
        SAMLContext(sp, acs_url, store.remember_jti), metadata, SPSigner(sp.entity_id, key)
    )


def requested_attributes(idps: Sequence[IdP]) -> list[RequestedAttribute]:
    """Every attribute any SAML IdP asks for, once (the broker is one SP for all of them),
    sorted by Name; required if any IdP requires it."""
    found: dict[str, RequestedAttribute] = {}
    for idp in idps:
        for wanted in idp.saml_settings.requested_attributes:
            known = found.get(wanted.name)
            found[wanted.name] = RequestedAttribute(
                name=wanted.name,
                friendly_name=(known.friendly_name if known else None) or wanted.friendly_name,
                required=wanted.required or (known is not None and known.required),
            )
    return [found[name] for name in sorted(found)]


def _contacts(sp: SAMLServiceProviderSettings, company: str) -> list[Contact]:
    """The technical and support ContactPersons, e-mail as a mailto: URI (anyURI in the schema)."""
    wanted = (("technical", sp.contact_email), ("support", sp.support_email))
    return [Contact(kind, f"mailto:{email}", company=company) for kind, email in wanted if email]


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
