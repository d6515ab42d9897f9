"""`MetadataCache` with real signed metadata (xmlsec1, keys made here), from a real HTTP server on
127.0.0.1 or from a file, and an injected clock: the signature rules and the attacks on them,
validUntil and cacheDuration, the background refresh and its back-off, and the IdP's key
rollover (two certificates, then one) seen by the connector's signature check."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from broker.clock import FrozenClock
from broker.errors import ConfigError, UpstreamResponseError, UpstreamUnavailableError
from broker.upstream.registry import IdP, Names, SAMLUpstream
from broker.upstream.saml.connector import SAMLConnector
from broker.upstream.saml.idp_metadata import IdPClient, MetadataCache
from broker.upstream.saml.sp import ServiceProvider
from broker.upstream.saml.sp_keys import SPKeyRing
from mock_idps.saml_common.keys import KeyPair, load_or_create_pair
from tests.servers import bound_socket, serve
from tests.upstream.conftest import ACS_URL, begin, posted
from tests.upstream.saml import metadata_forge as md
from tests.upstream.saml.replays import Replays
from tests.upstream.saml.saml_forge import AES256_CBC, Forge

IDP_ENTITY_ID = "https://tunnistus.test/idp"
SSO, NEW_SSO = "https://tunnistus.test/sso", "https://tunnistus.test/sso-2"
REDIRECT = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"
POST = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"

pytestmark = pytest.mark.filterwarnings(  # pysaml2's temporary files on a refused signature
    r"ignore:Exception ignored in. <_io.FileIO name='/tmp/tmp"
    r":pytest.PytestUnraisableExceptionWarning"
)


@dataclass(frozen=True)
class Keys:
    idp_old: KeyPair  # the IdP's response signing keys, before and after its rollover
    idp_new: KeyPair
    signer: KeyPair  # the metadata signer's keys, before and after its own rollover
    next_signer: KeyPair
    stranger: KeyPair  # in no configuration


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Keys:
    where = tmp_path_factory.mktemp("metadata-keys")
    names = ("idp-old", "idp-new", "signer", "next-signer", "stranger")
    return Keys(*(load_or_create_pair(where, f"{name}-TEST-ONLY") for name in names))


@dataclass
class Published:
    """What the IdP's metadata URL answers, and how often it was asked."""

    body: str = ""
    status: int = 200
    hits: int = 0
    url: str = ""

    def app(self) -> Starlette:
        async def metadata(_request: Request) -> Response:
            self.hits += 1
            return Response(self.body, self.status, media_type="application/samlmetadata+xml")

        return Starlette(routes=[Route("/metadata", metadata)])


@pytest.fixture
def published() -> Iterator[Published]:
    found = Published()
    with serve(found.app(), bound_socket()) as url:
        found.url = url + "/metadata"
        yield found


def cache_for(
    sp: ServiceProvider,
    clock: FrozenClock,
    certificates: Sequence[Path] = (),
    **source: Any,
) -> MetadataCache:
    return MetadataCache(idp(certificates, **source), sp, clock, acs_url=ACS_URL, clock_skew=60)


def idp(certificates: Sequence[Path] = (), **saml: Any) -> IdP:
    return IdP(
        id="suomifi",
        names=Names(fi="Suomi.fi", sv="Suomi.fi", en="Suomi.fi"),
        route="personal",
        protocol="saml",
        saml=SAMLUpstream(
            metadata_signing_certificates=tuple(certificates),
            **{"entity_id": IDP_ENTITY_ID, "want_response_signed": True, **saml},
        ),
    )


def sso_of(found: IdPClient) -> str:
    services = found.client.metadata.single_sign_on_service(found.entity_id, REDIRECT)
    return str(services[0]["location"])


def signed_entity(keys: Keys, signer: KeyPair | None = None, **fields: Any) -> str:
    sso = fields.pop("sso", SSO)
    signing = fields.pop("signing", (keys.idp_old,))
    return md.signed(md.entity(IDP_ENTITY_ID, sso, signing, **fields), signer or keys.signer)


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(float(int(time.time())))  # whole seconds, as validUntil is written


# -- the signature ----------------------------------------------------------------------------


async def test_metadata_signed_by_the_configured_certificate_is_accepted(
    sp: ServiceProvider, keys: Keys, clock: FrozenClock, published: Published
) -> None:
    published.body = signed_entity(keys)
    cache = cache_for(sp, clock, [keys.signer.cert_file], metadata_url=published.url)
    found = await cache.get()
    assert (found.entity_id, sso_of(found)) == (IDP_ENTITY_ID, SSO)


def wrapped_into_extensions(keys: Keys) -> str:
    """A root of the attacker's with the genuine signature, the genuine (signed) entity hidden
    in md:Extensions: the signature's reference is not to the root."""
    genuine = signed_entity(keys)
    evil = md.entity(IDP_ENTITY_ID, "https://evil.test/sso", (keys.stranger,), element_id="_evil")
    hidden = f"<md:Extensions>{genuine}</md:Extensions>"
    return evil.replace("{signature}", md.signature_of(genuine) + hidden)


