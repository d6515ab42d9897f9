"""`decryption` alone, with no RSA or AES: which xenc:EncryptedData is decrypted and under which
IdP policy, and how its cleartext (given here as the octets a backend would return) joins the
document in the context of its parent as the IdP sent it. test_encryption.py and test_crypto.py
show the same on real ciphertext through the connector and the backends.
"""

from __future__ import annotations

import pytest
from lxml import etree

from broker.upstream.saml.decryption import (
    XENC,
    Encrypted,
    EncryptionPolicy,
    EncryptionPolicyError,
    encrypted_part,
    received_response,
    replace_with_cleartext,
)
from broker.upstream.saml.pysaml2 import DecryptError

SAML = "urn:oasis:names:tc:SAML:2.0:assertion"
SAMLP = "urn:oasis:names:tc:SAML:2.0:protocol"
DS = "http://www.w3.org/2000/09/xmldsig#"
XENC11 = "http://www.w3.org/2009/xmlenc11#"
GCM = XENC11 + "aes256-gcm"
CBC = XENC + "aes256-cbc"
OAEP = XENC + "rsa-oaep-mgf1p"
RSA_1_5 = XENC + "rsa-1_5"
ELEMENT = XENC + "Element"
CONTENT = XENC + "Content"
LEGACY = EncryptionPolicy(frozenset({"aes256-gcm", "aes256-cbc", "rsa-oaep-mgf1p", "rsa-1_5"}))
ASSERTION = '<saml:Assertion ID="_a1"><saml:Issuer>idp</saml:Issuer></saml:Assertion>'
IN_PLACE = ASSERTION.replace(
    "<saml:Assertion",
    f'<saml:Assertion xmlns:saml="{SAML}" xmlns:samlp="{SAMLP}" xmlns:ds="{DS}"'
    f' xmlns:xenc="{XENC}"',
)
"""The assertion as placed: declaring every namespace in scope where it is, with its prefix (so
that its exclusive c14n stays what the IdP signed)."""


def key(algorithm: str | None = OAEP) -> str:
    method = f'<xenc:EncryptionMethod Algorithm="{algorithm}"/>' if algorithm else ""
    return (
        f"<xenc:EncryptedKey>{method}<xenc:CipherData><xenc:CipherValue>S0VZ"
        "</xenc:CipherValue></xenc:CipherData></xenc:EncryptedKey>"
    )


def data(
    algorithm: str | None = GCM,
    *,
    kind: str | None = ELEMENT,
    key_info: str | None = None,
    cipher: str = "Q0lQSEVS",
) -> str:
    method = f'<xenc:EncryptionMethod Algorithm="{algorithm}"/>' if algorithm else ""
    type_attribute = f' Type="{kind}"' if kind else ""
    return (
        f"<xenc:EncryptedData{type_attribute}>{method}"
        f"<ds:KeyInfo>{key() if key_info is None else key_info}</ds:KeyInfo>"
        f"<xenc:CipherData><xenc:CipherValue>{cipher}</xenc:CipherValue></xenc:CipherData>"
        "</xenc:EncryptedData>"
    )


def response(body: str, *, signed: bool = False, prefixes: str = "") -> str:
    signature = "<ds:Signature><ds:SignedInfo/></ds:Signature>" if signed else ""
    return (
        f'<samlp:Response xmlns:samlp="{SAMLP}" xmlns:saml="{SAML}" xmlns:ds="{DS}"'
        f' xmlns:xenc="{XENC}"{prefixes} ID="_r1"><saml:Issuer>idp</saml:Issuer>{signature}'
        f"{body}</samlp:Response>"
    )


def wrapped(*parts: str) -> str:
    return f"<saml:EncryptedAssertion>{''.join(parts)}</saml:EncryptedAssertion>"


def refusal(document: str, policy: EncryptionPolicy | None = None) -> str:
    with pytest.raises((EncryptionPolicyError, DecryptError)) as error:
        encrypted_part(document, policy or EncryptionPolicy())
    return f"{type(error.value).__name__}: {error.value}"


