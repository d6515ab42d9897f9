"""Probing an IdP the way a login would meet it (`sote-broker idps check`, the background probe):
OIDC discovery and JWKS over httpx.MockTransport, SAML metadata signed by xmlsec1 with keys made
here, dates judged by a FrozenClock. Each answer's status and exact reason are what operators
read."""

from __future__ import annotations

import datetime
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from joserfc.jwk import RSAKey

from broker.clock import FrozenClock
from broker.upstream.probe import IdPProber, ProbeResult
from broker.upstream.registry import IdP
from mock_idps.saml_common.keys import KeyPair, load_or_create_pair
from tests.upstream.saml.metadata_forge import MD, entity, signed, unsigned

ISSUER = "https://hus.example"
DISCOVERY = ISSUER + "/.well-known/openid-configuration"
JWKS = ISSUER + "/jwks"
IDP_ENTITY = "https://tunnistus.test/idp"
DAY = 86400.0
NOW = datetime.datetime(2030, 1, 1, tzinfo=datetime.UTC).timestamp()

Handler = Callable[[httpx.Request], httpx.Response]


def prober(handler: Handler, clock: FrozenClock | None = None, warn: float = 7 * DAY) -> IdPProber:
    http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    return IdPProber(
        http,
        clock or FrozenClock(NOW),
        warn_seconds=warn,
        crypto_backend="xmlsec1",
        clock_skew=60,
    )


def oidc_idp(**oidc: Any) -> IdP:
    return IdP.model_validate(
        {
            "id": "hus",
            "names": {"fi": "HUS", "sv": "HUS", "en": "HUS"},
            "route": "organisation",
            "protocol": "oidc",
            "oidc": {"issuer": ISSUER, "client_id": "c", "client_secret": {"env": "S"}} | oidc,
        }
    )


def saml_idp(**saml: Any) -> IdP:
    return IdP.model_validate(
        {
            "id": "suomifi",
            "names": {"fi": "Suomi.fi", "sv": "Suomi.fi", "en": "Suomi.fi"},
            "route": "personal",
            "protocol": "saml",
            "saml": saml,
        }
    )


def jwk_set(*, use: str = "sig") -> dict[str, Any]:
    key = RSAKey.generate_key(2048, {"kid": "k1", "use": use})
    return {"keys": [key.as_dict(private=False)]}


def answers(**by_url: Any) -> Handler:
    """Each URL's answer: a JSON-able value, bytes, an httpx.Response, or an exception."""

    def handle(request: httpx.Request) -> httpx.Response:
        found = by_url.get(str(request.url), httpx.Response(404))
        if isinstance(found, Exception):
            raise found
        if isinstance(found, httpx.Response):
            return found
        if isinstance(found, bytes):
            return httpx.Response(200, content=found)
        return httpx.Response(200, content=json.dumps(found).encode())

    return handle


def oidc_answers(**overrides: Any) -> Handler:
    found: dict[str, Any] = {
        DISCOVERY: {"issuer": ISSUER, "jwks_uri": JWKS},
        JWKS: jwk_set(),
    }
    return answers(**(found | overrides))


async def probe_oidc(handler: Handler, **oidc: Any) -> ProbeResult:
    return await prober(handler).probe(oidc_idp(**oidc))


# -- OIDC ----------------------------------------------------------------------------------------


async def test_a_working_oidc_idp_is_ok() -> None:
    result = await probe_oidc(oidc_answers())
    assert result == ProbeResult("hus", "ok", "discovery and JWKS fetched, 1 signing key(s)")
    assert result.unreachable_or_expiring is False


async def test_the_configured_discovery_url_is_the_one_fetched() -> None:
    url = "https://hus.example/other/discovery"
    result = await probe_oidc(
        answers(**{url: {"issuer": ISSUER, "jwks_uri": JWKS}, JWKS: jwk_set()}), discovery_url=url
    )
    assert result.status == "ok"


