"""Probing an upstream IdP for real, the way a login would meet it, without logging anyone in:
`sote-broker idps check` prints the answers, and the background probe (`broker.notices.probes`)
turns them into automatic notices.

    OIDC  the discovery document fetched, its `issuer` the configured one, its `jwks_uri`
          fetched and holding at least one usable signing key
    SAML  the metadata fetched (URL) or read (file), signed by a configured certificate where
          the config asks for one, its validUntil not passed nor within `warn_seconds`, and a
          signing certificate in it not expired nor expiring within `warn_seconds`

Each answer is `ok`, `warning` or `error` with a reason in plain words. A reason names the IdP's
URLs and what was wrong, never a secret: a probe reads no client secret.
"""

from __future__ import annotations

import asyncio
import datetime
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal
from xml.etree.ElementTree import Element

import httpx
from cryptography import x509

from broker.clock import Clock
from broker.errors import UpstreamError
from broker.upstream.oidc import jwks_signing_keys
from broker.upstream.registry import IdP, OIDCUpstream, SAMLUpstream
from broker.upstream.saml.crypto import CryptoBackendName
from broker.upstream.saml.metadata_document import parse_metadata, validity
from broker.upstream.saml.metadata_signature import check_metadata_signature

__all__ = ["IdPProber", "ProbeResult", "Status"]

Status = Literal["ok", "warning", "error"]
_MD: Final = "urn:oasis:names:tc:SAML:2.0:metadata"
_DS: Final = "http://www.w3.org/2000/09/xmldsig#"
_TIMEOUT: Final = 10.0


@dataclass(frozen=True)
class ProbeResult:
    """What one probe found; `valid_until` and `signing_expires` (epoch seconds) for SAML
    metadata when it could be read."""

    idp_id: str
    status: Status
    reason: str
    valid_until: float | None = None
    signing_expires: float | None = None

    @property
    def unreachable_or_expiring(self) -> bool:
        """Whether the background probe raises the automatic notice for this answer."""
        return self.status != "ok"


class _ProbeError(Exception):
    """One failed step of a probe: its reason."""


class IdPProber:
    def __init__(
        self,
        http: httpx.AsyncClient,
        clock: Clock,
        *,
        warn_seconds: float,
        crypto_backend: CryptoBackendName,
        clock_skew: int,
    ) -> None:
        self._http = http
        self._clock = clock
        self._warn = warn_seconds
        self._backend = crypto_backend
        self._skew = clock_skew

    async def probe_all(self, idps: Iterable[IdP]) -> list[ProbeResult]:
        """Every IdP at once (each waits on its own server)."""
        return list(await asyncio.gather(*(self.probe(idp) for idp in idps)))

    async def probe(self, idp: IdP) -> ProbeResult:
        try:
            if idp.oidc is not None:
                return await self._probe_oidc(idp.id, idp.oidc)
            return await self._probe_saml(idp.id, idp.saml_settings)
        except _ProbeError as exc:
            return ProbeResult(idp.id, "error", str(exc))

    # -- OIDC ---------------------------------------------------------------------------------
    async def _probe_oidc(self, idp_id: str, oidc: OIDCUpstream) -> ProbeResult:
        url = oidc.metadata_url
        doc = await self._json("discovery document", url, oidc.timeout_seconds)
        if doc.get("issuer") != oidc.issuer:
            found = doc.get("issuer")
            raise _ProbeError(
                f"discovery document at {url}: issuer {found!r} is not the configured "
                f"{oidc.issuer!r}"
            )
        jwks_uri = doc.get("jwks_uri")
        if not isinstance(jwks_uri, str) or not jwks_uri:
            raise _ProbeError(f"discovery document at {url}: no jwks_uri")
        keys = jwks_signing_keys(await self._json("JWKS", jwks_uri, oidc.timeout_seconds))
        if not keys:
            raise _ProbeError(f"JWKS at {jwks_uri}: no usable signing key")
        return ProbeResult(idp_id, "ok", f"discovery and JWKS fetched, {len(keys)} signing key(s)")

    async def _json(self, what: str, url: str, seconds: float) -> dict[str, Any]:
        body = await self._get(what, url, seconds)
        try:
            doc = json.loads(body)
        except ValueError as exc:
            raise _ProbeError(f"{what} at {url}: not JSON") from exc
        if not isinstance(doc, dict):
            raise _ProbeError(f"{what} at {url}: not a JSON object")
        return doc

    async def _get(self, what: str, url: str, seconds: float) -> bytes:
        try:
            response = await self._http.get(url, timeout=seconds)
        except httpx.TimeoutException as exc:
            raise _ProbeError(f"{what} at {url}: unreachable (timed out)") from exc
        except httpx.ConnectError as exc:
            raise _ProbeError(f"{what} at {url}: unreachable (cannot connect)") from exc
        except httpx.HTTPError as exc:
            raise _ProbeError(f"{what} at {url}: unreachable ({type(exc).__name__})") from exc
        if response.status_code != 200:
            raise _ProbeError(f"{what} at {url}: HTTP {response.status_code}")
        return response.content

    # -- SAML ---------------------------------------------------------------------------------
    async def _probe_saml(self, idp_id: str, saml: SAMLUpstream) -> ProbeResult:
        if saml.metadata_file is not None:
            source = str(saml.metadata_file)
            try:
                xml = await asyncio.to_thread(saml.metadata_file.read_bytes)
            except OSError as exc:
                raise _ProbeError(f"metadata file {source}: cannot read ({exc.strerror})") from exc
        else:
            source = str(saml.metadata_url)
            xml = await self._get("metadata", source, _TIMEOUT)
        return await asyncio.to_thread(self._check_metadata, idp_id, saml, source, xml)

    def _check_metadata(
        self, idp_id: str, saml: SAMLUpstream, source: str, xml: bytes
    ) -> ProbeResult:
        """Blocking (XML signature): the document's checks, then its dates."""
        now = self._clock.now()
        try:
            root = parse_metadata(idp_id, xml)
            if saml.metadata_signing_certificates:
                check_metadata_signature(
                    idp_id,
                    xml,
                    root,
                    saml.metadata_signing_certificates,
                    now=now,
                    skew=self._skew,
                    backend=self._backend,
                )
            until = validity(idp_id, root, saml.entity_id).valid_until
        except UpstreamError as exc:
            raise _ProbeError(f"metadata from {source}: {_without_idp(idp_id, exc)}") from exc
        descriptors = _idp_descriptors(root, saml.entity_id)
        if not descriptors:
            wanted = saml.entity_id or "an IdP"
            raise _ProbeError(f"metadata from {source}: does not describe {wanted}")
        signing = _latest_expiry(_signing_certificates(descriptors))
        problems = [
            *_dated("metadata validUntil", until, now, self._warn),
            *_dated("signing certificate", signing, now, self._warn),
        ]
        if signing is None:
            problems.append(("error", "no signing certificate in the metadata"))
        status: Status = "ok"
        for level, _ in problems:
            status = "error" if level == "error" or status == "error" else "warning"
        reason = "; ".join(text for _, text in problems) or "metadata valid" + (
            "" if until is not None else " (it has no validUntil)"
        )
        return ProbeResult(idp_id, status, reason, until, signing)


