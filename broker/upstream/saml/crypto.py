"""pysaml2's crypto backends for the broker: XML signatures and decryption in process, with the
`xmlsec` binding (python-xmlsec, libxmlsec1 in the wheel), or by the `xmlsec1` program.

    InProcessCrypto   validate_signature, decrypt, sign_statement: python-xmlsec on an lxml
                      tree; no subprocess, no temporary file
    ProgramCrypto     pysaml2's CryptoBackendXmlSec1 (one `xmlsec1` run per signature or
                      decryption), with the same profile check first
    security_context  the pysaml2 SecurityContext for a loaded config, with the chosen backend

Both make the same checks, by construction: `signature_profile` decides which element and
which ds:Signature are verified and what the signature may say; then the backend verifies it
with the key of the certificate pysaml2 hands over (from the IdP's metadata). In process that key
is set on the signature context, so libxmlsec1 never reads ds:KeyInfo; xmlsec1 gets it with
`--pubkey-cert-pem` and `--enabled-key-data raw-x509-cert`, so ds:X509Data is ignored there too.
The Reference resolves only to the element found: its ID is the only one registered, and the
profile refused any other element carrying it. Only the allowed transforms and algorithms are
enabled in the signature context, a second fence behind the profile check.

Decryption takes the first xenc:EncryptedData in the document, as `xmlsec1 --decrypt` does,
after `decryption` checked its algorithms and those of every xenc:EncryptedKey against the
IdP's policy: its xenc:EncryptedKey (in its KeyInfo, or beside it) with the SP's private key,
then the data with that session key, to octets; `decryption` parses them in the context of
the EncryptedData's parent as the IdP sent it. The xmlsec1 path decrypts the same element to
octets and hands them to the same function. The broker never encrypts (it is an SP), so
`encrypt` and `encrypt_assertion` refuse.

`verify_enveloped` is the in-process signature check itself (key from a certificate file, the
element's ID registered, only the allowed algorithms enabled): the IdP metadata's signature goes
through it too (`metadata_signature`), so the in-process backend needs no xmlsec1 at all.

pysaml2 builds its own SecurityContext in `Entity.__init__` from `crypto_backend` in its config;
`ServiceProvider.client` replaces it with this module's at once. Blocking, all of it: run in a
thread.
"""

from __future__ import annotations

import shutil
from importlib import metadata
from typing import Any, Final, Literal

from lxml import etree

from broker.errors import ConfigError
from broker.upstream.saml.decryption import (
    XENC,
    EncryptionPolicy,
    encrypted_part,
    replace_with_cleartext,
)
from broker.upstream.saml.pysaml2 import (
    CryptoBackend,
    CryptoBackendXmlSec1,
    DecryptError,
    EncryptError,
    RSACrypto,
    SecurityContext,
    SignatureError,
    import_rsa_key_from_file,
)
from broker.upstream.saml.signature_profile import (
    DS,
    SignatureProfileError,
    check_profile,
    parse,
    signed_element,
)

try:  # wheels of xmlsec and lxml each bundle libxml2; a mismatch fails right here
    import xmlsec

    _UNAVAILABLE: str | None = None
except Exception as exc:  # xmlsec.InternalError, ImportError: either way, not usable
    _UNAVAILABLE = f"{type(exc).__name__}: {exc}"

__all__ = [
    "CRYPTO_BACKENDS",
    "CryptoBackendName",
    "InProcessCrypto",
    "ProgramCrypto",
    "check_backend",
    "security_context",
    "verify_enveloped",
]

CryptoBackendName = Literal["xmlsec", "xmlsec1"]
CRYPTO_BACKENDS: Final[tuple[CryptoBackendName, ...]] = ("xmlsec", "xmlsec1")


def check_backend(backend: CryptoBackendName, xmlsec_binary: str) -> None:
    """At start-up: ConfigError unless the chosen backend can run here."""
    if backend == "xmlsec1" and not xmlsec_binary:
        raise ConfigError(
            "saml_sp.crypto_backend xmlsec1: the xmlsec1 program is not installed "
            "(apt-get install xmlsec1), or choose crypto_backend: xmlsec"
        )
    if backend == "xmlsec" and _UNAVAILABLE is not None:
        raise ConfigError(
            f"saml_sp.crypto_backend xmlsec: the xmlsec module cannot be used ({_UNAVAILABLE}); "
            "xmlsec and lxml must bundle the same libxml2 (install the versions uv.lock pins), "
            "or choose crypto_backend: xmlsec1"
        )