# -- the policy ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data_alg", "key_alg"),
    [
        (GCM, OAEP),
        (XENC11 + "aes128-gcm", XENC11 + "rsa-oaep"),
    ],
)
def test_gcm_and_oaep_are_allowed_by_default(data_alg: str, key_alg: str) -> None:
    part = encrypted_part(
        response(wrapped(data(data_alg, key_info=key(key_alg)))), EncryptionPolicy()
    )
    assert part.kind == ELEMENT


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (response(wrapped(data(CBC)), signed=True), "aes256-cbc"),
        (response(wrapped(data(key_info=key(RSA_1_5))), signed=True), "rsa-1_5"),
        (response(wrapped(data(CBC, key_info=key(RSA_1_5)))), "aes256-cbc, rsa-1_5"),
        (response(wrapped(data(XENC11 + "aes192-gcm"))), "aes192-gcm"),
        (response(wrapped(data("urn:example:rot13"))), "none"),
        (response(wrapped(data(None))), "none"),
        (response(wrapped(data(key_info=key(None)))), "none"),
        # an EncryptedKey anywhere counts: xmlsec1 may be pointed at it by a RetrievalMethod
        (response(wrapped(data(), key(RSA_1_5))), "rsa-1_5"),
        (
            response(wrapped(data()) + f"<samlp:Extensions>{key(RSA_1_5)}</samlp:Extensions>"),
            "rsa-1_5",
        ),
    ],
    ids=[
        "cbc",
        "rsa-1_5",
        "both-sorted",
        "unlisted-gcm",
        "unknown",
        "no-method",
        "key-no-method",
        "key-beside",
        "key-elsewhere",
    ],
)
def test_what_the_idp_may_not_use_is_refused_by_name(document: str, message: str) -> None:
    assert refusal(document) == (
        f"EncryptionPolicyError: encryption algorithm not allowed: {message}"
    )


@pytest.mark.parametrize(
    "document",
    [
        response(wrapped(data(CBC))),
        response(wrapped(data(key_info=key(RSA_1_5)))),
        # a signature elsewhere than on the Response itself does not cover the ciphertext
        response(wrapped(data(CBC)) + "<samlp:Extensions><ds:Signature/></samlp:Extensions>"),
        f'<saml:Assertion xmlns:saml="{SAML}" xmlns:ds="{DS}" xmlns:xenc="{XENC}">'
        f"<ds:Signature/>{data(CBC)}</saml:Assertion>",
    ],
    ids=["cbc", "rsa-1_5", "signature-nested", "not-a-response"],
)
def test_listed_cbc_and_rsa_1_5_are_refused_outside_a_signed_response(document: str) -> None:
    used = "aes256-cbc" if CBC in document else "rsa-1_5"
    assert refusal(document, LEGACY) == (
        f"EncryptionPolicyError: {used} only in a Response signed as a whole, and it is not"
    )


def test_both_legacy_algorithms_are_named_in_the_refusal() -> None:
    document = response(wrapped(data(CBC, key_info=key(RSA_1_5))))
    assert refusal(document, LEGACY) == (
        "EncryptionPolicyError: aes256-cbc, rsa-1_5 only in a Response signed as a whole,"
        " and it is not"
    )


def test_listed_cbc_and_rsa_1_5_are_used_in_a_signed_response() -> None:
    document = response(wrapped(data(CBC, key_info=key(RSA_1_5))), signed=True)
    assert encrypted_part(document, LEGACY).kind == ELEMENT
    assert refusal(document).endswith("not allowed: aes256-cbc, rsa-1_5")


def test_whether_the_response_is_signed_is_read_from_the_response_as_received() -> None:
    """pysaml2 hands over its own re-serialisation; the signature is judged on what was sent."""
    handed_over = response(wrapped(data(CBC)), signed=True)
    with received_response(response(wrapped(data(CBC))).encode()):
        assert refusal(handed_over, LEGACY).endswith("and it is not")
    with received_response(b"<not xml"):
        assert refusal(handed_over, LEGACY).endswith("and it is not")
    with received_response(response(wrapped(data(CBC)), signed=True).encode()):
        assert encrypted_part(response(wrapped(data(CBC))), LEGACY).kind == ELEMENT
    # and only while pysaml2 handles that Response
    assert encrypted_part(handed_over, LEGACY).kind == ELEMENT
    assert refusal(response(wrapped(data(CBC))), LEGACY).endswith("and it is not")


# -- which EncryptedData ------------------------------------------------------------------------


def test_the_first_encrypted_data_is_taken_its_type_removed() -> None:
    document = response(wrapped(data(cipher="Rklyc3Q=")) + wrapped(data(kind=CONTENT)))
    part = encrypted_part(document.encode(), EncryptionPolicy())
    assert part.kind == ELEMENT
    assert part.data.findtext(f"{{{XENC}}}CipherData/{{{XENC}}}CipherValue") == "Rklyc3Q="
    assert part.data.get("Type") is None  # so that a backend decrypts to octets
    assert part.data.getroottree().getroot() is part.root
    assert part.root.tag == f"{{{SAMLP}}}Response"


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ("<samlp:Response", "DecryptError: not well-formed XML"),
        ("<!DOCTYPE r>" + response(wrapped(data())), "DecryptError: a document with a DOCTYPE"),
        (response(ASSERTION), "DecryptError: no xenc:EncryptedData"),
        (
            response(wrapped(data(kind=None))),
            "DecryptError: EncryptedData is not of Type Element or Content",
        ),
        (
            response(wrapped(data(kind=XENC + "EncryptedKey"))),
            "DecryptError: EncryptedData is not of Type Element or Content",
        ),
        # the policy first: a refused algorithm is named whatever else is wrong
        (
            response(wrapped(data(CBC, kind=None))),
            "EncryptionPolicyError: encryption algorithm not allowed: aes256-cbc",
        ),
    ],
    ids=["not-xml", "doctype", "nothing-encrypted", "no-type", "other-type", "policy-first"],
)
def test_what_cannot_be_decrypted_as_xml_is_refused(document: str, message: str) -> None:
    assert refusal(document) == message


