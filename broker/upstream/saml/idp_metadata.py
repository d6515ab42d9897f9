"""One IdP's SAML metadata (a URL, fetched with httpx, or a file), checked (signature, validity)
and the pysaml2 `Saml2Client` built on it, refreshed in the background by the injected clock.
Only `broker/upstream/saml/pysaml2.py` imports `saml2`.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import httpx

from broker.clock import Clock
from broker.errors import ConfigError, UpstreamUnavailableError
from broker.upstream.registry import IdP
from broker.upstream.saml.decryption import EncryptionPolicy
from broker.upstream.saml.metadata_document import Validity, parse_metadata, validity
from broker.upstream.saml.metadata_signature import check_metadata_signature
from broker.upstream.saml.pysaml2 import BINDING_HTTP_REDIRECT, UnsupportedBinding
from broker.upstream.saml.sp import ServiceProvider

__all__ = ["IdPClient", "MetadataCache"]

_RETRY_SECONDS: Final = 60.0
_TIMEOUT: Final = httpx.Timeout(10.0)

log = logging.getLogger("broker.upstream.saml.connector")

_FileStamp = tuple[int, int] | None
"""A metadata file's (mtime in ns, size); None if it cannot be read, and before the first load."""


@dataclass(frozen=True)
class IdPClient:
    """A `saml2.client.Saml2Client` that knows one IdP's metadata, and that IdP's entity id."""

    client: Any
    entity_id: str
    metadata: str = ""
    keys_version: str = ""


@dataclass(frozen=True)
class _Loaded:
    """Accepted metadata: its client, its validity (validUntil, cacheDuration, when published)
    and when the background refresh is to fetch it again."""

    client: IdPClient
    validity: Validity
    refresh_at: float

    @property
    def valid_until(self) -> float | None:
        return self.validity.valid_until


