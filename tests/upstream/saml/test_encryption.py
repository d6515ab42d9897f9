"""XML Encryption at the connector, on both crypto backends (conftest's `sp`): which algorithms an
IdP may use (AES-GCM and RSA-OAEP; AES-CBC and RSA 1.5 only where its file lists them, and then
only in a signed Response), and the cleartext parsed in the context of its parent, so that an
assertion may use a prefix declared only on the Response. Real Responses from the forge.
"""

from __future__ import annotations

import pytest

from broker.errors import UpstreamResponseError
from tests.upstream.conftest import Connectors, begin, posted
from tests.upstream.saml import saml_attacks as attack
from tests.upstream.saml.saml_forge import (
    AES256_CBC,
    AES256_GCM,
    DS,
    HETU,
    RSA_1_5,
    RSA_OAEP_MGF1P,
    SAML,
    TESSA,
    XENC,
    Forge,
    Statement,
)

pytestmark = pytest.mark.filterwarnings(  # pysaml2's temporary files on a refused signature
    r"ignore:Exception ignored in. <_io.FileIO name='/tmp/tmp"
    r":pytest.PytestUnraisableExceptionWarning"
)

LEGACY = [(AES256_CBC, RSA_OAEP_MGF1P), (AES256_GCM, RSA_1_5)]
LEGACY_IDS = ["aes256-cbc", "rsa-1_5"]


def encrypted_with(forge: Forge, s: Statement, data_alg: str, key_alg: str, *, signed: bool) -> str:
    """The genuine assertion (signed), encrypted so; the Response signed or not."""
    body = forge.encrypted(forge.assertion(s), data_alg=data_alg, key_alg=key_alg)
    return forge.response(s, body, signed=signed)


# -- algorithms ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("data_alg", "key_alg"), LEGACY, ids=LEGACY_IDS)
async def test_cbc_and_rsa_1_5_are_refused_by_default(
    connectors: Connectors, forge: Forge, data_alg: str, key_alg: str
) -> None:
    """Even in a signed Response: the IdP's file does not list them."""
    connector = connectors.get("suomifi")
    saved, s = await begin(connector)
    answer = encrypted_with(forge, s, data_alg, key_alg, signed=True)
    with pytest.raises(UpstreamResponseError, match="encryption algorithm not allowed"):
        await connector.finish(posted(answer), saved)


@pytest.mark.parametrize(("data_alg", "key_alg"), LEGACY, ids=LEGACY_IDS)
async def test_cbc_and_rsa_1_5_are_accepted_where_listed_in_a_signed_response(
    connectors: Connectors, forge: Forge, data_alg: str, key_alg: str
) -> None:
    connector = connectors.get("legacy_encryption")
    saved, s = await begin(connector)
    answer = encrypted_with(forge, s, data_alg, key_alg, signed=True)
    assert (await connector.finish(posted(answer), saved)).subject == TESSA


@pytest.mark.parametrize(("data_alg", "key_alg"), LEGACY, ids=LEGACY_IDS)
async def test_cbc_and_rsa_1_5_are_refused_in_an_unsigned_response_even_where_listed(
    connectors: Connectors, forge: Forge, data_alg: str, key_alg: str
) -> None:
    """The assertion is signed, but inside the ciphertext: nothing protects the ciphertext
    from being changed to probe the padding, so it is not decrypted at all."""
    connector = connectors.get("legacy_encryption")
    saved, s = await begin(connector)
    answer = encrypted_with(forge, s, data_alg, key_alg, signed=False)
    with pytest.raises(UpstreamResponseError, match="only in a Response signed as a whole"):
        await connector.finish(posted(answer), saved)
    # the same IdP's AES-GCM with RSA-OAEP needs no Response signature
    saved, s = await begin(connector)
    answer = encrypted_with(forge, s, AES256_GCM, RSA_OAEP_MGF1P, signed=False)
    assert (await connector.finish(posted(answer), saved)).subject == TESSA


