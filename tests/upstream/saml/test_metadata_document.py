"""`metadata_document` on its own: the guards before the parse, validUntil and cacheDuration read
strictly (the strictest of root, entity and role), publication times, and which of two documents
is older. Pure functions on XML text; what the cache does with them is in test_metadata.py."""

from __future__ import annotations

import datetime
import time

import pytest

from broker.errors import UpstreamUnavailableError
from broker.upstream.saml.metadata_document import (
    MAX_METADATA_BYTES,
    Validity,
    parse_metadata,
    validity,
)

MD = "urn:oasis:names:tc:SAML:2.0:metadata"
RPI = "urn:oasis:names:tc:SAML:metadata:rpi"
IDP = "https://tunnistus.test/idp"
T0 = datetime.datetime(2027, 1, 15, 8, 0, tzinfo=datetime.UTC).timestamp()


def entity(
    entity_id: str = IDP,
    attributes: str = "",
    role: str | None = "",
    extensions: str = "",
    namespaces: str = "",
) -> str:
    """An EntityDescriptor with an IDPSSODescriptor carrying `role` (None: no IdP role)."""
    roles = f"<md:IDPSSODescriptor {role}/>" if role is not None else ""
    ext = f"<md:Extensions>{extensions}</md:Extensions>" if extensions else ""
    return (
        f'<md:EntityDescriptor{namespaces} entityID="{entity_id}" {attributes}>{ext}{roles}'
        "</md:EntityDescriptor>"
    )


def doc(body: str, attributes: str = "") -> bytes:
    """An EntitiesDescriptor around `body`."""
    return (
        f'<md:EntitiesDescriptor xmlns:md="{MD}" xmlns:mdrpi="{RPI}" {attributes}>'
        f"{body}</md:EntitiesDescriptor>"
    ).encode()


def single(attributes: str = "", role: str = "", extensions: str = "") -> bytes:
    """One EntityDescriptor as the root."""
    namespaces = f' xmlns:md="{MD}" xmlns:mdrpi="{RPI}"'
    return entity(IDP, attributes, role, extensions, namespaces).encode()


def read(xml: bytes, entity_id: str | None = IDP) -> Validity:
    return validity("org", parse_metadata("org", xml), entity_id)


def published(when: str) -> str:
    return f'<mdrpi:PublicationInfo creationInstant="{when}" publisher="p"/>'


# -- the guards ---------------------------------------------------------------------------------
def test_the_size_limit_is_exact() -> None:
    root = b"<a/>"
    padded = root + b" " * (MAX_METADATA_BYTES - len(root))
    assert parse_metadata("org", padded).tag == "a"
    with pytest.raises(UpstreamUnavailableError) as caught:
        parse_metadata("org", padded + b" ")
    assert caught.value.detail == "org: metadata larger than 4194304 bytes"


@pytest.mark.parametrize(
    ("xml", "detail"),
    [
        (b'<!DOCTYPE a [<!ENTITY b "c">]><a>&b;</a>', "org: metadata with a DOCTYPE"),
        (b"<a><b></a>", "org: metadata is not well-formed XML"),
    ],
)
def test_a_doctype_or_broken_xml_is_refused(xml: bytes, detail: str) -> None:
    with pytest.raises(UpstreamUnavailableError) as caught:
        parse_metadata("org", xml)
    assert caught.value.detail == detail


# -- validUntil -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "epoch"),
    [
        ("2027-01-15T08:00:00Z", T0),
        ("2027-01-15T08:00:00", T0),  # no offset: UTC, as SAML means
        ("2027-01-15T10:00:00+02:00", T0),
        (" 2027-01-15T08:00:00.5Z ", T0 + 0.5),
    ],
)
def test_valid_until_is_read_as_utc(text: str, epoch: float) -> None:
    assert read(single(f'validUntil="{text}"')) == Validity(epoch, None, None)