def security_context(
    config: Any, backend: CryptoBackendName, encryption: EncryptionPolicy | None = None
) -> Any:
    """What `saml2.sigver.security_context` makes, with the broker's backend: the same keys and
    metadata, and the RSA signer for the HTTP-Redirect binding (the AuthnRequest); decryption
    by the IdP's `encryption` policy (the default one if None)."""
    policy = encryption or EncryptionPolicy()
    crypto: CryptoBackend
    if backend == "xmlsec":
        crypto = InProcessCrypto(policy)
    else:
        binary = config.xmlsec_binary or shutil.which("xmlsec1") or ""
        check_backend(backend, binary)
        crypto = ProgramCrypto(binary, delete_tmpfiles=config.delete_tmpfiles, encryption=policy)
    pairs = config.encryption_keypairs or []
    return SecurityContext(
        crypto,
        config.key_file,
        cert_file=config.cert_file,
        metadata=config.metadata,
        only_use_keys_in_metadata=config.only_use_keys_in_metadata,
        validate_certificate=config.validate_certificate,
        enc_key_files=[pair["key_file"] for pair in pairs if "key_file" in pair],
        encryption_keypairs=pairs,
        sec_backend=RSACrypto(import_rsa_key_from_file(config.key_file)),
        delete_tmpfiles=config.delete_tmpfiles,
    )


class ProgramCrypto(CryptoBackendXmlSec1):  # type: ignore[misc]  # pysaml2 is untyped
    """The `xmlsec1` program, as pysaml2 runs it, after the broker's profile check and
    encryption policy."""

    def __init__(
        self,
        xmlsec_binary: str,
        delete_tmpfiles: bool = True,
        encryption: EncryptionPolicy | None = None,
    ) -> None:
        super().__init__(xmlsec_binary, delete_tmpfiles=delete_tmpfiles)
        self._policy = encryption or EncryptionPolicy()

    def validate_signature(
        self, signedtext: str | bytes, cert_file: str, cert_type: str, node_name: str, node_id: str
    ) -> bool:
        _, signature = signed_element(parse(signedtext), node_name, node_id)
        check_profile(signature, node_id)
        return bool(
            super().validate_signature(signedtext, cert_file, cert_type, node_name, node_id)
        )

    def decrypt(self, enctext: str | bytes, key_file: str) -> str:
        """xmlsec1 decrypts the first EncryptedData, its Type removed, to the cleartext alone."""
        part = encrypted_part(enctext, self._policy)
        document = etree.tostring(part.root, encoding="unicode")
        cleartext = str(super().decrypt(document, key_file))
        return replace_with_cleartext(part, cleartext.encode("utf-8"))


class InProcessCrypto(CryptoBackend):  # type: ignore[misc]  # pysaml2 is untyped
    """libxmlsec1 through python-xmlsec. Every failure is one of pysaml2's XmlsecError kinds
    (SignatureError, DecryptError), as a failed xmlsec1 run is, so pysaml2 reacts the same."""

    def __init__(self, encryption: EncryptionPolicy | None = None) -> None:
        super().__init__()
        self._policy = encryption or EncryptionPolicy()

    @property
    def version(self) -> str:
        return metadata.version("xmlsec")

    def validate_signature(
        self, signedtext: str | bytes, cert_file: str, cert_type: str, node_name: str, node_id: str
    ) -> bool:
        """True, or SignatureError naming the rule or the failed check."""
        if cert_type != "pem":
            raise SignatureProfileError("only PEM certificates")
        element, signature = signed_element(parse(signedtext), node_name, node_id)
        check_profile(signature, node_id)
        verify_enveloped(element, signature, cert_file)
        return True

    def decrypt(self, enctext: str | bytes, key_file: str) -> str:
        """The document with its first xenc:EncryptedData replaced by what it decrypts to."""
        part = encrypted_part(enctext, self._policy)
        session_key = _session_key(
            part.data, _key(key_file, xmlsec.constants.KeyDataFormatPem, DecryptError)
        )
        context = xmlsec.EncryptionContext()
        context.key = session_key
        try:
            cleartext = context.decrypt(part.data)  # octets: the Type is removed
        except xmlsec.Error as exc:
            raise DecryptError(f"decryption failed ({type(exc).__name__})") from exc
        if not isinstance(cleartext, bytes):
            raise DecryptError("decryption did not give octets")
        return replace_with_cleartext(part, cleartext)

    def sign_statement(
        self, statement: Any, node_name: str, key_file: str, node_id: str | None
    ) -> str:
        """Fill in the signature template of the element with that ID, or of the root element
        without one, as xmlsec1 does (pysaml2 made the template, with the SP's certificate in
        its KeyInfo): the SP metadata."""
        try:
            root = parse(str(statement))
            element, signature = signed_element(root, node_name, node_id or root.get("ID"))
        except SignatureProfileError as exc:
            raise SignatureError(str(exc)) from exc
        context = xmlsec.SignatureContext()
        context.key = _key(key_file, xmlsec.constants.KeyDataFormatPem)
        try:
            context.register_id(element, "ID")
            context.sign(signature)
        except xmlsec.Error as exc:
            raise SignatureError(f"signing failed ({type(exc).__name__})") from exc
        return str(etree.tostring(element.getroottree().getroot(), encoding="unicode"))

    def encrypt(self, *args: Any, **kwargs: Any) -> str:
        raise EncryptError("the broker is an SP: it does not encrypt")

    def encrypt_assertion(self, *args: Any, **kwargs: Any) -> str:
        raise EncryptError("the broker is an SP: it does not encrypt")