# -- the cleartext in its place -----------------------------------------------------------------


def part_of(document: str) -> Encrypted:
    return encrypted_part(document, EncryptionPolicy())


def test_an_element_replaces_the_encrypted_data_where_it_was() -> None:
    document = response(wrapped(data(), "<!-- after -->") + "<saml:Tail/>")
    joined = replace_with_cleartext(part_of(document), f"\n {ASSERTION} \n".encode())
    expected = wrapped(f"\n {IN_PLACE} \n", "<!-- after -->") + "<saml:Tail/>"
    assert joined == response(expected)


def test_a_decoy_of_the_placement_mark_does_not_move_the_cleartext() -> None:
    """The cleartext goes where the EncryptedData was, found by a processing instruction of
    random text: one of the same name placed earlier by the sender is left alone."""
    decoy = "<?broker-cleartext ?>"  # as lxml writes one without text
    document = response(decoy + wrapped(data()))
    joined = replace_with_cleartext(part_of(document), ASSERTION.encode())
    assert joined == response(decoy + wrapped(IN_PLACE))


def test_the_tail_of_the_encrypted_data_is_kept() -> None:
    document = response(f"<saml:EncryptedAssertion>{data()} tail </saml:EncryptedAssertion>")
    joined = replace_with_cleartext(part_of(document), ASSERTION.encode())
    assert joined == response(
        f"<saml:EncryptedAssertion>{IN_PLACE} tail </saml:EncryptedAssertion>"
    )


def test_content_may_be_text_and_elements_the_text_escaped() -> None:
    document = response(wrapped(data(kind=CONTENT)))
    cleartext = f"a &amp; b{ASSERTION}c &lt; d{ASSERTION}".encode()
    joined = replace_with_cleartext(part_of(document), cleartext)
    assert joined == response(wrapped(f"a &amp; b{IN_PLACE}c &lt; d{IN_PLACE}"))


@pytest.mark.parametrize(
    "cleartext",
    [ASSERTION * 2, "text" + ASSERTION, ASSERTION + "text", "only text", ""],
    ids=["two", "text-before", "text-after", "text", "empty"],
)
def test_cleartext_of_type_element_must_be_one_element(cleartext: str) -> None:
    with pytest.raises(DecryptError, match=r"^cleartext of Type Element is not one element$"):
        replace_with_cleartext(part_of(response(wrapped(data()))), cleartext.encode())


@pytest.mark.parametrize(
    "cleartext",
    [
        "<saml:Assertion>",
        "<!DOCTYPE a>" + ASSERTION,
        "<saml:Assertion>&undeclared;</saml:Assertion>",
        "<nowhere:Assertion/>",
    ],
    ids=["cut", "doctype", "entity", "undeclared-prefix"],
)
def test_cleartext_that_is_not_xml_in_its_context_is_refused(cleartext: str) -> None:
    with pytest.raises(DecryptError, match=r"^cleartext is not well-formed XML in its context$"):
        replace_with_cleartext(part_of(response(wrapped(data()))), cleartext.encode())


def test_an_encrypted_data_that_is_the_document_gives_its_element() -> None:
    document = (
        f'<xenc:EncryptedData xmlns:xenc="{XENC}" xmlns:ds="{DS}"'
        + data()[len("<xenc:EncryptedData") :]
    )
    lone = f'<saml:Assertion xmlns:saml="{SAML}" ID="_a1"/>'
    assert replace_with_cleartext(part_of(document), lone.encode()) == lone
    content = document.replace(ELEMENT, CONTENT)
    with pytest.raises(DecryptError, match=r"^an EncryptedData of Type Content as the document$"):
        replace_with_cleartext(part_of(content), lone.encode())


def test_the_cleartext_is_read_in_the_namespace_context_of_its_parent() -> None:
    """XML Encryption 1.1 §4.5.3: `saml2:` and the default namespace are declared only on the
    Response; a backend's re-serialisation may not carry them."""
    prefixes = f' xmlns:saml2="{SAML}" xmlns="urn:example:default"'
    document = response(wrapped(data()), prefixes=prefixes)
    joined = replace_with_cleartext(
        part_of(document), b'<saml2:Assertion ID="_a1"><Plain/></saml2:Assertion>'
    )
    assertion = etree.fromstring(joined).find(f".//{{{SAML}}}Assertion")
    assert assertion is not None and assertion.get("ID") == "_a1"
    assert assertion[0].tag == "{urn:example:default}Plain"