def wrapped_with_the_same_id(keys: Keys) -> str:
    """As above, but the attacker's root takes the genuine entity's ID, so that the reference
    might resolve to either."""
    return wrapped_into_extensions(keys).replace('ID="_evil"', 'ID="_metadata"', 1)


def signed_child_of_an_unsigned_root(keys: Keys) -> str:
    """An EntitiesDescriptor of the attacker's around the genuine, signed, EntityDescriptor
    and another IdP entity: only a child is signed."""
    genuine = signed_entity(keys)
    other = md.unsigned(
        md.entity("https://evil.test/idp", "https://evil.test/sso", (keys.stranger,))
    )
    other = other.replace('ID="_metadata"', 'ID="_other"')
    root = f'<md:EntitiesDescriptor xmlns:md="{md.MD}" ID="_all">'
    return f"{root}{genuine}{other}</md:EntitiesDescriptor>"


def tampered(keys: Keys) -> str:
    return signed_entity(keys).replace(SSO, "https://evil.test/sso")


@pytest.mark.parametrize(
    ("make", "problem"),
    [
        (lambda k: md.unsigned(md.entity(IDP_ENTITY_ID, SSO, (k.idp_old,))), "missing"),
        (tampered, "not valid by any configured certificate"),
        (lambda k: signed_entity(k, k.stranger), "not valid by any configured certificate"),
        (wrapped_into_extensions, "the reference is not to the root"),
        (wrapped_with_the_same_id, "the root's ID is not unique"),
        (signed_child_of_an_unsigned_root, "missing"),
        (
            lambda k: md.signed(
                md.entity(IDP_ENTITY_ID, SSO, (k.idp_old,)), k.signer, sign_alg=md.RSA_SHA1
            ),
            "weak or unknown signature algorithm",
        ),
        (
            lambda k: md.signed(
                md.entity(IDP_ENTITY_ID, SSO, (k.idp_old,)), k.signer, digest_alg=md.SHA1
            ),
            "weak or unknown digest algorithm",
        ),
    ],
    ids=[
        "unsigned",
        "tampered",
        "unknown-key",
        "wrapped-in-extensions",
        "wrapped-same-id",
        "signed-child-only",
        "rsa-sha1",
        "sha1-digest",
    ],
)
async def test_metadata_without_a_good_root_signature_is_refused(
    sp: ServiceProvider,
    keys: Keys,
    clock: FrozenClock,
    published: Published,
    make: Any,
    problem: str,
) -> None:
    published.body = make(keys)
    cache = cache_for(sp, clock, [keys.signer.cert_file], metadata_url=published.url)
    with pytest.raises(UpstreamUnavailableError, match=f"^suomifi: metadata signature: {problem}$"):
        await cache.get()


async def test_metadata_signed_with_ecdsa_is_accepted(
    sp: ServiceProvider, keys: Keys, clock: FrozenClock, published: Published, tmp_path: Path
) -> None:
    """Either backend verifies an ECDSA signature on metadata (the in-process one enables ECDSA
    for metadata only); tampered, it is refused."""
    signer = md.ecdsa_signer(tmp_path)
    published.body = md.signed(
        md.entity(IDP_ENTITY_ID, SSO, (keys.idp_old,)), signer, sign_alg=md.ECDSA_SHA256
    )
    cache = cache_for(sp, clock, [signer.cert_file], metadata_url=published.url)
    assert sso_of(await cache.get()) == SSO
    published.body = published.body.replace(SSO, NEW_SSO)
    with pytest.raises(UpstreamUnavailableError, match="not valid by any configured certificate"):
        await cache_for(sp, clock, [signer.cert_file], metadata_url=published.url).get()


@pytest.mark.parametrize(
    "decoy",
    ['xml:id="_metadata"', 'xmlns:x="urn:x" x:ID="_metadata"'],
    ids=["xml-id", "namespaced-id"],
)
async def test_a_second_holder_of_the_roots_id_is_refused(
    sp: ServiceProvider, keys: Keys, clock: FrozenClock, published: Published, decoy: str
) -> None:
    """An ID lookup finds an `xml:id` or an `ID` in any namespace too, which the shape check
    (unprefixed `ID` only) does not count: the reference could resolve to the decoy."""
    published.body = signed_entity(keys).replace(
        "<md:IDPSSODescriptor ", f"<md:IDPSSODescriptor {decoy} ", 1
    )
    cache = cache_for(sp, clock, [keys.signer.cert_file], metadata_url=published.url)
    with pytest.raises(UpstreamUnavailableError, match="not valid by any configured certificate"):
        await cache.get()


async def test_a_key_value_in_key_info_is_not_trusted(
    sp: ServiceProvider, keys: Keys, clock: FrozenClock, published: Published
) -> None:
    """Signed by a stranger who put their public key in KeyInfo as an RSAKeyValue: xmlsec1 by
    default would verify with it."""
    template = md.entity(IDP_ENTITY_ID, "https://evil.test/sso", (keys.stranger,))
    key_value = f'<ds:KeyInfo xmlns:ds="{md.DS}"><ds:KeyValue/></ds:KeyInfo>'
    published.body = md.signed(template, keys.stranger, key_info_xml=key_value)
    assert "RSAKeyValue" in published.body
    cache = cache_for(sp, clock, [keys.signer.cert_file], metadata_url=published.url)
    with pytest.raises(UpstreamUnavailableError, match="not valid by any configured certificate"):
        await cache.get()


