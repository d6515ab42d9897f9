"""The signing keys' files, one rule at a time: what a key file must hold (each refusal names the
file and what is wrong), that a file's key is the key its metadata claims (kid, alg, use, type,
curve, size, private part, thumbprint), what the directory listing counts as a key file, and the
exact document written."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import pytest
from joserfc.jwk import ECKey, RSAKey

from broker.errors import ConfigError
from broker.frontend.oidc.key_files import (
    EC_CURVE,
    RSA_KEY_SIZE,
    check_alg,
    entry_from_jwk,
    expected_kid,
    file_name,
    new_entry,
    read_key_file,
    scan,
    write_key_file,
)

T0 = 1_700_000_000.0


@pytest.fixture(scope="module")
def es_entry() -> Any:
    return new_entry("ES256", created_at=T0, activates_at=T0 + 60, test=False)


@pytest.fixture(scope="module")
def rs_entry() -> Any:
    return new_entry("RS256", created_at=T0, activates_at=T0, test=True)


def document(entry: Any) -> dict[str, Any]:
    return {
        "kid": entry.kid,
        "alg": entry.alg,
        "created_at": entry.created_at,
        "activates_at": entry.activates_at,
        "test": entry.test,
        "jwk": dict(entry.private.as_dict(private=True)),
    }


def test_new_keys_are_of_the_documented_kinds(es_entry: Any, rs_entry: Any) -> None:
    assert rs_entry.private.raw_value.key_size == RSA_KEY_SIZE == 2048
    assert es_entry.private.as_dict()["crv"] == EC_CURVE == "P-256"
    for entry, alg in ((es_entry, "ES256"), (rs_entry, "RS256")):
        jwk = entry.private.as_dict(private=True)
        assert (jwk["alg"], jwk["use"], jwk["kid"]) == (alg, "sig", entry.kid)
        assert entry.public_jwk == {**entry.public.as_dict(private=False)}
        assert not {"d", "p", "q"} & entry.public_jwk.keys()
        assert (entry.private.is_private, entry.public.is_private) == (True, False)
        assert entry.public.as_dict() == entry.public_jwk
        assert entry.public_jwk["kid"] == entry.kid and entry.public_jwk["use"] == "sig"
    assert es_entry.kid == es_entry.private.thumbprint()
    assert rs_entry.kid == "test-" + rs_entry.private.thumbprint()
    assert expected_kid(es_entry.private, True) == "test-" + es_entry.kid
    assert (es_entry.created_at, es_entry.activates_at, es_entry.test) == (T0, T0 + 60, False)
    assert es_entry.order == (T0 + 60, T0, es_entry.kid)


def test_the_file_is_the_documented_document(tmp_path: Path, es_entry: Any) -> None:
    directory = tmp_path / "keys"
    write_key_file(directory, es_entry)
    path = directory / f"{es_entry.kid}.json"
    assert file_name(es_entry.kid) == path.name
    assert (os.stat(directory).st_mode & 0o777, os.stat(path).st_mode & 0o777) == (0o700, 0o600)
    text = path.read_text()
    assert json.loads(text) == document(es_entry)
    assert text.endswith("}\n") and text.startswith('{\n  "activates_at"')  # sorted, indented
    again = read_key_file(path)
    assert (again.kid, again.alg, again.created_at, again.activates_at, again.test) == (
        es_entry.kid,
        "ES256",
        T0,
        T0 + 60,
        False,
    )
    assert again.public_jwk == es_entry.public_jwk


def refusal(path: Path, data: object) -> str:
    path.write_text(json.dumps(data))
    with pytest.raises(ConfigError) as refused:
        read_key_file(path)
    return str(refused.value)


def test_each_field_of_a_key_file_is_checked(tmp_path: Path, es_entry: Any) -> None:
    path = tmp_path / f"{es_entry.kid}.json"
    good = document(es_entry)
    prefix = f"{path}: invalid key file: "
    cases: list[tuple[dict[str, Any] | list[object], str]] = [
        ([], "not a JSON object"),
        ({**good, "kid": 1}, "kid must be a str"),
        ({**good, "kid": "other"}, "kid 'other' does not match the file name"),
        ({**good, "alg": "HS256"}, "unsupported signing algorithm 'HS256'"),
        ({**good, "alg": None}, "alg must be a str"),
        ({**good, "jwk": "x"}, "jwk must be a dict"),
        ({**good, "created_at": "1"}, "created_at must be epoch seconds"),
        ({**good, "created_at": True}, "created_at must be epoch seconds"),
        ({**good, "activates_at": math.inf}, "activates_at must be epoch seconds"),
        ({**good, "activates_at": None}, "activates_at must be epoch seconds"),
        ({**good, "test": 0}, "test must be a bool"),
        ({**good, "test": None}, "test must be a bool"),
    ]
    for data, problem in cases:
        assert refusal(path, data).startswith(prefix + problem), problem
    path.write_text(json.dumps({**good, "created_at": 5, "activates_at": 7}))
    loaded = read_key_file(path)
    assert (loaded.created_at, loaded.activates_at) == (5.0, 7.0)
    assert isinstance(loaded.created_at, float)


def test_an_unreadable_file_is_named(tmp_path: Path) -> None:
    path = tmp_path / "x.json"
    path.write_text("{not json")
    with pytest.raises(ConfigError, match=r"^" + str(path) + r": unreadable key file: "):
        read_key_file(path)
    with pytest.raises(FileNotFoundError):  # pruned by another process: the caller skips it
        read_key_file(tmp_path / "gone.json")


def jwk_of(entry: Any, **changes: Any) -> dict[str, Any]:
    jwk = dict(entry.private.as_dict(private=True))
    jwk.update(changes)
    return {k: v for k, v in jwk.items() if v is not None}


def refused_jwk(jwk: dict[str, Any], entry: Any, alg: str | None = None, test: bool = False) -> str:
    with pytest.raises(ValueError) as refused:
        entry_from_jwk(
            jwk,
            kid=entry.kid,
            alg=alg or entry.alg,
            created_at=T0,
            activates_at=T0,
            test=test,
        )
    return str(refused.value)


def test_the_jwk_must_be_the_key_its_metadata_claims(es_entry: Any, rs_entry: Any) -> None:
    mismatch = "jwk kid, alg or use does not match the file"
    assert refused_jwk(jwk_of(es_entry, kid="other"), es_entry) == mismatch
    assert refused_jwk(jwk_of(es_entry, alg="RS256"), es_entry) == mismatch
    assert refused_jwk(jwk_of(es_entry, use="enc"), es_entry) == mismatch
    assert refused_jwk(jwk_of(es_entry, use=None), es_entry) == mismatch
    assert refused_jwk(jwk_of(es_entry, x=1), es_entry) == "jwk members must be strings"
    assert refused_jwk(jwk_of(es_entry, alg="RS256"), es_entry, "RS256") == "RS256 needs an RSA key"
    assert refused_jwk(jwk_of(rs_entry, alg="ES256"), rs_entry, "ES256", test=True) == (
        "ES256 needs an EC P-256 key"
    )
    p384 = ECKey.generate_key("P-384", {"alg": "ES256", "use": "sig"}, private=True)
    p384_jwk = {**p384.as_dict(private=True), "kid": "k"}
    with pytest.raises(ValueError, match=r"^ES256 needs an EC P-256 key$"):
        entry_from_jwk(p384_jwk, kid="k", alg="ES256", created_at=T0, activates_at=T0, test=False)
    public_only = {**es_entry.public_jwk, "alg": "ES256", "use": "sig"}
    with pytest.raises(ValueError, match=r"^jwk has no private key$"):
        entry_from_jwk(
            public_only, kid=es_entry.kid, alg="ES256", created_at=T0, activates_at=T0, test=False
        )
    # the test- prefix is part of the kid: a production key cannot pass for a test key
    assert refused_jwk(jwk_of(es_entry), es_entry, test=True) == (
        "kid is not the key's RFC 7638 thumbprint"
    )
    other = new_entry("ES256", created_at=T0, activates_at=T0, test=False)
    assert refused_jwk(jwk_of(other, kid=es_entry.kid), es_entry) == (
        "kid is not the key's RFC 7638 thumbprint"
    )


@pytest.mark.filterwarnings("ignore:Key size should be:joserfc.errors.SecurityWarning")
def test_an_rsa_key_shorter_than_2048_bits_is_refused() -> None:
    short = RSAKey.generate_key(1024, {"alg": "RS256", "use": "sig"}, private=True)
    kid = short.thumbprint()
    with pytest.raises(ValueError, match=r"^RSA key is shorter than 2048 bits$"):
        entry_from_jwk(
            {**short.as_dict(private=True), "kid": kid},
            kid=kid,
            alg="RS256",
            created_at=T0,
            activates_at=T0,
            test=False,
        )


def test_the_listing_counts_only_key_files(tmp_path: Path) -> None:
    assert scan(tmp_path / "missing") == {}
    (tmp_path / "a.json").write_text("{}")
    (tmp_path / ".a.json.123.tmp").write_text("")
    (tmp_path / ".lock").write_text("")
    (tmp_path / ".hidden.json").write_text("{}")
    (tmp_path / "notes.txt").write_text("")
    snapshot = scan(tmp_path)
    st = (tmp_path / "a.json").stat()
    assert snapshot == {"a.json": (st.st_ino, st.st_mtime_ns, st.st_size)}
    for n in range(20):  # a file gone between the listing and its stat is skipped, not the rest
        (tmp_path / f"k{n:02}.json").write_text("{}")
    (tmp_path / "gone.json").symlink_to(tmp_path / "nowhere")
    assert sorted(scan(tmp_path)) == ["a.json", *(f"k{n:02}.json" for n in range(20))]
    (tmp_path / "file").write_text("")
    with pytest.raises(ConfigError, match=r"file: key directory is not a directory$"):
        scan(tmp_path / "file")


def test_only_the_supported_algorithms_pass() -> None:
    assert check_alg("RS256") == "RS256" and check_alg("ES256") == "ES256"
    with pytest.raises(ConfigError) as refused:
        check_alg("rs256")
    assert str(refused.value) == (
        "unsupported signing algorithm 'rs256'; use one of ('RS256', 'ES256')"
    )
