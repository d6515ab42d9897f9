"""The HTTP-Redirect binding: what the broker signs verifies as another party would check it, and
a received message is checked over its query string exactly as sent (SAML Bindings §3.4.4.1)."""

from __future__ import annotations

import base64
import re
import zlib
from urllib.parse import quote, quote_plus, unquote_plus, urlsplit

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from broker.upstream.saml.redirect_binding import (
    SIG_RSA_SHA256,
    RedirectBindingError,
    decode,
    encode,
)
from tests.certificates import self_signed

XML = '<samlp:LogoutResponse xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="_1"/>'
RSA_SHA1 = "http://www.w3.org/2000/09/xmldsig#rsa-sha1"
_DEFLATER = zlib.compressobj(wbits=-15)
DEFLATED = quote_plus(
    base64.b64encode(_DEFLATER.compress(XML.encode()) + _DEFLATER.flush()).decode()
)


@pytest.fixture(scope="module")
def key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def certificate(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> str:
    cert = self_signed(key, "test")
    return base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()


def by_hand(
    key: rsa.RSAPrivateKey,
    *,
    escape: str = "upper",
    sig_alg: str = SIG_RSA_SHA256,
    relay_state: str | None = "r/1 ~",
    xml: bytes = XML.encode(),
    digest: hashes.HashAlgorithm | None = None,
) -> str:
    """A query string as another implementation writes it: its own percent-escapes."""
    deflater = zlib.compressobj(wbits=-15)
    encoded = base64.b64encode(deflater.compress(xml) + deflater.flush()).decode()

    def esc(value: str) -> str:  # "%20" for a space, and perhaps lower-case hex digits
        text = quote(value, safe="~")
        return re.sub("%[0-9A-F]{2}", lambda m: m[0].lower(), text) if escape == "lower" else text

    relay = "" if relay_state is None else f"&RelayState={esc(relay_state)}"
    signed = f"SAMLResponse={esc(encoded)}{relay}&SigAlg={esc(sig_alg)}"
    if digest is None:
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
    with pytest.raises(RedirectBindingError, match=r"^SigAlg is not RSA-SHA256, -384 or -512$"):
        decode(by_hand(key, sig_alg=RSA_SHA1))


@pytest.mark.parametrize(
    ("query", "why"),
    [
        ("SAMLResponse=abc", "^message is not signed$"),
        ("RelayState=x&SigAlg=y&Signature=z", "^not exactly one SAMLRequest or SAMLResponse$"),
        (
            "SAMLResponse=a&SAMLRequest=b&SigAlg=y&Signature=z",
            "^not exactly one SAMLRequest or SAMLResponse$",
        ),
        ("SAMLResponse=a&SAMLResponse=b", "^SAMLResponse repeated$"),
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


def test_the_url_is_what_the_bindings_say(key: rsa.RSAPrivateKey) -> None:
    """Read with nothing of the module: parameters in the order of §3.4.4.1, the DEFLATE
    (raw, no zlib header) of the UTF-8 XML, an RSA-SHA256 signature over the octets as sent."""
    xml = XML.replace('ID="_1"', 'ID="_1" Reason="Äiti"')
    url = encode("https://idp.example/slo", "SAMLRequest", xml, "r/1 ~", key)
    location, query = url.split("?")
    assert location == "https://idp.example/slo"
    pairs = [part.split("=", 1) for part in query.split("&")]
    assert [name for name, _ in pairs] == ["SAMLRequest", "RelayState", "SigAlg", "Signature"]
    values = {name: unquote_plus(value) for name, value in pairs}
    assert values["RelayState"] == "r/1 ~" and values["SigAlg"] == SIG_RSA_SHA256
    deflated = base64.b64decode(values["SAMLRequest"], validate=True)
    assert zlib.decompress(deflated, wbits=-15).decode("utf-8") == xml
    signed = query.rsplit("&Signature=", 1)[0].encode("ascii")
    signature = base64.b64decode(values["Signature"], validate=True)
    key.public_key().verify(signature, signed, padding.PKCS1v15(), hashes.SHA256())


@pytest.mark.parametrize("relay_state", [None, ""])
def test_without_relay_state_the_url_has_none(
    key: rsa.RSAPrivateKey, relay_state: str | None
) -> None:
    url = encode("https://idp.example/slo", "SAMLResponse", XML, relay_state, key)
    assert url.startswith("https://idp.example/slo?SAMLResponse=")
    assert "RelayState" not in url
    message = decode(urlsplit(url).query)
    message.verify([certificate(key)])
    assert (message.kind, message.relay_state) == ("SAMLResponse", None)


def test_a_message_without_relay_state_is_checked_over_what_was_sent(
    key: rsa.RSAPrivateKey,
) -> None:
    message = decode(by_hand(key, relay_state=None))
    message.verify([certificate(key)])
    assert message.relay_state is None
    assert message.signed.startswith(b"SAMLResponse=") and b"RelayState" not in message.signed


@pytest.mark.parametrize(
    ("sig_alg", "digest"),
    [
        ("http://www.w3.org/2001/04/xmldsig-more#rsa-sha384", hashes.SHA384()),
        ("http://www.w3.org/2001/04/xmldsig-more#rsa-sha512", hashes.SHA512()),
    ],
    ids=["sha384", "sha512"],
)
def test_rsa_sha384_and_sha512_are_accepted(
    key: rsa.RSAPrivateKey, sig_alg: str, digest: hashes.HashAlgorithm
) -> None:
    message = decode(by_hand(key, sig_alg=sig_alg, digest=digest))
    assert message.sig_alg == sig_alg
    message.verify([certificate(key)])
    # the SigAlg is the one signed with: the same signature under SHA-256 is refused
    claimed = by_hand(key, sig_alg=sig_alg, digest=hashes.SHA256())
    with pytest.raises(RedirectBindingError, match="not by the sender"):
        decode(claimed).verify([certificate(key)])


def test_any_of_the_metadata_certificates_may_have_signed(key: rsa.RSAPrivateKey) -> None:
    """During the IdP's key rollover its metadata lists two signing certificates."""
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    message = decode(by_hand(key))
    message.verify([certificate(other), certificate(key)])
    message.verify([certificate(key), certificate(other)])
    with pytest.raises(
        RedirectBindingError, match=r"^signature is not by the sender's metadata key$"
    ):
        message.verify([certificate(other)])
    with pytest.raises(RedirectBindingError, match="not by the sender"):
        message.verify([])


def test_a_certificate_split_over_lines_is_read(key: rsa.RSAPrivateKey) -> None:
    cert = certificate(key)
    message = decode(by_hand(key))
    message.verify(["\n  ".join(cert[i : i + 64] for i in range(0, len(cert), 64))])


@pytest.mark.parametrize(
    ("cert", "why"),
    [
        ("not a certificate!", "unreadable certificate in the sender's metadata"),
        (base64.b64encode(b"\x30\x03\x02\x01\x01").decode(), "unreadable certificate"),
        ("ec", "the sender's metadata key is not RSA"),
    ],
    ids=["not-base64", "not-der", "ec"],
)
def test_a_metadata_certificate_that_cannot_check_it_is_refused(
    key: rsa.RSAPrivateKey, cert: str, why: str
) -> None:
    if cert == "ec":
        cert = certificate(ec.generate_private_key(ec.SECP256R1()))
    with pytest.raises(RedirectBindingError, match=f"^{why}"):
        decode(by_hand(key)).verify([cert])


def test_the_encoding_may_be_named_and_must_be_deflate(key: rsa.RSAPrivateKey) -> None:
    deflate = quote_plus("urn:oasis:names:tc:SAML:2.0:bindings:URL-Encoding:DEFLATE")
    assert decode(f"{by_hand(key)}&SAMLEncoding={deflate}").kind == "SAMLResponse"
    with pytest.raises(RedirectBindingError, match=r"^SAMLEncoding is not DEFLATE$"):
        decode(f"{by_hand(key)}&SAMLEncoding=urn%3Aexample%3Aplain")


def test_empty_parts_of_the_query_are_skipped(key: rsa.RSAPrivateKey) -> None:
    message = decode("&" + by_hand(key).replace("&SigAlg", "&&SigAlg") + "&")
    message.verify([certificate(key)])


def test_a_parameter_repeated_under_an_escaped_name_is_refused(key: rsa.RSAPrivateKey) -> None:
    """`SAMLRespons%65` is SAMLResponse to any URL decoder: two messages in one query."""
    with pytest.raises(RedirectBindingError, match=r"^SAMLResponse repeated$"):
        decode(by_hand(key) + "&SAMLRespons%65=eA%3D%3D")


@pytest.mark.parametrize(
    ("query", "why"),
    [
        ("SAMLResponse=eA%3D%3D&Signature=eA%3D%3D", "^message is not signed$"),
        (f"SAMLResponse=eA%3D%3D&SigAlg={quote_plus(SIG_RSA_SHA256)}", "^message is not signed$"),
        ("SAMLResponse=ä", "^query string is not URL-encoded$"),
        (
            f"SAMLResponse={DEFLATED}&SigAlg={quote_plus(SIG_RSA_SHA256)}&Signature=%21",
            "^parameter is not base64$",
        ),
        (
            f"SAMLResponse=%2F%2F%2F%2F&SigAlg={quote_plus(SIG_RSA_SHA256)}&Signature=eA%3D%3D",
            "^message is not DEFLATE-compressed$",
        ),
        ("SAMLResponse=" + "A" * (32 * 1024 - len("SAMLResponse=")), "^message is not signed$"),
        ("SAMLResponse=" + "A" * (32 * 1024 - len("SAMLResponse=") + 1), "^query string too long$"),
    ],
    ids=[
        "no-sig-alg",
        "no-signature",
        "raw-utf8",
        "signature-not-base64",
        "not-deflate",
        "longest",
        "one-too-long",
    ],
)
def test_each_malformed_query_is_refused_with_its_reason(query: str, why: str) -> None:
    with pytest.raises(RedirectBindingError, match=why):
        decode(query)


def test_a_message_of_the_largest_size_inflates(key: rsa.RSAPrivateKey) -> None:
    largest = b"<a>" + b" " * (128 * 1024 - 7) + b"</a>"
    assert decode(by_hand(key, xml=largest)).xml == largest


@pytest.mark.parametrize("extra", [1, 100, 10_000])
def test_a_message_past_the_largest_size_is_refused_not_cut(
    key: rsa.RSAPrivateKey, extra: int
) -> None:
    """zlib may take in all the input and still hold output past the limit: a check of the
    input left over alone let such a message through, cut at 128 KiB."""
    larger = b"<a>" + b" " * (128 * 1024 - 7 + extra) + b"</a>"
    with pytest.raises(RedirectBindingError, match=r"^message too large$"):
        decode(by_hand(key, xml=larger))


def test_a_deflate_stream_cut_short_is_refused(key: rsa.RSAPrivateKey) -> None:
    """What a cut stream inflates to is not the message that was sent."""
    deflater = zlib.compressobj(wbits=-15)
    deflated = deflater.compress(XML.encode() * 50) + deflater.flush()
    cut = quote_plus(base64.b64encode(deflated[: len(deflated) // 2]).decode())
    query = f"SAMLResponse={cut}&SigAlg={quote_plus(SIG_RSA_SHA256)}&Signature=eA%3D%3D"
    with pytest.raises(RedirectBindingError, match=r"^message is not DEFLATE-compressed \(cut"):
        decode(query)
