"""The crypto backends themselves (`broker/upstream/saml/crypto.py`), below pysaml2's own checks:
each is handed real XML signed and encrypted by the forge with test keys, as pysaml2 hands it
over, and must refuse what the other refuses. Where pysaml2's plain xmlsec1 backend would have
accepted an attack (SHA-1, a signature found elsewhere than on the element), the test says so:
that refusal is the broker's profile check, on both backends.

The connector-level attacks, on both backends, are in test_attacks.py and test_checks.py.
"""

from __future__ import annotations

import base64
import shutil
import subprocess
import tempfile
import warnings
from dataclasses import replace
from importlib import metadata
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from lxml import etree

from broker.errors import ConfigError, UpstreamResponseError
from broker.upstream.saml import crypto as crypto_module
from broker.upstream.saml.crypto import (
    CRYPTO_BACKENDS,
    CryptoBackendName,
    InProcessCrypto,
    ProgramCrypto,
    check_backend,
    security_context,
    verify_enveloped,
)
from broker.upstream.saml.decryption import EncryptionPolicy
from broker.upstream.saml.signature_profile import parse, signed_element
from broker.upstream.saml.sp import ServiceProvider, sp_metadata_xml
from broker.upstream.saml.sp_keys import ServiceProviderKeys
from mock_idps.saml_common.keys import KeyPair
from tests.certificates import self_signed, write_pair
from tests.upstream.conftest import ACS_URL, IDP_ENTITY_ID, SP_ENTITY_ID, Connectors, begin, posted
from tests.upstream.saml.saml_attacks import after, signature_of
from tests.upstream.saml.saml_forge import (
    AES256_GCM,
    DS,
    RSA_OAEP_MGF1P,
    SAML,
    SAMLP,
    XENC,
    Forge,
    Statement,
    new_id,
)

with warnings.catch_warnings():  # see broker/upstream/saml/sp.py
    warnings.filterwarnings("ignore", "CFB has been moved")
    from saml2.sigver import (
        CryptoBackendXmlSec1,
        DecryptError,
        EncryptError,
        MissingKey,
        SignatureError,
    )

# pysaml2's xmlsec1 backend leaves its temporary files open when a run fails (see
# test_attacks.py); the garbage collector then reports them.
pytestmark = pytest.mark.filterwarnings(
    r"ignore:Exception ignored in. <_io.FileIO name='/tmp/tmp"
    r":pytest.PytestUnraisableExceptionWarning"
)

ASSERTION = f"{SAML}:Assertion"
RESPONSE = f"{SAMLP}:Response"
RSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
RSA_SHA1 = "http://www.w3.org/2000/09/xmldsig#rsa-sha1"
SHA256 = "http://www.w3.org/2001/04/xmlenc#sha256"
SHA1 = "http://www.w3.org/2000/09/xmldsig#sha1"
ECDSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256"
XENC11 = "http://www.w3.org/2009/xmlenc11#"
XMLSEC1 = shutil.which("xmlsec1") or "xmlsec1"

Crypto = InProcessCrypto | ProgramCrypto


def crypto_for(backend: CryptoBackendName) -> Crypto:
    return InProcessCrypto() if backend == "xmlsec" else ProgramCrypto(XMLSEC1)


@pytest.fixture(params=CRYPTO_BACKENDS)
def crypto(request: pytest.FixtureRequest) -> Crypto:
    return crypto_for(request.param)


@pytest.fixture(scope="module")
def sp_keys(saml_sp_keys: Path) -> ServiceProviderKeys:
    """The keys of the SP in conftest.py, whichever its backend."""
    return ServiceProviderKeys.load_or_create(saml_sp_keys)


@pytest.fixture(scope="module")
def forge(sp_keys: ServiceProviderKeys, tmp_path_factory: pytest.TempPathFactory) -> Forge:
    """conftest's forge, made once here rather than once per SP backend."""
    keys = tmp_path_factory.mktemp("forged-idp")
    return Forge.with_keys_in(keys, sp_keys.cert_file)