def verify_enveloped(
    element: etree._Element, signature: etree._Element, cert_file: str, *, ecdsa: bool = False
) -> None:
    """SignatureError unless `signature` (the enveloped one `signed_element` found, its profile
    checked) verifies `element` with the key of the PEM certificate in `cert_file`, and that
    key only. `ecdsa` also enables ECDSA (IdP metadata may be signed so)."""
    context = _verification_context(
        _key(cert_file, xmlsec.constants.KeyDataFormatCertPem), ecdsa=ecdsa
    )
    try:
        context.register_id(element, "ID")
        context.verify(signature)
    except xmlsec.Error as exc:
        raise SignatureError(f"signature not valid ({type(exc).__name__})") from exc


def _verification_context(key: xmlsec.Key, *, ecdsa: bool = False) -> xmlsec.SignatureContext:
    """A signature context that knows one key and enables only the profile's algorithms (those
    of `signature_profile`; the digests count as reference transforms in libxmlsec1)."""
    constants = xmlsec.constants
    context = xmlsec.SignatureContext()
    context.key = key
    for transform in (
        constants.TransformEnveloped,
        constants.TransformExclC14N,
        constants.TransformExclC14NWithComments,
        constants.TransformSha256,
        constants.TransformSha384,
        constants.TransformSha512,
    ):
        context.enable_reference_transform(transform)
    for transform in (
        constants.TransformExclC14N,
        constants.TransformExclC14NWithComments,
        constants.TransformRsaSha256,
        constants.TransformRsaSha384,
        constants.TransformRsaSha512,
        *(_ECDSA if ecdsa else ()),
    ):
        context.enable_signature_transform(transform)
    return context


_ECDSA: Final = (
    (
        xmlsec.constants.TransformEcdsaSha256,
        xmlsec.constants.TransformEcdsaSha384,
        xmlsec.constants.TransformEcdsaSha512,
    )
    if _UNAVAILABLE is None
    else ()
)


def _session_key(encrypted: etree._Element, private_key: xmlsec.Key) -> xmlsec.Key:
    """The EncryptedData's symmetric key, from the first xenc:EncryptedKey (in its KeyInfo, or
    beside it in the EncryptedAssertion) that the SP's key decrypts. Done by hand, not through
    an xmlsec KeysManager: adding an RSA key to one costs about 27 ms (OpenSSL 3 duplicates
    it), five times the decryption itself."""
    method = encrypted.find(f"{{{XENC}}}EncryptionMethod")  # allowed: `decryption`
    algorithm = "" if method is None else method.get("Algorithm", "")
    constants = xmlsec.constants
    if "#aes" not in algorithm:  # the policy allows only AES for data (no Triple DES)
        raise DecryptError("data encryption algorithm not supported")
    parent = encrypted.getparent()
    candidates = encrypted.findall(f"{{{DS}}}KeyInfo/{{{XENC}}}EncryptedKey")
    candidates += [] if parent is None else parent.findall(f"{{{XENC}}}EncryptedKey")
    for candidate in candidates:
        context = xmlsec.EncryptionContext()
        context.key = private_key
        try:
            data: Any = context.decrypt(candidate)  # bytes for an EncryptedKey
        except xmlsec.Error:
            continue  # another recipient's, or not ours
        if isinstance(data, bytes) and data:
            return xmlsec.Key.from_binary_data(constants.KeyDataAes, data)
    raise DecryptError("no xenc:EncryptedKey that the SP's key decrypts")


def _key(path: str, key_format: int, error: type[Exception] = SignatureError) -> xmlsec.Key:
    try:
        return xmlsec.Key.from_file(path, key_format)
    except (xmlsec.Error, OSError) as exc:
        raise error(f"key unreadable ({type(exc).__name__})") from exc