def test_a_time_without_offset_is_utc_whatever_the_hosts_time_zone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A broker run with TZ=Europe/Helsinki must not serve metadata two hours past validUntil
    (nor refuse it two hours early)."""
    monkeypatch.setenv("TZ", "Europe/Helsinki")
    time.tzset()
    try:
        found = read(
            single(
                'validUntil="2027-01-15T08:00:00"',
                extensions=published("2027-01-15T08:00:00"),
            )
        )
    finally:
        monkeypatch.undo()
        time.tzset()
    assert found == Validity(T0, None, T0)


def test_the_strictest_valid_until_and_cache_duration_count() -> None:
    body = entity(
        attributes='validUntil="2027-01-15T09:00:00Z" cacheDuration="PT2H"',
        role='validUntil="2027-01-15T08:30:00Z" cacheDuration="PT3H"',
    )
    other = entity(
        "https://other.test/idp",
        attributes='validUntil="2027-01-15T08:01:00Z" cacheDuration="PT1M"',
    )
    xml = doc(body + other, 'validUntil="2027-01-16T08:00:00Z" cacheDuration="PT4H"')
    assert read(xml) == Validity(T0 + 1800, 7200.0, None)
    assert read(xml, "https://other.test/idp") == Validity(T0 + 60, 60.0, None)
    # without an entity id: every entity with an IdP role, and only those
    no_role = entity("https://sp.test", attributes='cacheDuration="PT5S"', role=None)
    assert read(doc(body + other + no_role), None) == Validity(T0 + 60, 60.0, None)


def test_a_root_entity_counts_once_with_its_roles() -> None:
    xml = single('validUntil="2027-01-15T09:00:00Z"', 'validUntil="2027-01-15T08:10:00Z"')
    assert read(xml).valid_until == T0 + 600
    assert read(xml, "https://another.test").valid_until == T0 + 3600  # the root only


@pytest.mark.parametrize("text", ["tomorrow", "2027-13-01T00:00:00Z", ""])
def test_a_malformed_valid_until_is_refused(text: str) -> None:
    with pytest.raises(UpstreamUnavailableError) as caught:
        read(single(f'validUntil="{text}"'))
    assert caught.value.detail == "org: metadata validUntil is malformed"


# -- cacheDuration --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("PT45S", 45),
        ("PT1.5S", 1.5),
        ("PT2M", 120),
        ("PT3H", 10_800),
        ("P2D", 172_800),
        ("P1M", 28 * 86_400),  # a month: no longer than meant
        ("P1Y", 365 * 86_400),
        ("P1Y2M3DT4H5M6S", 365 * 86_400 + 2 * 28 * 86_400 + 3 * 86_400 + 4 * 3600 + 5 * 60 + 6),
        (" PT10M ", 600),
    ],
)
def test_cache_duration(text: str, seconds: float) -> None:
    assert read(single(f'cacheDuration="{text}"')).cache_duration == seconds


@pytest.mark.parametrize("text", ["P", "PT", "P1DT", "PT1D", "P1H", "10M", "P-1D", "PT1,5S", ""])
def test_a_malformed_cache_duration_is_refused(text: str) -> None:
    with pytest.raises(UpstreamUnavailableError) as caught:
        read(single(f'cacheDuration="{text}"'))
    assert caught.value.detail == "org: metadata cacheDuration is malformed"


# -- publication and rollback ---------------------------------------------------------------------
def test_the_latest_creation_instant_is_the_publication() -> None:
    extensions = published("2027-01-15T07:00:00Z") + published("2027-01-15T08:00:00Z")
    assert read(single(extensions=extensions)) == Validity(None, None, T0)
    without = '<mdrpi:PublicationInfo publisher="p"/>'
    assert read(single(extensions=without)).published is None
    with pytest.raises(UpstreamUnavailableError) as caught:
        read(single(extensions=published("soon")))
    assert caught.value.detail == "org: metadata creationInstant is malformed"


@pytest.mark.parametrize(
    ("mine", "held", "why"),
    [
        (Validity(T0 + 10, None, T0 - 1), Validity(T0, None, T0), "published earlier"),
        (Validity(T0 - 1, None, T0), Validity(T0, None, T0), "validUntil earlier"),
        (Validity(T0 - 1, None, None), Validity(T0, None, T0), "validUntil earlier"),
        (Validity(T0, None, T0), Validity(T0, None, T0), None),
        (Validity(T0 + 1, None, T0 + 1), Validity(T0, None, T0), None),
        (Validity(None, None, None), Validity(T0, 60, T0), None),
        (Validity(T0, None, None), Validity(None, None, T0 + 5), None),
    ],
)
def test_which_document_is_older(mine: Validity, held: Validity, why: str | None) -> None:
    assert mine.older_than(held) == why
