"""`check_metadata_signature`'s rules that come before any cryptography (the shape of the root's
signature) and the configured certificates' validity period with the clock skew, each by its exact
refusal. The signatures themselves, made by xmlsec1, are checked in test_metadata.py."""

from __future__ import annotations

import datetime
import shutil
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from broker.errors import UpstreamUnavailableError
from broker.upstream.saml import metadata_signature
from broker.upstream.saml.metadata_document import parse_metadata
from broker.upstream.saml.metadata_signature import check_metadata_signature
from tests.certificates import self_signed

MD = "urn:oasis:names:tc:SAML:2.0:metadata"
DS = "http://www.w3.org/2000/09/xmldsig#"
EXC = "http://www.w3.org/2001/10/xml-exc-c14n#"
INCLUSIVE = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315"
ENVELOPED = DS + "enveloped-signature"
XPATH = "http://www.w3.org/TR/1999/REC-xpath-19991116"
RSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
RSA_SHA1 = DS + "rsa-sha1"
SHA256 = "http://www.w3.org/2001/04/xmlenc#sha256"
NOT_BEFORE = datetime.datetime(2027, 1, 1, tzinfo=datetime.UTC)
NOT_AFTER = datetime.datetime(2028, 1, 1, tzinfo=datetime.UTC)
SKEW = 60


def reference(
    uri: str = "#_m", transforms: tuple[str, ...] = (ENVELOPED, EXC), digest: str = SHA256
) -> str:
    steps = "".join(f'<ds:Transform Algorithm="{t}"/>' for t in transforms)
    return (
        f'<ds:Reference URI="{uri}"><ds:Transforms>{steps}</ds:Transforms>'
        f'<ds:DigestMethod Algorithm="{digest}"/><ds:DigestValue>AA==</ds:DigestValue>'
        "</ds:Reference>"
    )


def signature(
    c14n: str | None = EXC, method: str = RSA_SHA256, references: str | None = None
) -> str:
    canonical = f'<ds:CanonicalizationMethod Algorithm="{c14n}"/>' if c14n else ""
    refs = reference() if references is None else references
    return (
        f'<ds:Signature xmlns:ds="{DS}"><ds:SignedInfo>{canonical}'
        f'<ds:SignatureMethod Algorithm="{method}"/>{refs}</ds:SignedInfo>'
        "<ds:SignatureValue>AA==</ds:SignatureValue></ds:Signature>"
    )


def metadata(
    signatures: str = "", *, tag: str = "EntityDescriptor", id_attribute: str = ' ID="_m"'
) -> str:
    return (
        f'<md:{tag} xmlns:md="{MD}"{id_attribute} entityID="https://idp.test">{signatures}'
        f'<md:IDPSSODescriptor protocolSupportEnumeration="x"/></md:{tag}>'
    )


def certificate(directory: Path, name: str = "signer") -> Path:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    cert = self_signed(key, name, not_before=NOT_BEFORE, not_after=NOT_AFTER)
    path = directory / f"{name}.crt"
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return path