class MetadataCache:
    """The IdP's metadata, accepted, and the client built on it.

    Accepted means: no DOCTYPE; signed on its root by one of `metadata_signing_certificates`
    within its validity period, when any are configured (`metadata_signature`, by the SP's
    crypto backend); validUntil not passed; not older than the metadata serving now (published
    or valid until earlier, `metadata_document`): a replayed old document, still validly
    signed, could bring back a retired key. The refusal is logged and the held metadata keeps
    serving; after a restart nothing is held, so an operator can go back on purpose. The
    injected clock decides everything. validUntil has no clock
    skew: pysaml2 checks it again, strictly by the system clock, when it parses, and metadata
    is valid for days, so a minute's tolerance would only make the two checks disagree.

    `refresh_if_due` (the background, `keep_fresh`) loads again at the earliest of
    `metadata_refresh_seconds`, the metadata's cacheDuration and its validUntil, or when a
    metadata file changed (mtime or size). A failed refresh keeps the old metadata serving while
    it is valid, and is retried after 60 s, doubling up to `metadata_refresh_seconds`. `get`
    serves the latest valid metadata and loads only when there is none (never loaded, or past
    validUntil): then a login pays for the fetch, and an IdP whose metadata cannot be had is
    unavailable (UpstreamUnavailableError, the user's error page)."""

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
        self._encryption = EncryptionPolicy(frozenset(self._saml.encryption_algorithms))
        self._sp = sp
        self._clock = clock
        self._acs_url = acs_url
        self._skew = clock_skew
        self._http = http
        self._loaded: _Loaded | None = None
        self._next_attempt = 0.0
        self._failures = 0
        self._seen_stamp: _FileStamp = None
        self._warned_no_valid_until = False
        self._lock = asyncio.Lock()

    async def get(self) -> IdPClient:
        if (loaded := self._usable()) is not None and self._current_keys(loaded):
            return loaded.client
        async with self._lock:  # one load at a time; the others wait and reuse it
            if (loaded := self._usable()) is None:
                return (await self._reload()).client
            if not self._current_keys(loaded):
                # An SP key rollover step: the same metadata, the SP's new key set.
                client = await asyncio.to_thread(self._build, loaded.client.metadata)
                self._loaded = loaded = dataclasses.replace(loaded, client=client)
            return loaded.client

    def _current_keys(self, loaded: _Loaded) -> bool:
        return loaded.client.keys_version == self._sp.keys.version

    async def refresh_if_due(self) -> None:
        """Load again if it is time (never raises for the IdP's sake: a failure is logged)."""
        if not await self._due():
            return
        async with self._lock:
            if not await self._due():  # a login loaded it meanwhile
                return
            with contextlib.suppress(UpstreamUnavailableError):
                await self._reload()

    async def keep_fresh(self, every: float) -> None:
        """Forever: `refresh_if_due`, then sleep `every` seconds (the app's background task)."""
        while True:
            try:
                await self.refresh_if_due()
            except Exception:  # a bug must not stop the refreshing for good
                log.exception("idp %s: metadata refresh crashed; will retry", self._idp.id)
            await asyncio.sleep(every)

    @property
    def usable(self) -> bool:
        """Whether metadata is held and not past its validUntil (by the injected clock)."""
        return self._usable() is not None

    def _usable(self) -> _Loaded | None:
        loaded = self._loaded
        if loaded is None:
            return None
        if loaded.valid_until is not None and self._clock.now() >= loaded.valid_until:
            return None
        return loaded

    async def _due(self) -> bool:
        if self._clock.now() >= self._next_attempt:
            return True
        if (path := self._saml.metadata_file) is None:
            return False
        return await asyncio.to_thread(_file_stamp, path) != self._seen_stamp

    async def _reload(self) -> _Loaded:
        try:
            loaded = await self._load()
        except UpstreamUnavailableError as exc:
            self._failed(exc)
            raise
        self._loaded, self._failures, self._next_attempt = loaded, 0, loaded.refresh_at
        return loaded

    def _failed(self, exc: UpstreamUnavailableError) -> None:
        self._failures += 1
        interval = self._saml.metadata_refresh_seconds
        delay = min(_RETRY_SECONDS * 2 ** min(self._failures - 1, 16), interval)
        self._next_attempt = self._clock.now() + delay
        kept = "keeping the old" if self._usable() else "the IdP is unavailable"
        log.warning(
            "idp %s: metadata refresh failed (%s); %s, next try in %.0f s",
            self._idp.id,
            exc,
            kept,
            delay,
        )

    async def _load(self) -> _Loaded:
        xml = await self._metadata_bytes()
        loaded = await asyncio.to_thread(self._accept, xml, self._usable())
        log.info("idp %s: SAML metadata loaded", self._idp.id)
        return loaded

    async def _metadata_bytes(self) -> bytes:
        idp, url, path = self._idp.id, self._saml.metadata_url, self._saml.metadata_file
        if path is not None:
            self._seen_stamp = await asyncio.to_thread(_file_stamp, path)
            try:
                return await asyncio.to_thread(path.read_bytes)
            except OSError as exc:
                raise UpstreamUnavailableError(f"{idp}: metadata file: {exc.strerror}") from exc
        if url is None:
            raise UpstreamUnavailableError(f"{idp}: no metadata source")
        try:
            async with contextlib.AsyncExitStack() as own:
                client = self._http  # the app's, or one of its own for this fetch
                if client is None:
                    client = await own.enter_async_context(httpx.AsyncClient())
                response = await client.get(url, timeout=_TIMEOUT)
        except httpx.HTTPError as exc:
            raise UpstreamUnavailableError(f"{idp}: metadata: {type(exc).__name__}") from exc
        if response.status_code != 200:
            raise UpstreamUnavailableError(f"{idp}: metadata: HTTP {response.status_code}")
        return response.content

    def _accept(self, xml: bytes, held: _Loaded | None) -> _Loaded:
        """Blocking (XML signature, pysaml2): the checks, then the client, then the next
        refresh. `held` is the metadata serving now, if any: an older document is refused."""
        idp = self._idp.id
        root = parse_metadata(idp, xml)
        now = self._clock.now()
        if certificates := self._saml.metadata_signing_certificates:
            check_metadata_signature(
                idp,
                xml,
                root,
                certificates,
                now=now,
                skew=self._skew,
                backend=self._sp.crypto_backend,
            )
        found = validity(idp, root, self._saml.entity_id)
        if found.valid_until is not None and now >= found.valid_until:
            raise UpstreamUnavailableError(f"{idp}: metadata expired (validUntil passed)")
        if held is not None and (older := found.older_than(held.validity)):
            raise UpstreamUnavailableError(
                f"{idp}: metadata older than the one held ({older}), a rollback"
            )
        if found.valid_until is None and not self._warned_no_valid_until:
            self._warned_no_valid_until = True
            log.warning("idp %s: metadata has no validUntil; it serves until replaced", idp)
        try:
            text = xml.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise UpstreamUnavailableError(f"{idp}: metadata is not UTF-8") from exc
        client = self._build(text)
        return _Loaded(client, found, now + self._keep_for(found, now))

    def _keep_for(self, found: Validity, now: float) -> float:
        """min(metadata_refresh_seconds, cacheDuration, validUntil - now), at least 0."""
        candidates = [self._saml.metadata_refresh_seconds]
        if found.cache_duration is not None:
            candidates.append(found.cache_duration)
        if found.valid_until is not None:
            candidates.append(found.valid_until - now)
        return max(0.0, min(candidates))

    def _build(self, xml: str) -> IdPClient:
        """Blocking: parses the metadata."""
        idp = self._idp.id
        keys = self._sp.keys
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
            client = self._sp.client(config, self._encryption)
            entity_id = self._entity_id(config.metadata)
        except (UpstreamUnavailableError, ConfigError):
            raise
        except Exception as exc:  # pysaml2 raises many kinds for bad metadata
            raise UpstreamUnavailableError(
                f"{idp}: metadata unusable: {type(exc).__name__}"
            ) from exc
        client.users = _NoPopulation()
        return IdPClient(client, entity_id, xml, keys.version)

    def _entity_id(self, metadata: Any) -> str:
        """The configured IdP, or the only one, with a signing key and a HTTP-Redirect SSO."""
        idp, wanted = self._idp.id, self._saml.entity_id
        found = list(metadata.identity_providers())
        if wanted is not None and wanted not in found:
            raise UpstreamUnavailableError(f"{idp}: metadata does not describe {wanted}")
        if wanted is None and len(found) != 1:
            raise UpstreamUnavailableError(f"{idp}: metadata has {len(found)} IdPs; set entity_id")
        entity_id = str(wanted or found[0])
        try:  # pysaml2 raises when the IdP has SSO services, none of them HTTP-Redirect
            redirect_services = metadata.single_sign_on_service(entity_id, BINDING_HTTP_REDIRECT)
        except UnsupportedBinding:
            redirect_services = []
        if not redirect_services:
            raise UpstreamUnavailableError(f"{idp}: metadata has no HTTP-Redirect SSO service")
        if not metadata.certs(entity_id, "idpsso", "signing"):
            raise UpstreamUnavailableError(f"{idp}: metadata has no signing certificate")
        return entity_id


def _file_stamp(path: Path) -> _FileStamp:
    try:
        found = path.stat()
    except OSError:
        return None
    return (found.st_mtime_ns, found.st_size)


class _NoPopulation:
    """pysaml2 keeps every person whose assertion came unencrypted in an in-memory cache
    (`Saml2Client.users`); the broker keeps nothing of the kind in process memory."""

    def add_information_about_person(self, session_info: Any) -> None:
        return None