def test_the_context_is_the_parent_of_the_same_ciphertext_in_the_response_as_received() -> None:
    received = response(wrapped(data(cipher="Q0lQ\n SEVS")), prefixes=f' xmlns:s2="{SAML}"')
    handed_over = response(wrapped(data()))  # pysaml2's copy: no s2 prefix
    with received_response(received.encode()):
        joined = replace_with_cleartext(part_of(handed_over), b'<s2:Assertion ID="_a1"/>')
    assert etree.fromstring(joined).find(f".//{{{SAML}}}Assertion") is not None
    with pytest.raises(DecryptError, match="not well-formed"):  # outside: the copy's context
        replace_with_cleartext(part_of(handed_over), b'<s2:Assertion ID="_a1"/>')


def test_a_default_namespace_declared_only_as_received_is_honoured() -> None:
    """An IdP may write the assertion unprefixed under `xmlns` declared on its Response; in
    pysaml2's copy nothing declares it, so the cleartext's elements keep it only from the
    context as received."""
    received = response(wrapped(data()), prefixes=f' xmlns="{SAML}"')
    handed_over = response(wrapped(data()))
    with received_response(received.encode()):
        joined = replace_with_cleartext(
            part_of(handed_over), b'<Assertion ID="_a1"><Issuer/></Assertion>'
        )
    assertion = etree.fromstring(joined).find(f".//{{{SAML}}}Assertion")
    assert assertion is not None and assertion.get("ID") == "_a1"
    assert assertion[0].tag == f"{{{SAML}}}Issuer"


@pytest.mark.parametrize(
    ("received", "why"),
    [
        (response(wrapped(data(cipher="T1RIRVI=")), prefixes=f' xmlns:s2="{SAML}"'), "other"),
        (b"<not xml", "unreadable"),
    ],
)
def test_without_a_twin_as_received_the_handed_over_context_counts(
    received: str | bytes, why: str
) -> None:
    handed_over = response(wrapped(data()))
    with received_response(received if isinstance(received, bytes) else received.encode()):
        with pytest.raises(DecryptError, match="not well-formed"):
            replace_with_cleartext(part_of(handed_over), b'<s2:Assertion ID="_a1"/>')
        joined = replace_with_cleartext(part_of(handed_over), b'<saml:Assertion ID="_a1"/>')
    assert etree.fromstring(joined).find(f".//{{{SAML}}}Assertion") is not None


def test_an_empty_ciphertext_has_no_twin() -> None:
    received = response(wrapped(data(cipher="")), prefixes=f' xmlns:s2="{SAML}"')
    handed_over = part_of(response(wrapped(data(cipher=""))))
    with received_response(received.encode()), pytest.raises(DecryptError, match="not well-"):
        replace_with_cleartext(handed_over, b"<s2:A/>")


def test_a_ciphertext_by_reference_has_no_twin() -> None:
    """No CipherValue (a CipherReference): nothing to compare, so the context is the copy's."""
    by_reference = data().replace(
        "<xenc:CipherValue>Q0lQSEVS</xenc:CipherValue>", '<xenc:CipherReference URI="#c"/>'
    )
    received = response(wrapped(by_reference), prefixes=f' xmlns:s2="{SAML}"')
    handed_over = part_of(response(wrapped(by_reference)))
    with received_response(received.encode()), pytest.raises(DecryptError, match="not well-"):
        replace_with_cleartext(handed_over, b"<s2:A/>")


def test_only_an_encrypted_data_is_a_twin() -> None:
    """An EncryptedKey whose CipherValue happens to be the data's is no second ciphertext."""
    same = key().replace("S0VZ", "Q0lQSEVS")
    received = response(wrapped(data(key_info=same)), prefixes=f' xmlns:s2="{SAML}"')
    handed_over = part_of(response(wrapped(data(key_info=same))))
    with received_response(received.encode()):
        joined = replace_with_cleartext(handed_over, b'<s2:Assertion ID="_a1"/>')
    assert etree.fromstring(joined).find(f".//{{{SAML}}}Assertion") is not None


def test_the_same_ciphertext_twice_as_received_is_refused() -> None:
    """Which context would count is then a guess: an attacker's copy may bind the prefixes."""
    received = response(wrapped(data()) + wrapped(data()))
    handed_over = part_of(response(wrapped(data())))
    with (
        received_response(received.encode()),
        pytest.raises(DecryptError, match=r"^the same ciphertext twice in the Response$"),
    ):
        replace_with_cleartext(handed_over, ASSERTION.encode())