async def test_a_doctype_is_refused_before_anything_reads_it(
    sp: ServiceProvider, keys: Keys, clock: FrozenClock, tmp_path: Path
) -> None:
    path = tmp_path / "idp.xml"
    doctype = '<!DOCTYPE md:EntityDescriptor [<!ENTITY sso "https://tunnistus.test/sso">]>'
    path.write_text(doctype + signed_entity(keys))
    for certificates in ([keys.signer.cert_file], []):  # signed or not: a DOCTYPE is refused
        with pytest.raises(UpstreamUnavailableError, match=r"^suomifi: metadata with a DOCTYPE$"):
            await cache_for(sp, clock, certificates, metadata_file=path).get()


async def test_either_of_two_configured_certificates_signs_and_a_removed_one_is_refused(
    sp: ServiceProvider, keys: Keys, clock: FrozenClock, published: Published
) -> None:
    """The metadata signer's own rollover: both certificates configured while it changes keys;
    then the old one is removed from the configuration."""
    both = [keys.signer.cert_file, keys.next_signer.cert_file]
    for signer in (keys.signer, keys.next_signer):
        published.body = signed_entity(keys, signer)
        assert (await cache_for(sp, clock, both, metadata_url=published.url).get()).entity_id
    published.body = signed_entity(keys, keys.signer)
    cache = cache_for(sp, clock, [keys.next_signer.cert_file], metadata_url=published.url)
    with pytest.raises(UpstreamUnavailableError, match="not valid by any configured"):
        await cache.get()


# -- validUntil and cacheDuration -------------------------------------------------------------


async def test_expired_metadata_is_refused(
    sp: ServiceProvider, keys: Keys, clock: FrozenClock, published: Published
) -> None:
    """validUntil is strict (no clock skew), as pysaml2 applies it again when it parses."""
    published.body = signed_entity(keys, valid_until=clock.now())
    cache = cache_for(sp, clock, [keys.signer.cert_file], metadata_url=published.url)
    with pytest.raises(UpstreamUnavailableError, match="expired"):
        await cache.get()
    published.body = signed_entity(keys, valid_until=clock.now() + 30)
    assert (await cache.get()).entity_id == IDP_ENTITY_ID


async def test_metadata_with_a_malformed_cache_duration_is_refused(
    sp: ServiceProvider, keys: Keys, clock: FrozenClock, published: Published
) -> None:
    """Guessing would keep it longer than its publisher meant."""
    published.body = signed_entity(keys, cache_duration="a week")
    cache = cache_for(sp, clock, [keys.signer.cert_file], metadata_url=published.url)
    assert await refusal_of(cache) == "suomifi: metadata cacheDuration is malformed"