async def test_a_cbc_key_hidden_beside_an_allowed_one_is_refused(
    connectors: Connectors, forge: Forge
) -> None:
    """An extra xenc:EncryptedKey with RSA 1.5 in the EncryptedAssertion: xmlsec1 could be
    pointed at it, so every EncryptedKey in the document is checked."""
    connector = connectors.get("assertion_signed")
    saved, s = await begin(connector)
    other = forge.encrypted(forge.assertion(s), key_alg=RSA_1_5)
    start = other.index("<xenc:EncryptedKey")
    extra = other[start : other.index("</xenc:EncryptedKey>") + len("</xenc:EncryptedKey>")]
    extra = extra.replace(
        "<xenc:EncryptedKey", f'<xenc:EncryptedKey xmlns:xenc="{XENC}" xmlns:ds="{DS}"', 1
    )
    body = forge.encrypted(forge.assertion(s)).replace(
        "</saml:EncryptedAssertion>", extra + "</saml:EncryptedAssertion>"
    )
    with pytest.raises(UpstreamResponseError, match="not allowed: rsa-1_5"):
        await connector.finish(posted(forge.response(s, body, signed=False)), saved)


# -- the cleartext in its parent's context ------------------------------------------------------


def bare(xml: str, prefix: str = "saml") -> str:
    """`xml` without its own declaration of the assertion namespace (the first one)."""
    declaration = f' xmlns:{prefix}="{SAML}"'
    assert declaration in xml
    return xml.replace(declaration, "", 1)


def renamed(forge: Forge, s: Statement, prefix: str, *, signed: bool = True) -> str:
    """The assertion with `prefix` for SAML's namespace, signed, then stripped of its own
    declaration: its exclusive c14n, and so its signature, is the same in any context that
    binds the prefix."""
    xml = forge.assertion(s, signed=False).replace("saml:", f"{prefix}:")
    xml = xml.replace("xmlns:saml=", f"xmlns:{prefix}=")
    if signed:
        template = forge._signature_template(s.assertion_id, None)
        xml = attack.after(xml, f"</{prefix}:Issuer>", template)
        xml = forge.sign(xml, s.assertion_id)
    return bare(xml, prefix)


def declared_on_response_only(forge: Forge, s: Statement, *assertions: str) -> str:
    """The Response declares the prefix; neither the EncryptedAssertion nor the encrypted
    assertions do; the Response is unsigned, so the assertion's signature is what counts."""
    return forge.response(s, bare(forge.encrypted(*assertions)), signed=False)


@pytest.mark.parametrize("prefix", ["saml", "saml2"])
async def test_a_prefix_declared_only_on_the_response_is_honoured(
    connectors: Connectors, forge: Forge, prefix: str
) -> None:
    """`saml2:` also shows that the Response as received gives the context: pysaml2 hands the
    backend a re-serialisation that binds other prefixes (ns0, ns1)."""
    connector = connectors.get("assertion_signed")
    saved, s = await begin(connector)
    xml = declared_on_response_only(forge, s, renamed(forge, s, prefix))
    if prefix != "saml":
        xml = xml.replace("<samlp:Response ", f'<samlp:Response xmlns:{prefix}="{SAML}" ', 1)
    identity = await connector.finish(posted(xml), saved)
    assert (identity.subject, identity.claims[HETU]) == (TESSA, TESSA)


async def test_a_prefix_declared_only_on_the_encrypted_assertion_is_honoured(
    connectors: Connectors, forge: Forge
) -> None:
    connector = connectors.get("suomifi")
    saved, s = await begin(connector)
    xml = forge.response(s, forge.encrypted(bare(forge.assertion(s))))
    assert (await connector.finish(posted(xml), saved)).subject == TESSA


async def test_wrapping_in_a_borrowed_context_is_still_refused(
    connectors: Connectors, forge: Forge
) -> None:
    """XSW4 and XSW5 with assertions that rely on the Response's declaration: the evil
    assertion around the signed one, or carrying its signature."""
    connector = connectors.get("assertion_signed")
    for build in (_evil_wraps_signed, _evil_carries_signature):
        saved, s = await begin(connector)
        with pytest.raises(UpstreamResponseError, match="SignatureError"):
            await connector.finish(posted(build(forge, s)), saved)


def _evil_wraps_signed(forge: Forge, s: Statement) -> str:
    wrapper = bare(forge.assertion(attack.evil(s), signed=False))
    inner = bare(forge.assertion(s))
    wrapped = wrapper.removesuffix("</saml:Assertion>") + inner + "</saml:Assertion>"
    return declared_on_response_only(forge, s, wrapped)


def _evil_carries_signature(forge: Forge, s: Statement) -> str:
    genuine = bare(forge.assertion(s))
    carrier = attack.after(
        bare(forge.assertion(attack.evil(s), signed=False)),
        "</saml:Issuer>",
        attack.signature_of(genuine),
    )
    return declared_on_response_only(forge, s, carrier)