async def test_another_issuer_in_discovery_is_an_error() -> None:
    handler = oidc_answers(**{DISCOVERY: {"issuer": "https://evil.example", "jwks_uri": JWKS}})
    result = await probe_oidc(handler)
    assert result == ProbeResult(
        "hus",
        "error",
        f"discovery document at {DISCOVERY}: issuer 'https://evil.example' is not the "
        f"configured '{ISSUER}'",
    )
    assert result.unreachable_or_expiring is True


@pytest.mark.parametrize("jwks_uri", [None, "", 7])
async def test_discovery_without_a_jwks_uri_is_an_error(jwks_uri: Any) -> None:
    doc = {"issuer": ISSUER} | ({} if jwks_uri is None else {"jwks_uri": jwks_uri})
    result = await probe_oidc(oidc_answers(**{DISCOVERY: doc}))
    assert (result.status, result.reason) == (
        "error",
        f"discovery document at {DISCOVERY}: no jwks_uri",
    )


@pytest.mark.parametrize("jwks", [{"keys": []}, jwk_set(use="enc"), {"no": "keys"}])
async def test_a_jwks_without_a_signing_key_is_an_error(jwks: dict[str, Any]) -> None:
    result = await probe_oidc(oidc_answers(**{JWKS: jwks}))
    assert (result.status, result.reason) == ("error", f"JWKS at {JWKS}: no usable signing key")


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        (b"<html>", "not JSON"),
        (b"[1, 2]", "not a JSON object"),
        (httpx.Response(503), "HTTP 503"),
        (httpx.Response(201, json={"issuer": ISSUER}), "HTTP 201"),
        (httpx.ConnectTimeout("slow"), "unreachable (timed out)"),
        (httpx.ReadTimeout("slow"), "unreachable (timed out)"),
        (httpx.ConnectError("refused"), "unreachable (cannot connect)"),
        (httpx.RemoteProtocolError("garbled"), "unreachable (RemoteProtocolError)"),
    ],
)
async def test_a_discovery_document_that_cannot_be_had_is_an_error(
    answer: Any, reason: str
) -> None:
    result = await probe_oidc(oidc_answers(**{DISCOVERY: answer}))
    assert result == ProbeResult("hus", "error", f"discovery document at {DISCOVERY}: {reason}")


async def test_a_jwks_that_cannot_be_had_names_the_jwks() -> None:
    result = await probe_oidc(oidc_answers(**{JWKS: httpx.Response(500)}))
    assert result == ProbeResult("hus", "error", f"JWKS at {JWKS}: HTTP 500")


async def test_the_idps_own_timeout_is_used() -> None:
    seen: list[Any] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request.extensions["timeout"])
        return oidc_answers()(request)

    assert (await probe_oidc(handle, timeout_seconds=3.5)).status == "ok"
    assert seen == [{"connect": 3.5, "read": 3.5, "write": 3.5, "pool": 3.5}] * 2


async def test_every_idp_is_probed() -> None:
    results = await prober(oidc_answers()).probe_all([oidc_idp(), oidc_idp(issuer=ISSUER + "/x")])
    assert [(r.idp_id, r.status) for r in results] == [("hus", "ok"), ("hus", "error")]


# -- SAML ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, KeyPair]:
    directory = tmp_path_factory.mktemp("probe-keys")
    return {
        name: load_or_create_pair(directory, f"{name}-TEST-ONLY")
        for name in ("idp", "newer", "signer", "other")
    }


def expiry(key: KeyPair) -> float:
    certificate = x509.load_pem_x509_certificate(key.cert_file.read_bytes())
    return certificate.not_valid_after_utc.timestamp()


def metadata(keys: list[KeyPair], **fields: Any) -> str:
    return entity(IDP_ENTITY, "https://tunnistus.test/sso", keys, **fields)


def write(tmp_path: Path, xml: str) -> Path:
    path = tmp_path / "metadata.xml"
    path.write_text(xml, encoding="utf-8")
    return path


async def probe_file(
    tmp_path: Path, xml: str, *, now: float, warn: float = 7 * DAY, **saml: Any
) -> ProbeResult:
    idp = saml_idp(metadata_file=write(tmp_path, xml), **saml)
    return await prober(answers(), FrozenClock(now), warn).probe(idp)


