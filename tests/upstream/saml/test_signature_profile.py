"""`signature_profile` alone, with no signing: which element and which ds:Signature a check
verifies, and what that signature may say (SAML Core §5.4 and the broker's algorithms). Both
crypto backends run these checks before any RSA (test_crypto.py shows that on signed XML); here
each rule is met and broken by one small document, and the refusal names the rule exactly.
"""

from __future__ import annotations

import pytest
from lxml import etree

from broker.upstream.saml.signature_profile import (
    DS,
    SignatureProfileError,
    check_profile,
    parse,
    signed_element,
)

SAML = "urn:oasis:names:tc:SAML:2.0:assertion"
SAMLP = "urn:oasis:names:tc:SAML:2.0:protocol"
ASSERTION = f"{SAML}:Assertion"
RESPONSE = f"{SAMLP}:Response"
EXC_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#"
EXC_C14N_COMMENTS = EXC_C14N + "WithComments"
INCLUSIVE_C14N = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315"
ENVELOPED = DS + "enveloped-signature"
XPATH = "http://www.w3.org/TR/1999/REC-xpath-19991116"
RSA_SHA1 = "http://www.w3.org/2000/09/xmldsig#rsa-sha1"
RSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
RSA_SHA384 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384"
RSA_SHA512 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512"
SHA1 = "http://www.w3.org/2000/09/xmldsig#sha1"
SHA256 = "http://www.w3.org/2001/04/xmlenc#sha256"
SHA384 = "http://www.w3.org/2001/04/xmldsig-more#sha384"
SHA512 = "http://www.w3.org/2001/04/xmlenc#sha512"
ID = "_a1"


def signature(
    *,
    uri: str = f"#{ID}",
    c14n: str = EXC_C14N,
    method: str = RSA_SHA256,
    transforms: tuple[str, ...] = (
        f'<ds:Transform Algorithm="{ENVELOPED}"/>',
        f'<ds:Transform Algorithm="{EXC_C14N}"/>',
    ),
    digest: str = SHA256,
    signed_info_extra: str = "",
    reference_extra: str = "",
    extra: str = "",
) -> str:
    """A ds:Signature as an IdP writes one (its values need not verify here)."""
    return (
        f'<ds:Signature xmlns:ds="{DS}"><ds:SignedInfo>'
        f'<ds:CanonicalizationMethod Algorithm="{c14n}"/>'
        f'<ds:SignatureMethod Algorithm="{method}"/>{signed_info_extra}'
        f'<ds:Reference URI="{uri}"><ds:Transforms>{"".join(transforms)}</ds:Transforms>'
        f'<ds:DigestMethod Algorithm="{digest}"/><ds:DigestValue>AA==</ds:DigestValue>'
        f"{reference_extra}</ds:Reference></ds:SignedInfo>"
        f"<ds:SignatureValue>AA==</ds:SignatureValue>{extra}</ds:Signature>"
    )


def assertion(body: str = "", *, id_attribute: str = f'ID="{ID}"', signed: bool = True) -> str:
    return (
        f'<saml:Assertion xmlns:saml="{SAML}" {id_attribute}><saml:Issuer>idp</saml:Issuer>'
        f"{signature() if signed else ''}{body}</saml:Assertion>"
    )


def response(body: str, response_id: str = "_r1") -> str:
    return f'<samlp:Response xmlns:samlp="{SAMLP}" ID="{response_id}">{body}</samlp:Response>'


def found(xml: str, node_name: str = ASSERTION, node_id: str | None = ID) -> etree._Element:
    """The element signed_element finds (its signature checked to be the element's own)."""
    element, own = signed_element(parse(xml), node_name, node_id)
    assert own.getparent() is element and own.tag == f"{{{DS}}}Signature"
    return element


def refusal(xml: str, node_name: str = ASSERTION, node_id: str | None = ID) -> str:
    with pytest.raises(SignatureProfileError) as error:
        signed_element(parse(xml), node_name, node_id)
    return str(error.value)


def profile_refusal(signature_xml: str, node_id: str = ID) -> str:
    with pytest.raises(SignatureProfileError) as error:
        check_profile(etree.fromstring(signature_xml), node_id)
    return str(error.value)


# -- parse --------------------------------------------------------------------------------------


def test_text_is_parsed_as_utf_8_and_bytes_as_sent() -> None:
    text = assertion("<saml:Attribute Name='nimi'>Äiti Öljy</saml:Attribute>")
    for document in (text, text.encode("utf-8")):
        assert parse(document).findtext(f"{{{SAML}}}Attribute") == "Äiti Öljy"


def test_text_with_an_encoding_declaration_is_parsed() -> None:
    """pysaml2 hands over text that starts so; lxml refuses such a str unless it is encoded."""
    declared = "<?xml version='1.0' encoding='UTF-8'?>\n" + assertion("<saml:X>Åke</saml:X>")
    assert parse(declared).findtext(f"{{{SAML}}}X") == "Åke"