@pytest.fixture
def statement() -> Statement:
    return Statement(
        issuer="https://tunnistus.test/idp",
        audience=SP_ENTITY_ID,
        destination=ACS_URL,
        in_response_to=new_id(),
    )


def verify(crypto: Crypto, xml: str, cert: Path, node_name: str, node_id: str) -> bool:
    return crypto.validate_signature(xml, str(cert), "pem", node_name, node_id)


def refused(crypto: Crypto, xml: str, cert: Path, node_name: str, node_id: str) -> str:
    """The refusal's message; pysaml2 reacts to an XmlsecError kind as to a failed xmlsec1 run."""
    with pytest.raises(SignatureError) as error:
        verify(crypto, xml, cert, node_name, node_id)
    return str(error.value)


def signed_with(forge: Forge, xml: str, element_id: str, *, sign_alg: str, digest_alg: str) -> str:
    """`xml` (with one unsigned element of that ID) signed by xmlsec1 with these algorithms."""
    return forge.sign(xml.replace(RSA_SHA256, sign_alg).replace(SHA256, digest_alg), element_id)


def assertion_template(forge: Forge, s: Statement, reference_id: str | None = None) -> str:
    """An assertion whose (unfilled) signature template refers to `reference_id`."""
    template = forge._signature_template(reference_id or s.assertion_id, None)
    return after(forge.assertion(s, signed=False), "</saml:Issuer>", template)