def iso(moment: float) -> str:
    return datetime.datetime.fromtimestamp(moment, datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")


async def test_valid_metadata_is_ok(tmp_path: Path, keys: dict[str, KeyPair]) -> None:
    until = NOW + 30 * DAY
    result = await probe_file(
        tmp_path, unsigned(metadata([keys["idp"]], valid_until=until)), now=NOW
    )
    assert result == ProbeResult("suomifi", "ok", "metadata valid", until, expiry(keys["idp"]))
    assert result.unreachable_or_expiring is False


async def test_metadata_without_valid_until_says_so(
    tmp_path: Path, keys: dict[str, KeyPair]
) -> None:
    result = await probe_file(tmp_path, unsigned(metadata([keys["idp"]])), now=NOW)
    assert result == ProbeResult(
        "suomifi", "ok", "metadata valid (it has no validUntil)", None, expiry(keys["idp"])
    )


async def test_metadata_expiring_within_the_warning_is_a_warning(
    tmp_path: Path, keys: dict[str, KeyPair]
) -> None:
    until = NOW + 2.5 * DAY
    result = await probe_file(
        tmp_path, unsigned(metadata([keys["idp"]], valid_until=until)), now=NOW
    )
    assert (result.status, result.reason) == (
        "warning",
        f"metadata validUntil {iso(until)} is in 2.5 days",
    )
    assert result.unreachable_or_expiring is True
    exactly = await probe_file(
        tmp_path, unsigned(metadata([keys["idp"]], valid_until=until)), now=NOW, warn=2.5 * DAY
    )
    assert exactly.status == "warning"
    later = await probe_file(
        tmp_path, unsigned(metadata([keys["idp"]], valid_until=until)), now=NOW, warn=2 * DAY
    )
    assert (later.status, later.reason) == ("ok", "metadata valid")


async def test_a_signing_certificate_expiring_or_expired(
    tmp_path: Path, keys: dict[str, KeyPair]
) -> None:
    xml = unsigned(metadata([keys["idp"]]))
    ends = expiry(keys["idp"])
    soon = await probe_file(tmp_path, xml, now=ends - DAY)
    assert (soon.status, soon.reason) == (
        "warning",
        f"signing certificate {iso(ends)} is in 1.0 days",
    )
    assert soon.signing_expires == ends
    gone = await probe_file(tmp_path, xml, now=ends)
    assert (gone.status, gone.reason) == ("error", f"signing certificate {iso(ends)} has passed")


async def test_an_error_outweighs_a_warning_in_either_order(
    tmp_path: Path, keys: dict[str, KeyPair]
) -> None:
    ends = expiry(keys["idp"])
    now = ends + DAY  # the certificate has passed
    xml = unsigned(metadata([keys["idp"]], valid_until=now + DAY))
    result = await probe_file(tmp_path, xml, now=now)
    assert (result.status, result.reason) == (
        "error",
        f"metadata validUntil {iso(now + DAY)} is in 1.0 days; "
        f"signing certificate {iso(ends)} has passed",
    )
    now = ends - DAY  # the certificate expires soon, the metadata has passed
    xml = unsigned(metadata([keys["idp"]], valid_until=now - 1))
    result = await probe_file(tmp_path, xml, now=now)
    assert (result.status, result.reason) == (
        "error",
        f"metadata validUntil {iso(now - 1)} has passed; "
        f"signing certificate {iso(ends)} is in 1.0 days",
    )


async def test_while_a_key_rolls_the_newer_certificate_counts(
    tmp_path: Path, keys: dict[str, KeyPair]
) -> None:
    both = [keys["idp"], keys["newer"]]
    latest = max(expiry(k) for k in both)
    result = await probe_file(tmp_path, unsigned(metadata(both)), now=NOW)
    assert result.signing_expires == latest
    result = await probe_file(tmp_path, unsigned(metadata(both[::-1])), now=NOW)
    assert result.signing_expires == latest


async def test_metadata_without_a_signing_certificate_is_an_error(
    tmp_path: Path, keys: dict[str, KeyPair]
) -> None:
    xml = unsigned(metadata([keys["idp"]])).replace('use="signing"', 'use="encryption"')
    result = await probe_file(tmp_path, xml, now=NOW)
    assert result == ProbeResult(
        "suomifi", "error", "no signing certificate in the metadata", None, None
    )


async def test_a_key_descriptor_without_use_is_for_signing(
    tmp_path: Path, keys: dict[str, KeyPair]
) -> None:
    xml = unsigned(metadata([keys["idp"]])).replace(' use="signing"', "")
    result = await probe_file(tmp_path, xml, now=NOW)
    assert (result.status, result.signing_expires) == ("ok", expiry(keys["idp"]))


async def test_an_unreadable_certificate_is_skipped(
    tmp_path: Path, keys: dict[str, KeyPair]
) -> None:
    good = unsigned(metadata([keys["idp"]]))
    broken = good.replace(
        "<md:KeyDescriptor",
        '<md:KeyDescriptor use="signing"><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#">'
        "<ds:X509Data><ds:X509Certificate>bm90IGEgY2VydA==</ds:X509Certificate></ds:X509Data>"
        "</ds:KeyInfo></md:KeyDescriptor><md:KeyDescriptor",
        1,
    )
    result = await probe_file(tmp_path, broken, now=NOW)
    assert (result.status, result.signing_expires) == ("ok", expiry(keys["idp"]))


async def test_only_the_configured_entity_is_read(tmp_path: Path, keys: dict[str, KeyPair]) -> None:
    xml = unsigned(metadata([keys["idp"]]))
    found = await probe_file(tmp_path, xml, now=NOW, entity_id=IDP_ENTITY)
    assert found.status == "ok"
    other = await probe_file(tmp_path, xml, now=NOW, entity_id="https://other.test/idp")
    assert other.status == "error"
    no_idp = xml.replace("IDPSSODescriptor", "SPSSODescriptor")
    result = await probe_file(tmp_path, no_idp, now=NOW)
    assert result == ProbeResult(
        "suomifi", "error", f"metadata from {tmp_path / 'metadata.xml'}: does not describe an IdP"
    )


async def test_entities_in_an_entities_descriptor_are_read(
    tmp_path: Path, keys: dict[str, KeyPair]
) -> None:
    inner = unsigned(metadata([keys["idp"]], element_id="_one"))
    xml = f'<md:EntitiesDescriptor xmlns:md="{MD}">{inner}</md:EntitiesDescriptor>'
    result = await probe_file(tmp_path, xml, now=NOW, entity_id=IDP_ENTITY)
    assert (result.status, result.signing_expires) == ("ok", expiry(keys["idp"]))
    result = await probe_file(tmp_path, xml, now=NOW)
    assert (result.status, result.signing_expires) == ("ok", expiry(keys["idp"]))


async def test_metadata_signed_by_the_configured_certificate_is_ok(
    tmp_path: Path, keys: dict[str, KeyPair]
) -> None:
    xml = signed(metadata([keys["idp"]]), keys["signer"])
    result = await probe_file(
        tmp_path, xml, now=NOW, metadata_signing_certificates=[keys["signer"].cert_file]
    )
    assert (result.status, result.reason) == ("ok", "metadata valid (it has no validUntil)")


async def test_metadata_signed_by_another_key_is_an_error(
    tmp_path: Path, keys: dict[str, KeyPair]
) -> None:
    xml = signed(metadata([keys["idp"]]), keys["other"])
    result = await probe_file(
        tmp_path, xml, now=NOW, metadata_signing_certificates=[keys["signer"].cert_file]
    )
    assert result.status == "error"
    source = tmp_path / "metadata.xml"
    assert result.reason.startswith(f"metadata from {source}: ")
    assert "suomifi:" not in result.reason  # the report names the IdP, not the message
    assert "signature" in result.reason


async def test_unsigned_metadata_with_a_configured_certificate_is_an_error(
    tmp_path: Path, keys: dict[str, KeyPair]
) -> None:
    xml = unsigned(metadata([keys["idp"]]))
    result = await probe_file(
        tmp_path, xml, now=NOW, metadata_signing_certificates=[keys["signer"].cert_file]
    )
    assert result.status == "error"


async def test_malformed_metadata_is_an_error(tmp_path: Path) -> None:
    result = await probe_file(tmp_path, "<md:EntityDescriptor", now=NOW)
    assert result.status == "error"
    assert result.reason.startswith(f"metadata from {tmp_path / 'metadata.xml'}: ")


async def test_an_unreadable_metadata_file_is_an_error(tmp_path: Path) -> None:
    missing = tmp_path / "gone.xml"
    result = await prober(answers()).probe(saml_idp(metadata_file=missing))
    assert result == ProbeResult(
        "suomifi", "error", f"metadata file {missing}: cannot read (No such file or directory)"
    )


async def test_metadata_from_a_url(keys: dict[str, KeyPair]) -> None:
    url = "https://tunnistus.test/metadata"
    xml = unsigned(metadata([keys["idp"]])).encode()
    seen: list[Any] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request.extensions["timeout"]["read"])
        return answers(**{url: xml})(request)

    result = await prober(handle).probe(saml_idp(metadata_url=url))
    assert (result.status, result.signing_expires) == ("ok", expiry(keys["idp"]))
    assert seen == [10.0]
    down = await prober(answers()).probe(saml_idp(metadata_url=url))
    assert down == ProbeResult("suomifi", "error", f"metadata at {url}: HTTP 404")


