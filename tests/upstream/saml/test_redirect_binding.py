"""The HTTP-Redirect binding: what the broker signs verifies as another party would check it, and
a received message is checked over its query string exactly as sent (SAML Bindings §3.4.4.1)."""

from __future__ import annotations

import base64
import datetime
import re
import zlib
from urllib.parse import quote, quote_plus, urlsplit

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from broker.upstream.saml.redirect_binding import (
    SIG_RSA_SHA256,
    RedirectBindingError,
    decode,
    encode,
)

XML = '<samlp:LogoutResponse xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="_1"/>'
RSA_SHA1 = "http://www.w3.org/2000/09/xmldsig#rsa-sha1"


@pytest.fixture(scope="module")
def key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def certificate(key: rsa.RSAPrivateKey) -> str:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    return base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()


def by_hand(
    key: rsa.RSAPrivateKey,
    *,
    escape: str = "upper",
    sig_alg: str = SIG_RSA_SHA256,
    relay_state: str = "r/1 ~",
    xml: bytes = XML.encode(),
) -> str:
    """A query string as another implementation writes it: its own percent-escapes."""
    deflater = zlib.compressobj(wbits=-15)
    encoded = base64.b64encode(deflater.compress(xml) + deflater.flush()).decode()

    def esc(value: str) -> str:  # "%20" for a space, and perhaps lower-case hex digits
        text = quote(value, safe="~")
        return re.sub("%[0-9A-F]{2}", lambda m: m[0].lower(), text) if escape == "lower" else text

    signed = f"SAMLResponse={esc(encoded)}&RelayState={esc(relay_state)}&SigAlg={esc(sig_alg)}"
    digest = hashes.SHA1() if sig_alg == RSA_SHA1 else hashes.SHA256()  # noqa: S303 - the attack
    signature = key.sign(signed.encode(), padding.PKCS1v15(), digest)
    return f"{signed}&Signature={quote_plus(base64.b64encode(signature).decode())}"


def test_what_the_broker_signs_verifies_and_decodes(key: rsa.RSAPrivateKey) -> None:
    url = encode("https://idp.example/slo?x=1", "SAMLRequest", XML, "relay", key)
    assert url.startswith("https://idp.example/slo?x=1&SAMLRequest=")
    message = decode(urlsplit(url).query.removeprefix("x=1&"))
    message.verify([certificate(key)])
    assert (message.kind, message.relay_state) == ("SAMLRequest", "relay")
    assert message.xml.decode() == XML


@pytest.mark.parametrize("escape", ["upper", "lower"])
def test_the_signature_is_checked_over_the_escapes_as_sent(
    key: rsa.RSAPrivateKey, escape: str
) -> None:
    message = decode(by_hand(key, escape=escape))
    message.verify([certificate(key)])
    assert message.relay_state == "r/1 ~"


def test_another_key_a_changed_message_and_sha1_are_refused(key: rsa.RSAPrivateKey) -> None:
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with pytest.raises(RedirectBindingError, match="not by the sender"):
        decode(by_hand(other)).verify([certificate(key)])
    changed = by_hand(key).replace("RelayState=r", "RelayState=R")
    with pytest.raises(RedirectBindingError, match="not by the sender"):
        decode(changed).verify([certificate(key)])
    with pytest.raises(RedirectBindingError, match="SigAlg"):
        decode(by_hand(key, sig_alg=RSA_SHA1))


@pytest.mark.parametrize(
    ("query", "why"),
    [
        ("SAMLResponse=abc", "not signed"),
        ("RelayState=x&SigAlg=y&Signature=z", "exactly one"),
        ("SAMLResponse=a&SAMLRequest=b&SigAlg=y&Signature=z", "exactly one"),
        ("SAMLResponse=a&SAMLResponse=b", "repeated"),
        (f"SAMLResponse=%21%21&SigAlg={quote_plus(SIG_RSA_SHA256)}&Signature=eA==", "base64"),
        ("SAMLResponse=" + "A" * 40_000, "too long"),
    ],
)
def test_malformed_queries_are_refused(query: str, why: str) -> None:
    with pytest.raises(RedirectBindingError, match=why):
        decode(query)


def test_a_message_that_inflates_too_far_is_refused(key: rsa.RSAPrivateKey) -> None:
    bomb = b"<a>" + b" " * 10_000_000 + b"</a>"
    with pytest.raises(RedirectBindingError, match="too large"):
        decode(by_hand(key, xml=bomb))