def key_value(pair: KeyPair) -> str:
    """A ds:KeyValue with the public key of `pair`: a key in the document itself."""
    public_key = x509.load_pem_x509_certificate(pair.cert_file.read_bytes()).public_key()
    numbers = public_key.public_numbers()  # type: ignore[union-attr]

    def b64(n: int) -> str:
        return base64.b64encode(n.to_bytes((n.bit_length() + 7) // 8, "big")).decode()

    return (
        f"<ds:KeyValue><ds:RSAKeyValue><ds:Modulus>{b64(numbers.n)}</ds:Modulus>"
        f"<ds:Exponent>{b64(numbers.e)}</ds:Exponent></ds:RSAKeyValue></ds:KeyValue>"
    )


# -- the key: only the certificate pysaml2 hands over ---------------------------------------------


def test_a_genuine_signature_verifies(crypto: Crypto, forge: Forge, statement: Statement) -> None:
    signed = forge.assertion(statement)
    assert verify(crypto, signed, forge.key.cert_file, ASSERTION, statement.assertion_id)


def test_an_attackers_certificate_in_key_info_is_not_used(
    crypto: Crypto, forge: Forge, statement: Statement
) -> None:
    """Signed by the impostor, who put its certificate in ds:KeyInfo: the metadata's key is the
    only one tried, and it does not verify."""
    signed = forge.assertion(statement, key=forge.impostor)
    assert forge.impostor.cert_base64()[:64] in signed
    refused(crypto, signed, forge.key.cert_file, ASSERTION, statement.assertion_id)
    # the same signature, checked with the impostor's certificate, is sound: only the key differs
    assert verify(crypto, signed, forge.impostor.cert_file, ASSERTION, statement.assertion_id)


def test_an_attackers_key_value_in_key_info_is_not_used(
    crypto: Crypto, forge: Forge, statement: Statement
) -> None:
    """The impostor's public key as a ds:KeyValue, which libxmlsec1 would read if asked to."""
    signed = forge.assertion(statement, key=forge.impostor)
    with_key = signed.replace("<ds:X509Data>", key_value(forge.impostor) + "<ds:X509Data>", 1)
    refused(crypto, with_key, forge.key.cert_file, ASSERTION, statement.assertion_id)


def test_key_info_does_not_matter_to_a_genuine_signature(
    crypto: Crypto, forge: Forge, statement: Statement
) -> None:
    """KeyInfo is outside SignedInfo: swapping in the impostor's certificate changes nothing."""
    signed = forge.assertion(statement)
    swapped = signed.replace(forge.key.cert_base64()[:64], forge.impostor.cert_base64()[:64])
    assert verify(crypto, swapped, forge.key.cert_file, ASSERTION, statement.assertion_id)


# -- which element and which signature --------------------------------------------------------


def test_a_reference_to_another_id_is_refused(
    crypto: Crypto, forge: Forge, statement: Statement
) -> None:
    """The assertion's own signature, validly made over another element (the Response around
    it): the element pysaml2 asks about is not what was signed."""
    body = assertion_template(forge, statement, reference_id=statement.response_id)
    response = forge.sign(forge.response(statement, body, signed=False), statement.response_id)
    assertion_id = statement.assertion_id
    refused(crypto, response, forge.key.cert_file, ASSERTION, assertion_id)
    # nor is it the Response's signature: a Response signature must be the Response's own child
    message = refused(crypto, response, forge.key.cert_file, RESPONSE, statement.response_id)
    assert "enveloped ds:Signature" in message
    # pysaml2's plain xmlsec1 backend, asked about the Response, takes the first signature it
    # meets under it and accepts; pysaml2 itself never asks, as the Response has no signature
    plain = CryptoBackendXmlSec1(XMLSEC1)
    assert verify(plain, response, forge.key.cert_file, RESPONSE, statement.response_id)


def test_a_signature_over_another_element_is_refused(
    crypto: Crypto, forge: Forge, statement: Statement
) -> None:
    """The genuine assertion's signature carried by an evil assertion of another ID."""
    evil = replace(statement, assertion_id=new_id(), name_id="evil")
    carrier = after(
        forge.assertion(evil, signed=False),
        "</saml:Issuer>",
        signature_of(forge.assertion(statement)),
    )
    message = refused(crypto, carrier, forge.key.cert_file, ASSERTION, evil.assertion_id)
    assert "Reference" in message or "ID" in message


def test_an_unknown_id_is_refused(crypto: Crypto, forge: Forge, statement: Statement) -> None:
    signed = forge.assertion(statement)
    refused(crypto, signed, forge.key.cert_file, ASSERTION, new_id())


def test_two_elements_with_the_id_are_refused(
    crypto: Crypto, forge: Forge, statement: Statement
) -> None:
    """The signed assertion beside an unsigned evil one with the same ID: which one is checked
    and which is read would depend on the order of look-ups."""
    signed = forge.assertion(statement)
    evil = forge.assertion(replace(statement, name_id="evil"), signed=False)
    for body in (evil + signed, signed + evil):
        response = forge.response(statement, body, signed=False)
        refused(crypto, response, forge.key.cert_file, ASSERTION, statement.assertion_id)


def test_an_xml_id_with_the_same_value_is_refused(
    crypto: Crypto, forge: Forge, statement: Statement
) -> None:
    """libxml2 registers xml:id on parsing; a Reference could resolve to that element instead."""
    signed = forge.assertion(statement)
    decoy = f'<saml:Audience xml:id="{statement.assertion_id}">x</saml:Audience>'
    tampered = after(signed, "<saml:AudienceRestriction>", decoy)
    refused(crypto, tampered, forge.key.cert_file, ASSERTION, statement.assertion_id)


# -- algorithms ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sign_alg", "digest_alg"),
    [(RSA_SHA1, SHA256), (RSA_SHA256, SHA1), (RSA_SHA1, SHA1)],
    ids=["rsa-sha1", "sha1-digest", "both-sha1"],
)
def test_sha1_is_refused(
    crypto: Crypto, forge: Forge, statement: Statement, sign_alg: str, digest_alg: str
) -> None:
    xml = assertion_template(forge, statement)
    signed = signed_with(
        forge, xml, statement.assertion_id, sign_alg=sign_alg, digest_alg=digest_alg
    )
    message = refused(crypto, signed, forge.key.cert_file, ASSERTION, statement.assertion_id)
    assert "not allowed" in message
    # pysaml2's plain xmlsec1 backend accepts it: the refusal is the broker's profile check
    plain = CryptoBackendXmlSec1(XMLSEC1)
    assert verify(plain, signed, forge.key.cert_file, ASSERTION, statement.assertion_id)


def test_rsa_sha512_is_accepted(crypto: Crypto, forge: Forge, statement: Statement) -> None:
    xml = assertion_template(forge, statement)
    signed = signed_with(
        forge,
        xml,
        statement.assertion_id,
        sign_alg="http://www.w3.org/2001/04/xmldsig-more#rsa-sha512",
        digest_alg="http://www.w3.org/2001/04/xmlenc#sha512",
    )
    assert verify(crypto, signed, forge.key.cert_file, ASSERTION, statement.assertion_id)


async def test_a_sha1_signed_login_is_refused_by_the_connector(
    connectors: Connectors, forge: Forge
) -> None:
    """End to end, on the SP's backend (both, by the fixture): an assertion signed RSA-SHA1."""
    connector = connectors.get("assertion_signed")
    saved, s = await begin(connector)
    signed = signed_with(
        forge, assertion_template(forge, s), s.assertion_id, sign_alg=RSA_SHA1, digest_alg=SHA1
    )
    answer = forge.response(s, forge.encrypted(signed), signed=False)
    with pytest.raises(UpstreamResponseError, match="SignatureError"):
        await connector.finish(posted(answer), saved)


# -- decryption ---------------------------------------------------------------------------------


def test_both_backends_decrypt_to_the_same_assertion(
    sp_keys: ServiceProviderKeys, forge: Forge, statement: Statement
) -> None:
    """AES-256-GCM with RSA-OAEP, as Suomi.fi sends; the decrypted assertion still verifies."""
    response = forge.genuine(statement)
    decrypted = {
        backend: crypto_for(backend).decrypt(response, str(sp_keys.key_file))
        for backend in CRYPTO_BACKENDS
    }
    canonical = {backend: _assertion_c14n(xml) for backend, xml in decrypted.items()}
    assert canonical["xmlsec"] == canonical["xmlsec1"]
    for backend in CRYPTO_BACKENDS:
        crypto = crypto_for(backend)
        assert verify(
            crypto, decrypted[backend], forge.key.cert_file, ASSERTION, statement.assertion_id
        )


def test_decryption_with_another_key_fails(
    crypto: Crypto, forge: Forge, statement: Statement
) -> None:
    with pytest.raises(DecryptError):
        crypto.decrypt(forge.genuine(statement), str(forge.impostor.key_file))


def test_a_changed_ciphertext_is_refused(
    crypto: Crypto, sp_keys: ServiceProviderKeys, forge: Forge, statement: Statement
) -> None:
    """AES-GCM's tag covers the ciphertext: one changed bit and nothing is decrypted (the
    in-process backend says so; pysaml2's xmlsec1 backend names only the command)."""
    root = etree.fromstring(forge.encrypted(forge.assertion(statement)))
    value = root.find(f"{{{XENC}}}EncryptedData/{{{XENC}}}CipherData/{{{XENC}}}CipherValue")
    assert value is not None and value.text
    octets = bytearray(base64.b64decode(value.text))
    octets[len(octets) // 2] ^= 1
    value.text = base64.b64encode(octets).decode()
    response = forge.response(statement, etree.tostring(root, encoding="unicode"), signed=False)
    with pytest.raises(DecryptError) as error:
        crypto.decrypt(response, str(sp_keys.key_file))
    if isinstance(crypto, InProcessCrypto):
        assert str(error.value) == "decryption failed (Error)"


def test_nothing_to_decrypt_fails(
    crypto: Crypto, sp_keys: ServiceProviderKeys, forge: Forge, statement: Statement
) -> None:
    """pysaml2 decrypts until this fails (then stops), as a failed xmlsec1 run does."""
    with pytest.raises(DecryptError):
        crypto.decrypt(forge.assertion(statement), str(sp_keys.key_file))


def test_the_xmlsec1_backend_leaves_no_file_behind(
    sp_keys: ServiceProviderKeys,
    forge: Forge,
    statement: Statement,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """pysaml2 hands xmlsec1 each document in a temporary file: the Response it decrypts and
    the decrypted assertion (the person's identity code) it verifies. None may stay."""
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    crypto = ProgramCrypto(XMLSEC1)
    decrypted = crypto.decrypt(forge.genuine(statement), str(sp_keys.key_file))
    assert verify(crypto, decrypted, forge.key.cert_file, ASSERTION, statement.assertion_id)
    assert list(scratch.iterdir()) == []


def _assertion_c14n(xml: str) -> bytes:
    root = etree.fromstring(xml.encode())
    (assertion,) = root.iter(f"{{{SAML}}}Assertion")
    return etree.tostring(assertion, method="c14n", exclusive=True)


# -- signing: the SP metadata ---------------------------------------------------------------------


@pytest.mark.parametrize("backend", CRYPTO_BACKENDS)
def test_sp_metadata_signed_by_either_backend_verifies_with_xmlsec1(
    sp_keys: ServiceProviderKeys, tmp_path: Path, backend: CryptoBackendName
) -> None:
    metadata = sp_metadata_xml(SP_ENTITY_ID, ACS_URL, None, sp_keys, crypto_backend=backend)
    path = tmp_path / "sp.xml"
    path.write_bytes(metadata)
    node = "urn:oasis:names:tc:SAML:2.0:metadata:EntityDescriptor"
    command = [XMLSEC1, "--verify", "--pubkey-cert-pem", str(sp_keys.cert_file)]
    done = subprocess.run(
        [*command, "--id-attr:ID", node, str(path)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    # the signature names its certificate (what an IdP operator compares with the metadata's)
    key_info = etree.fromstring(metadata).find(f"{{{DS}}}Signature/{{{DS}}}KeyInfo")
    assert key_info is not None
    certificates = key_info.findall(f"{{{DS}}}X509Data/{{{DS}}}X509Certificate")
    assert ["".join((c.text or "").split()) for c in certificates] == [sp_keys.active.cert_base64()]


# -- the backend pysaml2 is given ------------------------------------------------------------------


@pytest.mark.parametrize("backend", CRYPTO_BACKENDS)
def test_the_security_context_has_the_chosen_backend_and_policy(
    sp_keys: ServiceProviderKeys,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    backend: CryptoBackendName,
) -> None:
    """`saml_sp.crypto_backend` decides who verifies and decrypts; xmlsec1 is the program the
    settings name (here a link elsewhere than on the PATH), and the IdP's policy goes with it."""
    program = tmp_path / "bin" / "xmlsec1"
    program.parent.mkdir()
    program.symlink_to(XMLSEC1)
    sp = ServiceProvider(SP_ENTITY_ID, sp_keys, str(program), backend)
    config = sp.config(sp.settings(acs_url=ACS_URL))
    policy = EncryptionPolicy(frozenset({"aes256-cbc", "rsa-oaep"}))
    crypto = security_context(config, backend, policy).crypto
    assert type(crypto) is {"xmlsec": InProcessCrypto, "xmlsec1": ProgramCrypto}[backend]
    assert crypto._policy == policy
    assert security_context(config, backend).crypto._policy == EncryptionPolicy()
    if backend == "xmlsec1":
        assert crypto.xmlsec == str(program)
        assert crypto.delete_tmpfiles is True  # as the settings say: no file left behind
        config.xmlsec_binary = None  # none named: the one on the PATH
        assert security_context(config, backend).crypto.xmlsec == shutil.which("xmlsec1")
        monkeypatch.setenv("PATH", str(tmp_path / "empty"))  # and none there either
        with pytest.raises(ConfigError, match=r"^saml_sp.crypto_backend xmlsec1: the xmlsec1 "):
            security_context(config, backend)


@pytest.mark.parametrize("backend", CRYPTO_BACKENDS)
def test_only_keys_from_the_metadata_check_a_signature(
    sp_keys: ServiceProviderKeys,
    forge: Forge,
    statement: Statement,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    backend: CryptoBackendName,
) -> None:
    """An assertion from an issuer the metadata does not know, signed by the impostor with its
    certificate in ds:KeyInfo: pysaml2 would verify it with that certificate unless told to
    use the metadata's keys only, which the broker's security context always is."""
    sp = ServiceProvider(SP_ENTITY_ID, sp_keys, XMLSEC1, backend)
    idp_metadata = forge.metadata(IDP_ENTITY_ID, "https://tunnistus.test/sso")
    context = security_context(
        sp.config(sp.settings(acs_url=ACS_URL, idp_metadata=[idp_metadata])), backend
    )
    genuine = forge.assertion(replace(statement, issuer=IDP_ENTITY_ID))
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    assert context.correctly_signed_message(genuine, "assertion", must=True)
    assert list(scratch.iterdir()) == []  # the metadata's certificate, written for the check
    stranger = replace(statement, issuer="https://stranger.test/idp")
    with pytest.raises(MissingKey):
        context.correctly_signed_message(
            forge.assertion(stranger, key=forge.impostor), "assertion", must=True
        )


# -- the backend can run here ---------------------------------------------------------------------


def test_the_locked_xmlsec_and_lxml_share_one_libxml2() -> None:
    """The wheels of xmlsec and lxml each bundle libxml2; a mismatch would fail at import."""
    import xmlsec

    assert xmlsec.get_libxml_version() == etree.LIBXML_VERSION
    assert xmlsec.get_libxml_compiled_version() == etree.LIBXML_COMPILED_VERSION
    check_backend("xmlsec", "")  # no ConfigError: xmlsec1 is not needed in process


def test_an_unusable_xmlsec_binding_is_a_config_error_naming_the_way_out(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """As when the wheels of xmlsec and lxml bundle different libxml2 (the import fails)."""
    monkeypatch.setattr(crypto_module, "_UNAVAILABLE", "InternalError: (-1, 'lxml & xmlsec')")
    with pytest.raises(ConfigError) as error:
        check_backend("xmlsec", XMLSEC1)
    assert str(error.value) == (
        "saml_sp.crypto_backend xmlsec: the xmlsec module cannot be used (InternalError: (-1,"
        " 'lxml & xmlsec')); xmlsec and lxml must bundle the same libxml2 (install the versions"
        " uv.lock pins), or choose crypto_backend: xmlsec1"
    )
    check_backend("xmlsec1", XMLSEC1)  # the program still serves


def test_the_xmlsec1_backend_without_the_program_is_a_config_error() -> None:
    with pytest.raises(ConfigError) as error:
        check_backend("xmlsec1", "")
    assert str(error.value) == (
        "saml_sp.crypto_backend xmlsec1: the xmlsec1 program is not installed"
        " (apt-get install xmlsec1), or choose crypto_backend: xmlsec"
    )


# -- the in-process backend's own refusals, and where it finds the session key -----------------


def moved_key(encrypted: str, extra_key: str | None = None, *, beside: bool = False) -> str:
    """The EncryptedAssertion with its xenc:EncryptedKey moved beside the EncryptedData, and/or
    `extra_key` (another recipient's EncryptedKey) put first where the keys are looked for."""
    root = etree.fromstring(encrypted)
    data = root.find(f"{{{XENC}}}EncryptedData")
    assert data is not None
    key_info = data.find(f"{{{DS}}}KeyInfo")
    assert key_info is not None
    (key,) = key_info.findall(f"{{{XENC}}}EncryptedKey")
    where = root if beside else key_info
    if beside:
        root.append(key)
    if extra_key is not None:
        extra = etree.fromstring(extra_key).find(f".//{{{XENC}}}EncryptedKey")
        assert extra is not None
        where.insert(list(where).index(key), extra)
    return etree.tostring(root, encoding="unicode")


def decrypted_assertion(sp_keys: ServiceProviderKeys, forge: Forge, s: Statement, body: str) -> str:
    """What the in-process backend decrypts `body` (an EncryptedAssertion) to, checked to be
    the genuine signed assertion."""
    response = forge.response(s, body, signed=False)
    decrypted = InProcessCrypto().decrypt(response, str(sp_keys.key_file))
    assert verify(InProcessCrypto(), decrypted, forge.key.cert_file, ASSERTION, s.assertion_id)
    return decrypted


def test_a_session_key_beside_the_encrypted_data_is_used(
    sp_keys: ServiceProviderKeys, forge: Forge, statement: Statement
) -> None:
    encrypted = moved_key(forge.encrypted(forge.assertion(statement)), beside=True)
    assert "</ds:KeyInfo><xenc:CipherData>" in encrypted.replace("<ds:KeyInfo/>", "</ds:KeyInfo>")
    decrypted_assertion(sp_keys, forge, statement, encrypted)


@pytest.mark.parametrize("beside", [False, True], ids=["in-key-info", "beside"])
def test_another_recipients_session_key_first_is_passed_over(
    sp_keys: ServiceProviderKeys, forge: Forge, statement: Statement, beside: bool
) -> None:
    """An IdP may encrypt the session key for several SPs; the SP's key fails on the others'."""
    for_another = Forge(forge.key, forge.impostor.cert_file, forge.impostor)
    other_key = for_another.encrypted(forge.assertion(statement))
    body = moved_key(forge.encrypted(forge.assertion(statement)), other_key, beside=beside)
    decrypted_assertion(sp_keys, forge, statement, body)


def test_a_session_key_that_decrypts_to_nothing_is_passed_over(
    sp_keys: ServiceProviderKeys, forge: Forge, statement: Statement
) -> None:
    """An EncryptedKey that the SP's key decrypts (RSA-OAEP) to no octets at all, put first:
    it is no AES key, and the next one is tried."""
    public_key = x509.load_pem_x509_certificate(sp_keys.cert_file.read_bytes()).public_key()
    assert isinstance(public_key, rsa.RSAPublicKey)
    oaep = padding.OAEP(mgf=padding.MGF1(hashes.SHA1()), algorithm=hashes.SHA1(), label=None)  # noqa: S303 - RSA-OAEP-MGF1P is SHA-1 by definition
    empty = base64.b64encode(public_key.encrypt(b"", oaep)).decode()
    empty_key = (
        f'<xenc:EncryptedData xmlns:xenc="{XENC}"><xenc:EncryptedKey>'
        f'<xenc:EncryptionMethod Algorithm="{RSA_OAEP_MGF1P}"/>'
        f"<xenc:CipherData><xenc:CipherValue>{empty}</xenc:CipherValue></xenc:CipherData>"
        "</xenc:EncryptedKey></xenc:EncryptedData>"
    )
    body = moved_key(forge.encrypted(forge.assertion(statement)), empty_key)
    decrypted_assertion(sp_keys, forge, statement, body)


@pytest.mark.parametrize("backend", CRYPTO_BACKENDS)
def test_an_encrypted_data_that_is_the_document_decrypts_to_its_element(
    sp_keys: ServiceProviderKeys, forge: Forge, statement: Statement, backend: CryptoBackendName
) -> None:
    """pysaml2 may hand over an EncryptedData on its own: its session key is in its KeyInfo,
    and there is nothing beside it to look in."""
    encrypted = etree.fromstring(forge.encrypted(forge.assertion(statement)))
    data = encrypted.find(f"{{{XENC}}}EncryptedData")
    assert data is not None
    alone = etree.tostring(data, encoding="unicode")
    decrypted = crypto_for(backend).decrypt(alone, str(sp_keys.key_file))
    assert decrypted.startswith("<saml:Assertion ")
    assert verify(
        crypto_for(backend), decrypted, forge.key.cert_file, ASSERTION, statement.assertion_id
    )


def test_aes_128_gcm_decrypts(
    sp_keys: ServiceProviderKeys, forge: Forge, statement: Statement
) -> None:
    body = forge.encrypted(forge.assertion(statement), data_alg=XENC11 + "aes128-gcm")
    decrypted_assertion(sp_keys, forge, statement, body)


def test_without_a_session_key_for_the_sp_decryption_fails(
    sp_keys: ServiceProviderKeys, forge: Forge, statement: Statement
) -> None:
    for_another = Forge(forge.key, forge.impostor.cert_file, forge.impostor)
    response = forge.response(statement, for_another.encrypted(forge.assertion(statement)))
    with pytest.raises(DecryptError, match=r"^no xenc:EncryptedKey that the SP's key decrypts$"):
        InProcessCrypto().decrypt(response, str(sp_keys.key_file))


def test_a_key_transport_algorithm_as_the_data_algorithm_is_refused(
    sp_keys: ServiceProviderKeys, forge: Forge, statement: Statement
) -> None:
    """rsa-oaep-mgf1p is allowed (for keys); on the EncryptedData it names no symmetric key."""
    body = forge.encrypted(forge.assertion(statement)).replace(AES256_GCM, RSA_OAEP_MGF1P, 1)
    with pytest.raises(DecryptError, match=r"^data encryption algorithm not supported$"):
        InProcessCrypto().decrypt(forge.response(statement, body), str(sp_keys.key_file))


def test_an_unreadable_key_or_certificate_fails_the_check(
    forge: Forge, statement: Statement, tmp_path: Path
) -> None:
    missing = str(tmp_path / "missing.pem")
    signed = forge.assertion(statement)
    with pytest.raises(SignatureError, match=r"^key unreadable \(Error\)$"):
        InProcessCrypto().validate_signature(
            signed, missing, "pem", ASSERTION, statement.assertion_id
        )
    with pytest.raises(DecryptError, match=r"^key unreadable \(Error\)$"):
        InProcessCrypto().decrypt(forge.genuine(statement), missing)


def test_the_in_process_backend_takes_only_pem_certificates(
    forge: Forge, statement: Statement
) -> None:
    signed = forge.assertion(statement)
    cert = str(forge.key.cert_file)
    with pytest.raises(SignatureError, match=r"^only PEM certificates$"):
        InProcessCrypto().validate_signature(signed, cert, "der", ASSERTION, statement.assertion_id)


@pytest.mark.parametrize("method", ["encrypt", "encrypt_assertion"])
def test_the_broker_never_encrypts(method: str) -> None:
    with pytest.raises(EncryptError, match=r"^the broker is an SP: it does not encrypt$"):
        getattr(InProcessCrypto(), method)("<a/>", "key.pem")


def test_the_in_process_backend_reports_the_binding_version() -> None:
    """pysaml2 logs it; xmlsec1's backend reports the program's."""
    assert InProcessCrypto().version == metadata.version("xmlsec")


# -- ECDSA: only where asked for (IdP metadata may be signed so) ----------------------------------


@pytest.fixture(scope="module")
def ec_pair(tmp_path_factory: pytest.TempPathFactory) -> KeyPair:
    key = ec.generate_private_key(ec.SECP256R1())
    directory = tmp_path_factory.mktemp("ec-signer")
    return write_pair(directory, "ec", key, self_signed(key, "ec-signer-TEST-ONLY"))


def test_an_ecdsa_signature_verifies_only_where_enabled(
    forge: Forge, statement: Statement, ec_pair: KeyPair
) -> None:
    xml = assertion_template(forge, statement).replace(RSA_SHA256, ECDSA_SHA256)
    signed = forge.sign(xml, statement.assertion_id, ec_pair)
    element, signature = signed_element(parse(signed), ASSERTION, statement.assertion_id)
    verify_enveloped(element, signature, str(ec_pair.cert_file), ecdsa=True)
    with pytest.raises(SignatureError, match=r"^signature not valid \(Error\)$"):
        verify_enveloped(element, signature, str(ec_pair.cert_file))
    # and with ECDSA enabled, still only with the certificate's key
    with pytest.raises(SignatureError, match=r"^signature not valid \(Error\)$"):
        verify_enveloped(element, signature, str(forge.key.cert_file), ecdsa=True)


def test_signing_needs_the_template_of_the_element(sp_keys: ServiceProviderKeys) -> None:
    """pysaml2 makes the SP metadata's signature template; without one, or with a broken one,
    the metadata is not signed and start-up says why."""
    entity = "urn:oasis:names:tc:SAML:2.0:metadata:EntityDescriptor"
    md = 'xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata"'
    key = str(sp_keys.key_file)
    with pytest.raises(SignatureError, match=r"^not one enveloped ds:Signature first in the"):
        InProcessCrypto().sign_statement(f'<md:EntityDescriptor {md} ID="_m"/>', entity, key, None)
    broken = (
        f'<md:EntityDescriptor {md} ID="_m"><ds:Signature xmlns:ds="{DS}"/></md:EntityDescriptor>'
    )
    with pytest.raises(SignatureError, match=r"^signing failed \(Error\)$"):
        InProcessCrypto().sign_statement(broken, entity, key, None)