async def test_the_broker_message_is_given_without_the_idps_name(
    tmp_path: Path, keys: dict[str, KeyPair]
) -> None:
    source = tmp_path / "metadata.xml"
    bad = await probe_file(tmp_path, "<md:EntityDescriptor", now=NOW)
    assert bad.reason == f"metadata from {source}: metadata is not well-formed XML"
    forged = signed(metadata([keys["idp"]]), keys["other"])
    wrong = await probe_file(
        tmp_path, forged, now=NOW, metadata_signing_certificates=[keys["signer"].cert_file]
    )
    assert wrong.reason == (
        f"metadata from {source}: metadata signature: not valid by any configured certificate"
    )
    dated = unsigned(metadata([keys["idp"]])).replace(
        "<md:EntityDescriptor ", '<md:EntityDescriptor validUntil="tomorrow" ', 1
    )
    undated = await probe_file(tmp_path, dated, now=NOW)
    assert undated.reason == f"metadata from {source}: metadata validUntil is malformed"


async def test_the_configured_backend_verifies_the_signature(
    tmp_path: Path, keys: dict[str, KeyPair], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`xmlsec` verifies in process: no xmlsec1 program needed (the other backend needs it)."""
    xml = signed(metadata([keys["idp"]]), keys["signer"])
    path = write(tmp_path, xml)
    monkeypatch.setenv("PATH", str(tmp_path / "no-programs"))
    idp = saml_idp(metadata_file=path, metadata_signing_certificates=[keys["signer"].cert_file])

    def with_backend(backend: Any) -> IdPProber:
        return IdPProber(
            httpx.AsyncClient(transport=httpx.MockTransport(answers())),
            FrozenClock(NOW),
            warn_seconds=DAY,
            crypto_backend=backend,
            clock_skew=60,
        )

    assert (await with_backend("xmlsec").probe(idp)).status == "ok"
    without = await with_backend("xmlsec1").probe(idp)
    assert without.reason == f"metadata from {path}: metadata signature: xmlsec1 is not installed"


async def test_only_the_configured_entitys_valid_until_counts(
    tmp_path: Path, keys: dict[str, KeyPair]
) -> None:
    ours = unsigned(metadata([keys["idp"]], element_id="_ours", valid_until=NOW + 30 * DAY))
    theirs = unsigned(
        entity(
            "https://other.test/idp",
            "https://other.test/sso",
            [keys["idp"]],
            element_id="_theirs",
            valid_until=NOW + DAY,
        )
    )
    xml = f'<md:EntitiesDescriptor xmlns:md="{MD}">{ours}{theirs}</md:EntitiesDescriptor>'
    result = await probe_file(tmp_path, xml, now=NOW, entity_id=IDP_ENTITY)
    assert (result.status, result.valid_until) == ("ok", NOW + 30 * DAY)
    every = await probe_file(tmp_path, xml, now=NOW)
    assert (every.status, every.valid_until) == ("warning", NOW + DAY)


async def test_days_left_are_rounded_to_a_tenth(tmp_path: Path, keys: dict[str, KeyPair]) -> None:
    until = NOW + 1.05 * DAY
    result = await probe_file(
        tmp_path, unsigned(metadata([keys["idp"]], valid_until=until)), now=NOW
    )
    assert result.reason == f"metadata validUntil {iso(until)} is in 1.1 days"


async def test_dates_are_reported_in_utc_whatever_the_hosts_zone(
    tmp_path: Path, keys: dict[str, KeyPair], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TZ", "Europe/Helsinki")
    time.tzset()
    try:
        until = datetime.datetime(2030, 1, 2, 12, 30, tzinfo=datetime.UTC).timestamp()
        result = await probe_file(
            tmp_path, unsigned(metadata([keys["idp"]], valid_until=until)), now=NOW
        )
    finally:
        monkeypatch.undo()
        time.tzset()
    assert result.reason == "metadata validUntil 2030-01-02 12:30 UTC is in 1.5 days"


async def test_an_idp_descriptor_outside_any_entity_is_not_read(
    tmp_path: Path, keys: dict[str, KeyPair]
) -> None:
    sp_only = unsigned(metadata([keys["idp"]])).replace("IDPSSODescriptor", "SPSSODescriptor")
    stray = unsigned(metadata([keys["idp"]]))
    stray = stray[stray.index("<md:IDPSSODescriptor") : stray.index("</md:EntityDescriptor>")]
    xml = f'<md:EntitiesDescriptor xmlns:md="{MD}">{sp_only}{stray}</md:EntitiesDescriptor>'
    result = await probe_file(tmp_path, xml, now=NOW)
    assert result.reason == f"metadata from {tmp_path / 'metadata.xml'}: does not describe an IdP"


async def test_an_encryption_key_listed_first_does_not_hide_the_signing_key(
    tmp_path: Path, keys: dict[str, KeyPair]
) -> None:
    xml = unsigned(metadata([keys["newer"], keys["idp"]])).replace(
        'use="signing"', 'use="encryption"', 1
    )
    result = await probe_file(tmp_path, xml, now=NOW)
    assert (result.status, result.signing_expires) == ("ok", expiry(keys["idp"]))


async def test_an_unreadable_certificate_does_not_hide_the_next_in_its_key(
    tmp_path: Path, keys: dict[str, KeyPair]
) -> None:
    xml = unsigned(metadata([keys["idp"]])).replace(
        "<ds:X509Certificate>",
        "<ds:X509Certificate>bm90IGEgY2VydA==</ds:X509Certificate><ds:X509Certificate>",
        1,
    )
    result = await probe_file(tmp_path, xml, now=NOW)
    assert (result.status, result.signing_expires) == ("ok", expiry(keys["idp"]))


async def test_a_certificate_is_read_only_from_x509_certificate(
    tmp_path: Path, keys: dict[str, KeyPair]
) -> None:
    xml = unsigned(metadata([keys["idp"]])).replace("X509Certificate>", "KeyName>")
    result = await probe_file(tmp_path, xml, now=NOW)
    assert (result.status, result.reason) == ("error", "no signing certificate in the metadata")


async def test_an_entity_nested_in_another_is_not_read(
    tmp_path: Path, keys: dict[str, KeyPair]
) -> None:
    """Only the root EntityDescriptor itself (or those of an EntitiesDescriptor) describe IdPs:
    one smuggled into the root's Extensions is not what a login would use."""
    inner = unsigned(metadata([keys["idp"]], element_id="_inner"))
    outer = unsigned(
        entity("https://sp.test", "https://sp.test/sso", [keys["idp"]], element_id="_outer")
    ).replace("IDPSSODescriptor", "SPSSODescriptor")
    head, _, tail = outer.partition("<md:SPSSODescriptor")
    xml = f"{head}<md:Extensions>{inner}</md:Extensions><md:SPSSODescriptor{tail}"
    result = await probe_file(tmp_path, xml, now=NOW)
    assert result.reason == f"metadata from {tmp_path / 'metadata.xml'}: does not describe an IdP"
