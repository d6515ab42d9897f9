"""One IdP's SAML metadata (a URL, fetched with httpx, or a file) and the pysaml2 `Saml2Client`
built on it, refreshed by the injected clock. Only `broker/upstream/saml*.py` import `saml2`.
"""

from __future__ import annotations

import asyncio
import logging
import warnings
from dataclasses import dataclass
from typing import Any, Final

import httpx

from broker.clock import Clock
from broker.errors import ConfigError, UpstreamUnavailableError
from broker.upstream.registry import IdP
from broker.upstream.saml_sp import ServiceProvider

with warnings.catch_warnings():  # see saml_sp: pysaml2's import-time CryptographyDeprecationWarning
    warnings.filterwarnings("ignore", "CFB has been moved")
    from saml2 import BINDING_HTTP_REDIRECT

__all__ = ["IdPClient", "MetadataCache"]

_RETRY_SECONDS: Final = 60.0
_TIMEOUT: Final = httpx.Timeout(10.0)

log = logging.getLogger("broker.upstream.saml")


@dataclass(frozen=True)
class IdPClient:
    """A `saml2.client.Saml2Client` that knows one IdP's metadata, and that IdP's entity id."""

    client: Any
    entity_id: str


class MetadataCache:
    """The IdP's metadata and the client built on it, kept `metadata_refresh_seconds` of the
    injected clock. A failed refresh keeps the previous client serving and retries a minute
    later; with no previous client it raises UpstreamUnavailableError.

    The metadata's own signature is not checked: it comes from the operator over HTTPS, or from
    a file the deployment put there."""

    def __init__(
        self,
        idp: IdP,
        sp: ServiceProvider,
        clock: Clock,
        *,
        acs_url: str,
        clock_skew: int,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        self._idp = idp
        self._saml = idp.saml_settings
        self._sp = sp
        self._clock = clock
        self._acs_url = acs_url
        self._skew = clock_skew
        self._http = http
        self._value: IdPClient | None = None
        self._next_load = 0.0
        self._lock = asyncio.Lock()

    async def get(self) -> IdPClient:
        if self._value is not None and self._clock.now() < self._next_load:
            return self._value
        async with self._lock:  # one load at a time; the others wait and reuse it
            if self._value is not None and self._clock.now() < self._next_load:
                return self._value
            try:
                self._value = await self._load()
            except UpstreamUnavailableError as exc:
                if self._value is None:
                    raise
                log.warning(
                    "idp %s: metadata refresh failed (%s); keeping the old", self._idp.id, exc
                )
                self._next_load = self._clock.now() + min(
                    _RETRY_SECONDS, self._saml.metadata_refresh_seconds
                )
                return self._value
            self._next_load = self._clock.now() + self._saml.metadata_refresh_seconds
            return self._value

    async def _load(self) -> IdPClient:
        xml = await self._metadata_text()
        client = await asyncio.to_thread(self._build, xml)
        log.info("idp %s: SAML metadata loaded", self._idp.id)
        return client

    async def _metadata_text(self) -> str:
        idp, url, path = self._idp.id, self._saml.metadata_url, self._saml.metadata_file
        if path is not None:
            try:
                return await asyncio.to_thread(path.read_text, encoding="utf-8")
            except OSError as exc:
                raise UpstreamUnavailableError(f"{idp}: metadata file: {exc.strerror}") from exc
        if url is None:
            raise UpstreamUnavailableError(f"{idp}: no metadata source")
        try:
            if self._http is not None:
                response = await self._http.get(url, timeout=_TIMEOUT)
            else:
                async with httpx.AsyncClient(timeout=_TIMEOUT) as client:
                    response = await client.get(url)
        except httpx.HTTPError as exc:
            raise UpstreamUnavailableError(f"{idp}: metadata: {type(exc).__name__}") from exc
        if response.status_code != 200:
            raise UpstreamUnavailableError(f"{idp}: metadata: HTTP {response.status_code}")
        return response.text

    def _build(self, xml: str) -> IdPClient:
        """Blocking: parses the metadata."""
        idp = self._idp.id
        settings = self._sp.settings(
            acs_url=self._acs_url,
            idp_metadata=[xml],
            want_response_signed=self._saml.want_response_signed,
            want_assertions_signed=self._saml.want_assertions_signed,
            allow_unsolicited=self._saml.allow_unsolicited,
        )
        settings["accepted_time_diff"] = self._skew
        try:
            config = self._sp.config(settings)
            client = self._sp.client(config)
            entity_id = self._entity_id(config.metadata)
        except (UpstreamUnavailableError, ConfigError):
            raise
        except Exception as exc:  # pysaml2 raises many kinds for bad metadata
            raise UpstreamUnavailableError(
                f"{idp}: metadata unusable: {type(exc).__name__}"
            ) from exc
        client.users = _NoPopulation()
        return IdPClient(client, entity_id)

    def _entity_id(self, metadata: Any) -> str:
        """The configured IdP, or the only one, with a signing key and a HTTP-Redirect SSO."""
        idp, wanted = self._idp.id, self._saml.entity_id
        found = list(metadata.identity_providers())
        if wanted is not None and wanted not in found:
            raise UpstreamUnavailableError(f"{idp}: metadata does not describe {wanted}")
        if wanted is None and len(found) != 1:
            raise UpstreamUnavailableError(f"{idp}: metadata has {len(found)} IdPs; set entity_id")
        entity_id = str(wanted or found[0])
        if not metadata.single_sign_on_service(entity_id, BINDING_HTTP_REDIRECT):
            raise UpstreamUnavailableError(f"{idp}: metadata has no HTTP-Redirect SSO service")
        if not metadata.certs(entity_id, "idpsso", "signing"):
            raise UpstreamUnavailableError(f"{idp}: metadata has no signing certificate")
        return entity_id


class _NoPopulation:
    """pysaml2 keeps every person whose assertion came unencrypted in an in-memory cache
    (`Saml2Client.users`); the broker keeps nothing of the kind in process memory."""

    def add_information_about_person(self, session_info: Any) -> None:
        return None