def test_a_document_that_is_not_xml_is_refused() -> None:
    with pytest.raises(SignatureProfileError, match=r"^not well-formed XML$"):
        parse("<saml:Assertion")


@pytest.mark.parametrize(
    "doctype",
    [
        "<!DOCTYPE x>",
        "<!DOCTYPE x [<!ATTLIST saml:Assertion ID ID #IMPLIED>]>",
        '<!DOCTYPE x [<!ENTITY e "v">]>',
    ],
)
def test_any_doctype_is_refused(doctype: str) -> None:
    with pytest.raises(SignatureProfileError, match=r"^a document with a DOCTYPE$"):
        parse(doctype + assertion())


def test_an_external_entity_is_neither_read_nor_resolved_before_the_refusal() -> None:
    """XXE: the parser leaves `&leak;` as it is (a parser that resolved entities would fail on
    the external one, or read the file); the DOCTYPE is what is refused."""
    doctype = '<!DOCTYPE x [<!ENTITY leak SYSTEM "file:///etc/hostname">]>'
    with pytest.raises(SignatureProfileError, match=r"^a document with a DOCTYPE$"):
        parse(doctype + assertion("<saml:X>&leak;</saml:X>"))


# -- which element, which signature ----------------------------------------------------------------


def test_the_assertion_and_its_own_signature_are_found() -> None:
    xml = response(assertion(), "_r1")
    assert found(xml).get("ID") == ID
    assert found(xml).tag == f"{{{SAML}}}Assertion"


def test_a_response_signature_is_found_by_the_response_id() -> None:
    xml = response(signature(uri="#_r1") + assertion(signed=False))
    assert found(xml, RESPONSE, "_r1").tag == f"{{{SAMLP}}}Response"


def test_comments_and_processing_instructions_in_the_document_do_not_count() -> None:
    xml = response("<!-- from the IdP --><?pi x?>" + assertion("<!-- c -->"))
    assert found(xml).get("ID") == ID


def test_elements_of_the_type_without_an_id_are_not_duplicates() -> None:
    unsigned = assertion(id_attribute="", signed=False)
    xml = response(unsigned + unsigned + assertion())
    assert found(xml).get("ID") == ID


@pytest.mark.parametrize("node_id", [None, ""])
def test_no_id_to_verify_is_refused(node_id: str | None) -> None:
    assert refusal(response(assertion()), node_id=node_id) == "no ID to verify"


def test_two_elements_of_the_type_with_the_same_id_are_refused() -> None:
    xml = response(assertion() + assertion(signed=False))
    assert refusal(xml) == "two Assertion elements with the same ID"


def test_two_elements_of_the_type_with_the_same_other_id_are_refused() -> None:
    """Whichever ID is asked for: a duplicate anywhere makes look-ups ambiguous."""
    other = assertion(id_attribute='ID="_b"', signed=False)
    xml = response(assertion() + other + other)
    assert refusal(xml) == "two Assertion elements with the same ID"


@pytest.mark.parametrize(
    "decoy",
    [
        f'<saml:Audience xml:id="{ID}">x</saml:Audience>',  # libxml2 registers xml:id
        f'<saml:Audience ID="{ID}">x</saml:Audience>',  # xmlsec1 --id-attr:ID matches by name
        f'<saml:Audience xmlns:e="urn:e" e:ID="{ID}">x</saml:Audience>',  # in any namespace
    ],
    ids=["xml-id", "ID", "namespaced-ID"],
)
def test_another_element_holding_the_id_is_refused(decoy: str) -> None:
    assert (
        refusal(response(assertion(decoy)))
        == "not exactly one element with the ID, and it a Assertion"
    )


def test_an_attribute_merely_ending_in_id_or_holding_it_under_another_name_is_no_holder() -> None:
    decoys = f'<saml:Audience XID="{ID}" Ref="{ID}" xml:lang="{ID}">x</saml:Audience>'
    assert found(response(assertion(decoys))).get("ID") == ID


def test_the_id_on_an_element_of_another_type_is_refused() -> None:
    """pysaml2 asks for an Assertion's signature; the ID is the Response's."""
    xml = response(signature(uri="#_r1") + assertion(signed=False), "_r1")
    assert refusal(xml, ASSERTION, "_r1") == (
        "not exactly one element with the ID, and it a Assertion"
    )
    assert refusal(xml, ASSERTION, "_nowhere") == (
        "not exactly one element with the ID, and it a Assertion"
    )


def test_the_type_is_matched_by_namespace_and_local_name() -> None:
    """`samlp:Assertion` is no saml:Assertion, and node names split at the last colon."""
    xml = response(assertion())
    assert refusal(xml, f"{SAMLP}:Assertion").startswith("not exactly one element")
    assert refusal(xml, f"{SAML}:Issuer").startswith("not exactly one element")