@pytest.fixture(scope="module")
def cert(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return certificate(tmp_path_factory.mktemp("metadata-signer"))


def refusal(xml: str, certificates: list[Path], now: datetime.datetime) -> str:
    with pytest.raises(UpstreamUnavailableError) as caught:
        check_metadata_signature(
            "org",
            xml.encode(),
            parse_metadata("org", xml.encode()),
            certificates,
            now=now.timestamp(),
            skew=SKEW,
            backend="xmlsec",
        )
    prefix = "org: metadata signature: "
    assert caught.value.detail.startswith(prefix)
    return caught.value.detail.removeprefix(prefix)


WITHIN = datetime.datetime(2027, 6, 1, tzinfo=datetime.UTC)
BAD_SIGNATURE = "not valid by any configured certificate"


@pytest.mark.parametrize(
    ("xml", "problem"),
    [
        (
            metadata(signature(), tag="AffiliationDescriptor"),
            "the root is not an EntityDescriptor or EntitiesDescriptor",
        ),
        (metadata(signature(), id_attribute=""), "the root has no ID to sign"),
        (metadata(signature(), id_attribute=' ID=""'), "the root has no ID to sign"),
        (
            metadata(signature() + '<md:Extensions ID="_m"/>'),
            "the root's ID is not unique",
        ),
        (metadata(), "missing"),
        (metadata(signature() + signature()), "2 signatures on the root, wanted one"),
        (
            metadata(f'<ds:Signature xmlns:ds="{DS}"/>'),
            "no SignedInfo",
        ),
        (metadata(signature(c14n=INCLUSIVE)), "canonicalisation not exclusive c14n"),
        (metadata(signature(c14n=None)), "canonicalisation not exclusive c14n"),
        (metadata(signature(method=RSA_SHA1)), "weak or unknown signature algorithm"),
        (metadata(signature(references="")), "0 references, wanted one"),
        (
            metadata(signature(references=reference() + reference())),
            "2 references, wanted one",
        ),
        (metadata(signature(references=reference("#_other"))), "the reference is not to the root"),
        (metadata(signature(references=reference(""))), "the reference is not to the root"),
        (
            metadata(signature(references=reference(transforms=(EXC,)))),
            "transforms other than enveloped-signature and exclusive c14n",
        ),
        (
            metadata(signature(references=reference(transforms=(ENVELOPED, EXC, XPATH)))),
            "transforms other than enveloped-signature and exclusive c14n",
        ),
        (
            metadata(signature(references=reference(digest=DS + "sha1"))),
            "weak or unknown digest algorithm",
        ),
    ],
)
def test_the_shape_of_the_roots_signature(xml: str, problem: str, cert: Path) -> None:
    assert refusal(xml, [cert], WITHIN) == problem


@pytest.mark.parametrize(
    "xml",
    [
        metadata(signature()),
        metadata(signature(), tag="EntitiesDescriptor"),
        metadata(signature(c14n=EXC + "WithComments")),
        metadata(signature(references=reference(transforms=(ENVELOPED,)))),
        metadata(signature(references=reference(transforms=(EXC + "WithComments", ENVELOPED)))),
        # every allowed transform at once is still only allowed transforms
        metadata(
            signature(references=reference(transforms=(ENVELOPED, EXC, EXC + "WithComments")))
        ),
    ],
)
def test_an_acceptable_shape_goes_on_to_the_cryptography(xml: str, cert: Path) -> None:
    assert refusal(xml, [cert], WITHIN) == BAD_SIGNATURE


@pytest.mark.parametrize(
    ("now", "within"),
    [
        (NOT_BEFORE - datetime.timedelta(seconds=SKEW), True),
        (NOT_BEFORE - datetime.timedelta(seconds=SKEW + 1), False),
        (NOT_AFTER + datetime.timedelta(seconds=SKEW), True),
        (NOT_AFTER + datetime.timedelta(seconds=SKEW + 1), False),
    ],
)
def test_a_certificate_counts_within_its_validity_and_the_skew(
    now: datetime.datetime, within: bool, cert: Path
) -> None:
    outside = "no configured certificate is within its validity period (expired, or not yet valid)"
    assert refusal(metadata(signature()), [cert], now) == (BAD_SIGNATURE if within else outside)


def test_an_unusable_certificate_is_named_in_the_refusal(cert: Path, tmp_path: Path) -> None:
    missing, garbage = tmp_path / "missing.crt", tmp_path / "garbage.crt"
    garbage.write_text("not a certificate")
    xml = metadata(signature())
    assert refusal(xml, [cert, missing], WITHIN) == BAD_SIGNATURE + " within its validity period"
    assert refusal(xml, [garbage, cert], WITHIN) == BAD_SIGNATURE + " within its validity period"
    assert refusal(xml, [cert, cert], WITHIN) == BAD_SIGNATURE


def fake_xmlsec1(directory: Path, script: str) -> None:
    """An `xmlsec1` on PATH (and nothing else) that runs `script`."""
    program = directory / "xmlsec1"
    program.write_text(f"#!/bin/sh\n{script}\n")
    program.chmod(0o755)


def check_by_xmlsec1(xml: bytes, cert: Path) -> None:
    check_metadata_signature(
        "org",
        xml,
        parse_metadata("org", xml),
        [cert],
        now=WITHIN.timestamp(),
        skew=SKEW,
        backend="xmlsec1",
    )


@pytest.mark.parametrize(
    ("script", "verified"),
    [("echo OK >&2", True), ("echo FAIL >&2", False), ("echo OK >&2; exit 1", False)],
    ids=["ok", "exit-0-without-ok", "ok-with-exit-1"],
)
def test_xmlsec1_vouches_only_by_exit_status_0_and_ok(
    cert: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, script: str, verified: bool
) -> None:
    fake_xmlsec1(tmp_path, script)
    monkeypatch.setenv("PATH", str(tmp_path))
    xml = metadata(signature()).encode()
    if verified:
        check_by_xmlsec1(xml, cert)
        return
    with pytest.raises(UpstreamUnavailableError) as caught:
        check_by_xmlsec1(xml, cert)
    assert caught.value.detail == "org: metadata signature: " + BAD_SIGNATURE


def test_an_xmlsec1_that_does_not_answer_is_a_refusal(
    cert: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The xmlsec1 backend waits for the program a bounded time (here cut to a fraction of a
    second), then refuses: a hung program must not hold the metadata refresh for ever, and
    what it says after the time is up counts for nothing."""
    fake_xmlsec1(tmp_path, f"{shutil.which('sleep')} 5; echo OK >&2")
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(metadata_signature, "_TIMEOUT_SECONDS", 0.2)
    with pytest.raises(UpstreamUnavailableError) as caught:
        check_by_xmlsec1(metadata(signature()).encode(), cert)
    assert caught.value.detail == "org: metadata signature: " + BAD_SIGNATURE


def test_the_xmlsec1_backend_without_the_program_says_so(
    cert: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no xmlsec1 there
    with pytest.raises(UpstreamUnavailableError) as caught:
        check_by_xmlsec1(metadata(signature()).encode(), cert)
    assert caught.value.detail == "org: metadata signature: xmlsec1 is not installed"
