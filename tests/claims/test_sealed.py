"""The sealed identity code: AES-256-GCM under a key derived from the subject key for this one
purpose (HMAC-SHA256 over the label "seal\\0national-identity-code"), never the subject key
itself, so that the key which makes pairwise subjects cannot open a sealed code, nor the
other way round."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from broker.claims.sealed import SEALED_PREFIX, Sealer

SUBJECT_KEY = b"s" * 32
CODE = "010280-952L"


def opened_with(key: bytes, sealed: str) -> str:
    raw = base64.urlsafe_b64decode(sealed[len(SEALED_PREFIX) :])
    return AESGCM(key).decrypt(raw[:12], raw[12:], b"hetu").decode()


def test_a_sealed_code_opens_only_with_the_key_derived_for_sealing() -> None:
    sealed = Sealer(SUBJECT_KEY).seal(CODE)
    assert sealed.startswith(SEALED_PREFIX) and CODE not in sealed
    label = b"seal\x00national-identity-code"
    derived = hmac.new(SUBJECT_KEY, label, hashlib.sha256).digest()
    assert opened_with(derived, sealed) == CODE
    with pytest.raises(InvalidTag):
        opened_with(SUBJECT_KEY, sealed)


def test_a_code_sealed_under_another_subject_key_does_not_open() -> None:
    sealed = Sealer(b"t" * 32).seal(CODE)
    assert Sealer(SUBJECT_KEY).open(sealed) is None
    assert Sealer(SUBJECT_KEY).open(CODE) is None  # never a clear value
    assert Sealer(SUBJECT_KEY).open(Sealer(SUBJECT_KEY).seal(CODE)) == CODE