async def test_metadata_is_never_served_past_its_valid_until(
    sp: ServiceProvider,
    keys: Keys,
    clock: FrozenClock,
    published: Published,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A refresh that fails keeps the old metadata until its validUntil, then
    the IdP is unavailable; failures are retried with back-off; the log names the IdP and the
    reason, nothing of the metadata."""
    published.body = signed_entity(keys, valid_until=clock.now() + 1000)
    cache = cache_for(
        sp, clock, [keys.signer.cert_file], metadata_url=published.url, metadata_refresh_seconds=600
    )
    await cache.refresh_if_due()
    assert published.hits == 1
    published.status = 503
    clock.advance(600)
    with caplog.at_level(logging.WARNING, logger="broker.upstream.saml.connector"):
        await cache.refresh_if_due()
    assert published.hits == 2
    assert (
        "idp suomifi: metadata refresh failed (suomifi: metadata: HTTP 503); keeping" in caplog.text
    )
    assert (await cache.get()).entity_id == IDP_ENTITY_ID  # the old one serves
    for wait, hits in ((59, 2), (1, 3), (119, 3), (1, 4)):  # retried after 60 s, then 120 s
        clock.advance(wait)
        await cache.refresh_if_due()
        assert published.hits == hits
    clock.advance(1000 - 780)  # validUntil
    with pytest.raises(UpstreamUnavailableError, match="HTTP 503"):
        await cache.get()  # nothing valid is left: a login tries, and fails
    assert "EntityDescriptor" not in caplog.text and "X509" not in caplog.text
    published.status = 200
    published.body = signed_entity(keys, valid_until=clock.now() + 1000)
    assert (await cache.get()).entity_id == IDP_ENTITY_ID


async def test_a_refused_refresh_keeps_the_old_metadata(
    sp: ServiceProvider, keys: Keys, clock: FrozenClock, published: Published
) -> None:
    published.body = signed_entity(keys)
    cache = cache_for(sp, clock, [keys.signer.cert_file], metadata_url=published.url)
    await cache.refresh_if_due()
    published.body = signed_entity(keys, keys.stranger, sso=NEW_SSO)
    clock.advance(3600)
    await cache.refresh_if_due()
    assert published.hits == 2
    assert sso_of(await cache.get()) == SSO


@pytest.mark.parametrize(
    ("fields", "refresh_after"),
    [
        ({}, 3600),  # the configured interval
        ({"cache_duration": "PT10M"}, 600),
        ({"cache_duration": "P1D"}, 3600),  # longer than the interval: the interval
        ({"valid_until_in": 300}, 300),
        ({"valid_until_in": 900, "cache_duration": "PT20M"}, 900),
    ],
)
async def test_the_next_refresh_is_the_earliest_of_interval_cache_duration_and_valid_until(
    sp: ServiceProvider,
    keys: Keys,
    clock: FrozenClock,
    published: Published,
    fields: dict[str, Any],
    refresh_after: int,
) -> None:
    fields = dict(fields)  # the parameter is shared by both backends' runs: never change it
    if (valid_for := fields.pop("valid_until_in", None)) is not None:
        fields["valid_until"] = clock.now() + valid_for
    published.body = signed_entity(keys, **fields)
    cache = cache_for(sp, clock, [keys.signer.cert_file], metadata_url=published.url)
    await cache.refresh_if_due()
    clock.advance(refresh_after - 1)
    await cache.refresh_if_due()
    assert published.hits == 1
    clock.advance(1)
    await cache.refresh_if_due()
    assert published.hits == 2


async def test_a_changed_metadata_file_is_picked_up_without_waiting(
    sp: ServiceProvider, keys: Keys, clock: FrozenClock, tmp_path: Path
) -> None:
    path = tmp_path / "idp.xml"
    path.write_text(signed_entity(keys))
    cache = cache_for(sp, clock, [keys.signer.cert_file], metadata_file=path)
    await cache.refresh_if_due()
    assert sso_of(await cache.get()) == SSO
    path.write_text(signed_entity(keys, sso=NEW_SSO))
    os.utime(path, ns=(time.time_ns(), time.time_ns() + 1_000_000))  # mtime moves, clock stands
    await cache.refresh_if_due()
    assert sso_of(await cache.get()) == NEW_SSO


# -- the IdP's key rollover, as the connector checks responses --------------------------------


async def test_the_idps_key_rollover_is_followed_without_a_restart(
    sp: ServiceProvider, keys: Keys, clock: FrozenClock, published: Published, tmp_path: Path
) -> None:
    """Metadata (old) → (old + new) → (new): responses signed by either key verify while both
    are published; afterwards the old key's are refused and the new key's accepted."""
    connector = SAMLConnector(
        idp([keys.signer.cert_file], metadata_url=published.url),
        sp,
        clock,
        acs_url=ACS_URL,
        remember_assertion=Replays(),
        require_encrypted_assertions=True,
    )
    forge = Forge(keys.idp_old, sp.keys.cert_file, keys.stranger)

    async def signed_by(key: KeyPair) -> Any:
        saved, statement = await begin(connector)
        xml = forge.response(
            statement, forge.encrypted(forge.assertion(statement, key=key)), key=key
        )
        return await connector.finish(posted(xml), saved)

    for published_keys, accepted, refused in (
        ((keys.idp_old,), [keys.idp_old], [keys.idp_new]),
        ((keys.idp_old, keys.idp_new), [keys.idp_old, keys.idp_new], []),
        ((keys.idp_new,), [keys.idp_new], [keys.idp_old]),
    ):
        published.body = signed_entity(keys, signing=published_keys)
        clock.advance(3600)
        await connector.refresh_metadata()
        for key in accepted:
            assert (await signed_by(key)).subject
        for key in refused:
            with pytest.raises(UpstreamResponseError):
                await signed_by(key)
    assert published.hits == 3


# -- a rolled-back document, the signer's certificate, no xmlsec1 ------------------------------


@pytest.mark.parametrize(
    ("held", "older", "reason"),
    [
        ({"valid_until_in": 7200}, {"valid_until_in": 5000}, "validUntil earlier"),
        (
            {"valid_until_in": 7200, "published_ago": 100},
            {"valid_until_in": 9000, "published_ago": 200},
            "published earlier",
        ),
    ],
    ids=["valid-until", "creation-instant"],
)
async def test_a_rolled_back_document_is_refused_and_the_held_one_kept(
    sp: ServiceProvider,
    keys: Keys,
    clock: FrozenClock,
    published: Published,
    caplog: pytest.LogCaptureFixture,
    held: dict[str, int],
    older: dict[str, int],
    reason: str,
) -> None:
    """An older document, genuinely signed (e.g. one that still lists a retired key), served
    again by whoever answers the URL: refused, logged, the held one keeps serving; a newer one
    is then accepted."""

    def document(sso: str, valid_until_in: int, published_ago: int | None = None) -> str:
        moment = None if published_ago is None else clock.now() - published_ago
        return signed_entity(
            keys, sso=sso, valid_until=clock.now() + valid_until_in, published=moment
        )

    published.body = document(SSO, **held)
    cache = cache_for(sp, clock, [keys.signer.cert_file], metadata_url=published.url)
    await cache.refresh_if_due()
    published.body = document(NEW_SSO, **older)
    clock.advance(3600)
    with caplog.at_level(logging.WARNING, logger="broker.upstream.saml.connector"):
        await cache.refresh_if_due()
    assert published.hits == 2
    assert f"metadata older than the one held ({reason}), a rollback); keeping" in caplog.text
    assert sso_of(await cache.get()) == SSO
    published.body = document(NEW_SSO, valid_until_in=9000)  # newer: accepted
    clock.advance(3600)
    await cache.refresh_if_due()
    assert sso_of(await cache.get()) == NEW_SSO


@pytest.mark.parametrize("moved", [3651 * 86400, -3 * 86400], ids=["expired", "not-yet-valid"])
async def test_a_signing_certificate_outside_its_validity_is_refused(
    sp: ServiceProvider, keys: Keys, clock: FrozenClock, published: Published, moved: int
) -> None:
    """The signer's certificate is valid from a day before the fixtures made it for ten years;
    the broker's clock is moved past either end (no validUntil in the document)."""
    published.body = signed_entity(keys)
    cache = cache_for(sp, clock, [keys.signer.cert_file], metadata_url=published.url)
    clock.advance(moved)
    with pytest.raises(UpstreamUnavailableError, match="within its validity period"):
        await cache.get()
    clock.advance(-moved)
    assert (await cache.get()).entity_id == IDP_ENTITY_ID


async def test_the_in_process_backend_checks_metadata_without_xmlsec1(
    sp: ServiceProvider,
    keys: Keys,
    clock: FrozenClock,
    published: Published,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """No xmlsec1 on PATH (the forge signed before): the in-process backend verifies the
    metadata's signature itself, and refuses a tampered document; the xmlsec1 backend says the
    program is missing."""
    genuine, forged = signed_entity(keys), tampered(keys)
    monkeypatch.setenv("PATH", "")
    cache = cache_for(sp, clock, [keys.signer.cert_file], metadata_url=published.url)
    if sp.crypto_backend == "xmlsec1":
        published.body = genuine
        with pytest.raises(UpstreamUnavailableError, match="xmlsec1 is not installed"):
            await cache.get()
        return
    published.body = forged
    with pytest.raises(UpstreamUnavailableError, match="not valid by any configured"):
        await cache.get()
    published.body = genuine
    assert sso_of(await cache.get()) == SSO


# -- which entity, which keys, which service: forged metadata the signer vouches for -------------


async def refusal_of(cache: MetadataCache) -> str:
    """The exact detail of the UpstreamUnavailableError that `cache.get()` raises."""
    with pytest.raises(UpstreamUnavailableError) as caught:
        await cache.get()
    return caught.value.detail


def federation(keys: Keys, *entity_ids: str, **fields: Any) -> str:
    """An EntitiesDescriptor of IdP entities, signed on its root by the configured signer;
    `fields` (validUntil, ...) for the first one only."""
    members = "".join(
        md.unsigned(
            md.entity(
                entity_id, SSO, (keys.idp_old,), element_id=f"_m{n}", **(fields if n == 0 else {})
            )
        )
        for n, entity_id in enumerate(entity_ids)
    )
    root = f'<md:EntitiesDescriptor xmlns:md="{md.MD}" ID="_metadata">{{signature}}'
    return md.signed(f"{root}{members}</md:EntitiesDescriptor>", keys.signer)


async def test_genuinely_signed_metadata_of_another_entity_is_refused(
    sp: ServiceProvider, keys: Keys, clock: FrozenClock, published: Published
) -> None:
    """The signer vouches for a federation's members; one of them is not the IdP configured,
    whatever keys and service it lists."""
    published.body = federation(keys, "https://evil.test/idp")
    cache = cache_for(sp, clock, [keys.signer.cert_file], metadata_url=published.url)
    assert await refusal_of(cache) == f"suomifi: metadata does not describe {IDP_ENTITY_ID}"
    published.body = federation(keys, "https://evil.test/idp", IDP_ENTITY_ID)
    assert (await cache.get()).entity_id == IDP_ENTITY_ID


async def test_only_the_configured_entitys_validity_counts(
    sp: ServiceProvider, keys: Keys, clock: FrozenClock, published: Published
) -> None:
    """Another member of the federation has expired: the configured IdP's metadata is still
    good (pysaml2 drops the expired member)."""
    published.body = federation(
        keys, "https://other.test/idp", IDP_ENTITY_ID, valid_until=clock.now() - 60
    )
    cache = cache_for(sp, clock, [keys.signer.cert_file], metadata_url=published.url)
    assert (await cache.get()).entity_id == IDP_ENTITY_ID


async def test_without_a_configured_entity_id_only_a_single_idp_is_taken(
    sp: ServiceProvider, keys: Keys, clock: FrozenClock, published: Published
) -> None:
    published.body = federation(keys, "https://one.test/idp", "https://two.test/idp")
    cache = cache_for(sp, clock, [keys.signer.cert_file], metadata_url=published.url)
    object.__setattr__(cache._saml, "entity_id", None)  # the file leaves it out
    assert await refusal_of(cache) == "suomifi: metadata has 2 IdPs; set entity_id"
    published.body = federation(keys, "https://one.test/idp")
    assert (await cache.get()).entity_id == "https://one.test/idp"


@pytest.mark.parametrize(
    ("change", "detail"),
    [
        (('use="signing"', 'use="encryption"'), "suomifi: metadata has no signing certificate"),
        (
            (REDIRECT, POST),
            "suomifi: metadata has no HTTP-Redirect SSO service",
        ),
    ],
    ids=["only-an-encryption-key", "only-http-post"],
)
async def test_metadata_without_a_signing_key_or_a_redirect_service_is_refused(
    sp: ServiceProvider,
    keys: Keys,
    clock: FrozenClock,
    published: Published,
    change: tuple[str, str],
    detail: str,
) -> None:
    """A key published for encryption only does not vouch for responses; the broker sends its
    AuthnRequest by HTTP-Redirect only."""
    template = md.entity(IDP_ENTITY_ID, SSO, (keys.idp_old,)).replace(*change)
    published.body = md.signed(template, keys.signer)
    cache = cache_for(sp, clock, [keys.signer.cert_file], metadata_url=published.url)
    assert await refusal_of(cache) == detail
    assert not cache.usable


async def test_a_key_descriptor_without_use_signs(
    sp: ServiceProvider, keys: Keys, clock: FrozenClock, published: Published
) -> None:
    """SAML Metadata §2.4.1.1: a KeyDescriptor without `use` is for signing and encryption."""
    template = md.entity(IDP_ENTITY_ID, SSO, (keys.idp_old,)).replace(' use="signing"', "")
    published.body = md.signed(template, keys.signer)
    cache = cache_for(sp, clock, [keys.signer.cert_file], metadata_url=published.url)
    assert (await cache.get()).entity_id == IDP_ENTITY_ID


async def test_metadata_not_in_utf8_is_refused(
    sp: ServiceProvider, keys: Keys, clock: FrozenClock, tmp_path: Path
) -> None:
    path = tmp_path / "idp.xml"
    body = md.unsigned(md.entity(IDP_ENTITY_ID, SSO, (keys.idp_old,)))
    prolog = '<?xml version="1.0" encoding="ISO-8859-1"?><!-- caf\xe9 -->'
    path.write_bytes((prolog + body).encode("latin-1"))
    cache = cache_for(sp, clock, metadata_file=path)
    assert await refusal_of(cache) == "suomifi: metadata is not UTF-8"
    path.write_bytes((prolog.replace("ISO-8859-1", "UTF-8") + body).encode())
    assert (await cache.get()).entity_id == IDP_ENTITY_ID


@pytest.mark.parametrize(
    "profile",
    [
        {"want_response_signed": True, "want_assertions_signed": False, "allow_unsolicited": True},
        {"want_response_signed": False, "want_assertions_signed": True, "allow_unsolicited": False},
    ],
)
async def test_the_client_is_built_with_the_idps_profile_and_keeps_no_one(
    sp: ServiceProvider, keys: Keys, clock: FrozenClock, tmp_path: Path, profile: dict[str, bool]
) -> None:
    """The client checks what the IdP's configuration asks, with the broker's clock skew;
    pysaml2's in-memory cache of people is replaced by one that keeps nothing."""
    path = tmp_path / "idp.xml"
    path.write_text(signed_entity(keys))
    cache = MetadataCache(
        idp([keys.signer.cert_file], metadata_file=path, **profile),
        sp,
        clock,
        acs_url=ACS_URL,
        clock_skew=90,
    )
    found = await cache.get()
    config = found.client.config
    assert {name: config.getattr(name, "sp") for name in profile} == profile
    assert config.accepted_time_diff == 90
    assert config.getattr("endpoints", "sp")["assertion_consumer_service"] == [(ACS_URL, POST)]
    assert (found.metadata, found.keys_version) == (path.read_text(), sp.keys.version)
    assert found.client.users.add_information_about_person({"ava": {"hetu": ["x"]}}) is None
    assert not hasattr(found.client.users, "cache")


# -- the SP's key rollover, concurrent logins ----------------------------------------------------


async def test_an_sp_key_rollover_step_rebuilds_the_client_on_the_same_metadata(
    sp: ServiceProvider,
    keys: Keys,
    clock: FrozenClock,
    published: Published,
    saml_sp_keys: Path,
    tmp_path: Path,
) -> None:
    """Another process adds the SP's next key pair: the next login gets a client with it, built
    on the metadata held (no fetch); until the next step the same client serves."""
    directory = tmp_path / "saml-keys"
    shutil.copytree(saml_sp_keys, directory)
    running = ServiceProvider(sp.entity_id, SPKeyRing(directory), crypto_backend=sp.crypto_backend)
    published.body = signed_entity(keys)
    cache = cache_for(running, clock, [keys.signer.cert_file], metadata_url=published.url)
    before = await cache.get()
    assert await cache.get() is before
    SPKeyRing(directory).add()
    assert isinstance(running.key_source, SPKeyRing) and running.key_source.reload_if_changed()
    after = await cache.get()
    assert after.keys_version == running.keys.version != before.keys_version
    assert (after.metadata, after.entity_id, published.hits) == (before.metadata, IDP_ENTITY_ID, 1)
    assert len(after.client.config.encryption_keypairs) == 2
    assert len(before.client.config.encryption_keypairs) == 1
    assert await cache.get() is after


async def test_concurrent_logins_and_the_refresh_fetch_once(
    sp: ServiceProvider, keys: Keys, clock: FrozenClock, published: Published
) -> None:
    published.body = signed_entity(keys)
    cache = cache_for(sp, clock, [keys.signer.cert_file], metadata_url=published.url)
    first, second, _ = await asyncio.gather(cache.get(), cache.get(), cache.refresh_if_due())
    assert first is second
    assert published.hits == 1
    clock.advance(3600)  # due: the refresh fetches, a login meanwhile is served what is held
    _, meanwhile = await asyncio.gather(cache.refresh_if_due(), cache.get())
    assert meanwhile is first
    assert published.hits == 2 and await cache.get() is not first


# -- failures: back-off, the log, the background loop --------------------------------------------


def retry_delays(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage().rsplit("next try in ", 1)[1]
        for r in caplog.records
        if "metadata refresh failed" in r.getMessage()
    ]


@pytest.mark.parametrize(
    ("interval", "delays"),
    [
        (600, ["60 s", "120 s", "240 s", "480 s", "600 s", "600 s"]),
        (10**9, [f"{60 * 2**n} s" for n in range(17)] + ["3932160 s", "3932160 s"]),
    ],
    ids=["capped-by-the-interval", "doubling-stops-at-2**16"],
)
async def test_a_failing_source_is_retried_with_doubling_delays(
    sp: ServiceProvider,
    clock: FrozenClock,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    interval: int,
    delays: list[str],
) -> None:
    """Nothing was ever loaded: each failure says the IdP is unavailable and when it is tried
    again; no attempt before that."""
    cache = cache_for(
        sp, clock, metadata_file=tmp_path / "missing.xml", metadata_refresh_seconds=interval
    )
    with caplog.at_level(logging.WARNING, logger="broker.upstream.saml.connector"):
        for delay in delays:
            await cache.refresh_if_due()
            await cache.refresh_if_due()  # not due again yet
            clock.advance(float(delay.removesuffix(" s")))
    assert retry_delays(caplog) == delays
    assert caplog.records[0].getMessage() == (
        "idp suomifi: metadata refresh failed (suomifi: metadata file: No such file or "
        "directory); the IdP is unavailable, next try in 60 s"
    )
    assert not cache.usable


async def test_a_metadata_url_that_cannot_be_reached_is_named_by_the_error(
    sp: ServiceProvider, clock: FrozenClock
) -> None:
    closed = bound_socket()  # bound, never listening: the connection is refused
    url = f"http://127.0.0.1:{closed.getsockname()[1]}/metadata"
    try:
        assert await refusal_of(cache_for(sp, clock, metadata_url=url)) == (
            "suomifi: metadata: ConnectError"
        )
    finally:
        closed.close()


async def test_the_given_http_client_fetches_with_a_timeout(
    sp: ServiceProvider, keys: Keys, clock: FrozenClock
) -> None:
    """The app's shared client (its connection pool) fetches, each request with a timeout."""
    seen: list[httpx.Request] = []
    body = signed_entity(keys)

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, text=body)

    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as http:
        cache = MetadataCache(
            idp([keys.signer.cert_file], metadata_url="https://tunnistus.test/metadata"),
            sp,
            clock,
            acs_url=ACS_URL,
            clock_skew=60,
            http=http,
        )
        assert (await cache.get()).entity_id == IDP_ENTITY_ID
    assert [str(r.url) for r in seen] == ["https://tunnistus.test/metadata"]
    assert seen[0].extensions["timeout"] == dict.fromkeys(
        ("connect", "read", "write", "pool"), 10.0
    )


async def test_the_background_loop_outlives_a_crashing_refresh(
    sp: ServiceProvider,
    keys: Keys,
    clock: FrozenClock,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A refresh that raises something other than the IdP's unavailability (here the xmlsec1
    program gone from under the xmlsec1 backend) is logged with its trace and tried again."""
    path = tmp_path / "idp.xml"
    path.write_text(signed_entity(keys))
    broken = ServiceProvider(
        sp.entity_id, sp.key_source, xmlsec_binary="", crypto_backend="xmlsec1"
    )
    cache = cache_for(broken, clock, metadata_file=path)
    crashes: list[logging.LogRecord] = []
    with caplog.at_level(logging.ERROR, logger="broker.upstream.saml.connector"):
        task = asyncio.create_task(cache.keep_fresh(0.01))
        for _ in range(1000):
            crashes = [r for r in caplog.records if r.levelno == logging.ERROR]
            if len(crashes) >= 2 or task.done():
                break
            await asyncio.sleep(0.01)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    assert [r.getMessage() for r in crashes[:2]] == [
        "idp suomifi: metadata refresh crashed; will retry"
    ] * 2
    assert crashes[0].exc_info is not None and crashes[0].exc_info[0] is ConfigError


async def test_a_metadata_file_changed_in_size_or_time_only_or_removed_is_looked_at(
    sp: ServiceProvider,
    keys: Keys,
    clock: FrozenClock,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The clock stands still: only the file's stamp (mtime, size) makes the refresh due. A
    removed file is a failed refresh: the held metadata keeps serving."""
    path = tmp_path / "idp.xml"
    path.write_text(signed_entity(keys))
    stamp = path.stat().st_mtime_ns
    cache = cache_for(sp, clock, [keys.signer.cert_file], metadata_file=path)
    await cache.refresh_if_due()
    same_size = "https://tunnistus.test/ssx"  # as long as SSO
    path.write_text(signed_entity(keys, sso=same_size))
    os.utime(path, ns=(stamp + 10**9, stamp + 10**9))
    await cache.refresh_if_due()
    assert sso_of(await cache.get()) == same_size
    path.write_text(signed_entity(keys, sso=NEW_SSO))  # longer, at the same mtime
    os.utime(path, ns=(stamp + 10**9, stamp + 10**9))
    await cache.refresh_if_due()
    assert sso_of(await cache.get()) == NEW_SSO
    client = await cache.get()
    caplog.clear()
    with caplog.at_level(logging.DEBUG, logger="broker"):
        await cache.refresh_if_due()  # nothing changed: not looked at again
    assert await cache.get() is client
    assert [r.getMessage() for r in caplog.records if r.name.startswith("broker")] == []
    path.unlink()
    await cache.refresh_if_due()
    assert sso_of(await cache.get()) == NEW_SSO and cache.usable


async def test_metadata_without_valid_until_is_logged_once_and_a_zero_cache_duration_refetches(
    sp: ServiceProvider,
    keys: Keys,
    clock: FrozenClock,
    published: Published,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Metadata that never expires is worth one warning to the operator, not one per refresh;
    a cacheDuration of zero makes every background pass fetch again."""
    published.body = signed_entity(keys, cache_duration="PT0S")
    cache = cache_for(sp, clock, [keys.signer.cert_file], metadata_url=published.url)
    with caplog.at_level(logging.INFO, logger="broker.upstream.saml.connector"):
        await cache.refresh_if_due()
        await cache.refresh_if_due()
    assert published.hits == 2
    assert [(r.levelno, r.getMessage()) for r in caplog.records if r.name.startswith("broker")] == [
        (logging.WARNING, "idp suomifi: metadata has no validUntil; it serves until replaced"),
        (logging.INFO, "idp suomifi: SAML metadata loaded"),
        (logging.INFO, "idp suomifi: SAML metadata loaded"),
    ]
    caplog.clear()
    published.body = signed_entity(keys, valid_until=clock.now() + 600)
    cache = cache_for(sp, clock, [keys.signer.cert_file], metadata_url=published.url)
    with caplog.at_level(logging.INFO, logger="broker.upstream.saml.connector"):
        await cache.refresh_if_due()
    assert [r.getMessage() for r in caplog.records if r.name.startswith("broker")] == [
        "idp suomifi: SAML metadata loaded"
    ]


async def test_metadata_pysaml2_cannot_use_is_refused_by_the_kind_of_error(
    sp: ServiceProvider, clock: FrozenClock, tmp_path: Path
) -> None:
    """Well-formed, but not valid SAML metadata (an IDPSSODescriptor without its required
    protocolSupportEnumeration): pysaml2's error is named, not raised as it is."""
    path = tmp_path / "idp.xml"
    path.write_text(
        f'<md:EntityDescriptor xmlns:md="{md.MD}" entityID="{IDP_ENTITY_ID}">'
        "<md:IDPSSODescriptor/></md:EntityDescriptor>"
    )
    cache = cache_for(sp, clock, metadata_file=path)
    assert await refusal_of(cache) == "suomifi: metadata unusable: AttributeError"


async def test_the_client_decrypts_by_the_idps_own_encryption_policy(
    sp: ServiceProvider, keys: Keys, clock: FrozenClock, published: Published
) -> None:
    """An organisation IdP allowed AES-CBC (in a signed Response): the client built on its
    metadata decrypts with that policy, not the default one, which refuses AES-CBC."""
    published.body = signed_entity(keys)
    connector = SAMLConnector(
        idp(
            [keys.signer.cert_file],
            metadata_url=published.url,
            encryption_algorithms=("aes256-gcm", "aes256-cbc", "rsa-oaep-mgf1p"),
        ),
        sp,
        clock,
        acs_url=ACS_URL,
        remember_assertion=Replays(),
        require_encrypted_assertions=True,
    )
    forge = Forge(keys.idp_old, sp.keys.cert_file, keys.stranger)
    saved, statement = await begin(connector)
    assertion = forge.encrypted(forge.assertion(statement), data_alg=AES256_CBC)
    assert (await connector.finish(posted(forge.response(statement, assertion)), saved)).subject
