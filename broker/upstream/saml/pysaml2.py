"""The one door to pysaml2: every name the broker uses from it, imported here and nowhere else.

pysaml2 7.5 imports cryptography's CFB mode from its old place, and cryptography warns on that
import (the project's pytest configuration turns warnings into errors). Importing pysaml2 only
here keeps the guard in one place and shows at a glance how much of pysaml2 the broker relies on.
"""

from __future__ import annotations

import warnings

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", "CFB has been moved")
    from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT, md, saml, samlp
    from saml2.client import Saml2Client
    from saml2.config import SPConfig
    from saml2.extension import algsupport, mdui
    from saml2.metadata import entity_descriptor, sign_entity_descriptor
    from saml2.response import (
        StatusAuthnFailed,
        StatusError,
        StatusNoAuthnContext,
        StatusNoPassive,
        StatusRequestDenied,
    )
    from saml2.s_utils import UnsupportedBinding
    from saml2.saml import (
        NAME_FORMAT_URI,
        NAMEID_FORMAT_ENTITY,
        NAMEID_FORMAT_PERSISTENT,
        NAMEID_FORMAT_TRANSIENT,
        NAMEID_FORMAT_UNSPECIFIED,
        SCM_BEARER,
        AuthnContextClassRef,
    )
    from saml2.sigver import (
        CryptoBackend,
        CryptoBackendXmlSec1,
        DecryptError,
        EncryptError,
        RSACrypto,
        SecurityContext,
        SignatureError,
        import_rsa_key_from_file,
    )
    from saml2.time_util import str_to_time
    from saml2.xmldsig import DIGEST_SHA256, SIG_RSA_SHA256

__all__ = [
    "BINDING_HTTP_POST",
    "BINDING_HTTP_REDIRECT",
    "DIGEST_SHA256",
    "NAMEID_FORMAT_ENTITY",
    "NAMEID_FORMAT_PERSISTENT",
    "NAMEID_FORMAT_TRANSIENT",
    "NAMEID_FORMAT_UNSPECIFIED",
    "NAME_FORMAT_URI",
    "SCM_BEARER",
    "SIG_RSA_SHA256",
    "AuthnContextClassRef",
    "CryptoBackend",
    "CryptoBackendXmlSec1",
    "DecryptError",
    "EncryptError",
    "RSACrypto",
    "SPConfig",
    "Saml2Client",
    "SecurityContext",
    "SignatureError",
    "StatusAuthnFailed",
    "StatusError",
    "StatusNoAuthnContext",
    "StatusNoPassive",
    "StatusRequestDenied",
    "UnsupportedBinding",
    "algsupport",
    "entity_descriptor",
    "import_rsa_key_from_file",
    "md",
    "mdui",
    "saml",
    "samlp",
    "sign_entity_descriptor",
    "str_to_time",
]