@pytest.mark.parametrize(
    ("signed", "body"),
    [
        (False, ""),
        (True, signature()),
        (False, f"<saml:Advice>{signature()}</saml:Advice>"),
    ],
    ids=["none", "two-own", "nested-only"],
)
def test_not_exactly_one_own_signature_is_refused(signed: bool, body: str) -> None:
    xml = response(assertion(body, signed=signed))
    assert refusal(xml) == "not one enveloped ds:Signature first in the Assertion"


def test_a_nested_signature_before_the_own_one_is_refused() -> None:
    """xmlsec1 verifies the first ds:Signature it meets from the element on."""
    xml = (
        f'<saml:Assertion xmlns:saml="{SAML}" ID="{ID}">'
        f"<saml:Issuer>{signature(uri='#_other')}</saml:Issuer>{signature()}</saml:Assertion>"
    )
    assert refusal(xml) == "not one enveloped ds:Signature first in the Assertion"


# -- what the signature may say ----------------------------------------------------------------


@pytest.mark.parametrize(
    "ok",
    [
        signature(),
        signature(c14n=EXC_C14N_COMMENTS, method=RSA_SHA384, digest=SHA384),
        signature(method=RSA_SHA512, digest=SHA512),
        signature(transforms=(f'<ds:Transform Algorithm="{ENVELOPED}"/>',)),
        signature(
            transforms=(
                f'<ds:Transform Algorithm="{EXC_C14N_COMMENTS}"/>',
                f'<ds:Transform Algorithm="{ENVELOPED}"/>',
            )
        ),
        signature(
            transforms=(
                f'<ds:Transform Algorithm="{ENVELOPED}"/>',
                f'<ds:Transform Algorithm="{EXC_C14N}"><ec:InclusiveNamespaces'
                f' xmlns:ec="{EXC_C14N}" PrefixList="xs"/></ds:Transform>',
            )
        ),
    ],
    ids=["suomifi", "sha384-comments", "sha512", "enveloped-only", "reversed", "prefix-list"],
)
def test_the_profile_accepts_what_idps_send(ok: str) -> None:
    check_profile(etree.fromstring(ok), ID)


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (signature(extra="<ds:Object/>"), "a ds:Object in the signature"),
        (signature(c14n=INCLUSIVE_C14N), "c14n method not allowed"),
        (signature(method=RSA_SHA1), "signature method not allowed"),
        (signature(digest=SHA1), "digest method not allowed"),
        (signature(uri=""), "the Reference is not to the signed element's ID"),
        (signature(uri="#_other"), "the Reference is not to the signed element's ID"),
        (signature(uri=ID), "the Reference is not to the signed element's ID"),
        (signature(transforms=()), "not the enveloped-signature transform (and c14n)"),
        (
            signature(transforms=(f'<ds:Transform Algorithm="{EXC_C14N}"/>',)),
            "not the enveloped-signature transform (and c14n)",
        ),
        (
            signature(
                transforms=(
                    f'<ds:Transform Algorithm="{ENVELOPED}"/>',
                    f'<ds:Transform Algorithm="{EXC_C14N}"/>',
                    f'<ds:Transform Algorithm="{EXC_C14N}"/>',
                )
            ),
            "not the enveloped-signature transform (and c14n)",
        ),
        (
            signature(
                transforms=(
                    f'<ds:Transform Algorithm="{ENVELOPED}"/>',
                    f'<ds:Transform Algorithm="{XPATH}"/>',
                )
            ),
            "transform not allowed",
        ),
        (
            signature(
                transforms=(
                    f'<ds:Transform Algorithm="{ENVELOPED}"/>',
                    f'<ds:Transform Algorithm="{EXC_C14N}"><ds:XPath>//x</ds:XPath></ds:Transform>',
                )
            ),
            "a transform with parameters other than a PrefixList",
        ),
        (signature(signed_info_extra="<ds:Reference URI='#x'/>"), "2 ds:Reference, wanted one"),
        (signature(reference_extra="<ds:DigestMethod/>"), "2 ds:DigestMethod, wanted one"),
        (
            signature().replace("<ds:SignatureMethod", "<ds:SignatureMethod/><ds:SignatureMethod"),
            "2 ds:SignatureMethod, wanted one",
        ),
        (
            f'<ds:Signature xmlns:ds="{DS}"><ds:SignatureValue/></ds:Signature>',
            "0 ds:SignedInfo, wanted one",
        ),
    ],
    ids=[
        "object",
        "inclusive-c14n",
        "rsa-sha1",
        "sha1-digest",
        "empty-uri",
        "other-uri",
        "uri-without-hash",
        "no-transform",
        "no-enveloped",
        "three-transforms",
        "xpath-transform",
        "xpath-parameter",
        "two-references",
        "two-digest-methods",
        "two-signature-methods",
        "no-signed-info",
    ],
)
def test_the_profile_refuses_anything_else(bad: str, message: str) -> None:
    assert profile_refusal(bad) == message


def test_a_transform_without_an_algorithm_is_refused() -> None:
    bad = signature(transforms=(f'<ds:Transform Algorithm="{ENVELOPED}"/>', "<ds:Transform/>"))
    assert profile_refusal(bad) == "transform not allowed"
