"""The broker's SAML service provider, set up only when a SAML IdP is configured: its keys and
signed metadata, the context its connectors share, single logout with the SAML IdPs and the
background refresh of their metadata."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Coroutine, Mapping, Sequence
from typing import Any

import httpx

from broker import paths
from broker.clock import Clock
from broker.frontend.oidc.provider import OIDCProvider
from broker.journey.logout import UpstreamLogouts
from broker.journey.saml_service import SAMLService
from broker.journey.upstreams import Connector, SAMLContext
from broker.settings import Settings
from broker.store.base import Store
from broker.upstream.registry import IdP, Registry, RequestedAttribute
from broker.upstream.saml.connector import SAMLConnector
from broker.upstream.saml.sp import (
    Contact,
    EntityAttribute,
    Organisation,
    ServiceProvider,
    sp_metadata_xml,
)
from broker.upstream.saml.sp_settings import SAMLServiceProviderSettings


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
    acs_url = settings.issuer + paths.SAML_ACS
    names = sp_settings.organisation().model_dump()
    url = sp_settings.organisation_url or settings.issuer
    service_names = sp_settings.service_names.model_dump() if sp_settings.service_names else names
    describe = functools.partial(
        _describe,
        acs_url=acs_url,
        slo_url=settings.issuer + paths.SAML_SLO,
        requested=requested_attributes(saml_idps),
        organisation=Organisation(names, dict.fromkeys(names, url)),
        contacts=_contacts(sp_settings, names["fi"]),
        service_names=service_names,
        entity_attributes=[
            EntityAttribute(a.name, a.values, a.friendly_name)
            for a in sp_settings.entity_attributes
        ],
    )
    context = SAMLContext(sp, acs_url, store.replay.remember_jti)
    return await asyncio.to_thread(SAMLService, context, describe)


def _describe(
    sp: ServiceProvider,
    *,
    acs_url: str,
    slo_url: str,
    requested: Sequence[RequestedAttribute],
    organisation: Organisation,
    contacts: Sequence[Contact],
    service_names: Mapping[str, str],
    entity_attributes: Sequence[EntityAttribute],
) -> bytes:
    return sp_metadata_xml(
        sp.entity_id,
        acs_url,
        slo_url,
        sp.keys,
        requested,
        organisation=organisation,
        contacts=contacts,
        service_name=service_names["en"],
        service_names=service_names,
        xmlsec_binary=sp.xmlsec_binary,
        entity_attributes=entity_attributes,
        crypto_backend=sp.crypto_backend,
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
        slo_url=settings.issuer + paths.SAML_SLO,
        ttl=settings.tokens.transaction_ttl,
        clock_skew=settings.tokens.clock_skew,
    )


def metadata_refreshers(
    settings: Settings, connectors: Mapping[str, Connector]
) -> list[Coroutine[Any, Any, None]]:
    """One background loop per SAML IdP keeping its metadata fresh (the lifespan runs them)."""
    every = settings.saml_sp.metadata_check_seconds
    return [
        connector.keep_metadata_fresh(every)
        for connector in connectors.values()
        if isinstance(connector, SAMLConnector)
    ]