def _without_idp(idp_id: str, exc: Exception) -> str:
    """The broker's own message without its `<idp>: ` prefix (the report names the IdP)."""
    return str(exc).removeprefix(f"{idp_id}: ")


def _dated(what: str, moment: float | None, now: float, warn: float) -> list[tuple[Status, str]]:
    if moment is None:
        return []
    when = _iso(moment)
    if moment <= now:
        return [("error", f"{what} {when} has passed")]
    if moment - now <= warn:
        days = (moment - now) / 86400
        return [("warning", f"{what} {when} is in {days:.1f} days")]
    return []


def _iso(moment: float) -> str:
    return datetime.datetime.fromtimestamp(moment, datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")


def _idp_descriptors(root: Element, entity_id: str | None) -> list[Element]:
    """The IDPSSODescriptors of `entity_id` (or of every entity, without one)."""
    entities = (
        [root]
        if root.tag == f"{{{_MD}}}EntityDescriptor"
        else root.iter(f"{{{_MD}}}EntityDescriptor")
    )
    return [
        role
        for entity in entities
        if entity_id is None or entity.get("entityID") == entity_id
        for role in entity.findall(f"{{{_MD}}}IDPSSODescriptor")
    ]


def _signing_certificates(descriptors: Sequence[Element]) -> list[x509.Certificate]:
    """The certificates of KeyDescriptors for signing (or for any use); unreadable ones are
    skipped (pysaml2 would not use them either)."""
    found = []
    for descriptor in descriptors:
        for key in descriptor.findall(f"{{{_MD}}}KeyDescriptor"):
            if key.get("use", "signing") != "signing":
                continue
            for element in key.iter(f"{{{_DS}}}X509Certificate"):
                body = "".join((element.text or "").split())
                pem = f"-----BEGIN CERTIFICATE-----\n{body}\n-----END CERTIFICATE-----\n"
                try:
                    found.append(x509.load_pem_x509_certificate(pem.encode()))
                except ValueError:
                    continue
    return found


def _latest_expiry(certificates: Sequence[x509.Certificate]) -> float | None:
    """The latest notAfter: while an IdP rolls its key, the newer certificate is what counts."""
    return max((c.not_valid_after_utc.timestamp() for c in certificates), default=None)
