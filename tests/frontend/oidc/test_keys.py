"""The signing key ring: file safety, rotation without downtime, and JWTs that verify elsewhere."""

from __future__ import annotations

import base64
import json
import logging
import math
import stat
from pathlib import Path
from typing import Any

import pytest
from joserfc import jws, jwt
from joserfc.jwk import KeySet, RSAKey

from broker.clock import FrozenClock
from broker.errors import ConfigError
from broker.frontend.oidc import keys
from broker.frontend.oidc.keys import (
    InvalidSignatureError,
    KeyInfo,
    KeyRing,
)
from broker.logs import scrub
from tests.read_only import read_only

T0 = 1_700_000_000.0
LEAD = 3600.0
RETENTION = 600.0


def make_ring(directory: Path, clock: FrozenClock) -> KeyRing:
    ring = KeyRing(directory, clock, publish_lead=LEAD, retention=RETENTION)
    ring.load()
    return ring


def published_kids(ring: KeyRing) -> set[str]:
    return {str(key["kid"]) for key in ring.public_jwks()["keys"]}


def states(ring: KeyRing) -> dict[str, str]:
    return {info.kid: info.state for info in ring.list()}


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(T0)


@pytest.fixture
def key_dir(tmp_path: Path) -> Path:
    return tmp_path / "var" / "keys"


def test_directory_and_files_are_private(key_dir: Path, clock: FrozenClock) -> None:
    ring = make_ring(key_dir, clock)
    created = ring.ensure(["RS256", "ES256"])

    assert mode(key_dir) == 0o700
    files = sorted(key_dir.iterdir())
    assert [p.name for p in files if not p.name.startswith(".")] == sorted(
        f"{info.kid}.json" for info in created
    )
    for path in files:
        assert mode(path) == 0o600
    assert not [p for p in files if p.name.endswith(".tmp")]


def test_file_holds_private_jwk_and_metadata(key_dir: Path, clock: FrozenClock) -> None:
    ring = make_ring(key_dir, clock)
    (info,) = ring.ensure(["ES256"])

    data = json.loads((key_dir / f"{info.kid}.json").read_text())
    assert data["kid"] == info.kid
    assert data["alg"] == "ES256"
    assert data["created_at"] == T0
    assert data["activates_at"] == T0
    assert data["test"] is False
    assert data["jwk"]["kid"] == info.kid
    assert data["jwk"]["crv"] == "P-256"
    assert "d" in data["jwk"]


def test_ensure_creates_one_active_key_per_alg(key_dir: Path, clock: FrozenClock) -> None:
    ring = make_ring(key_dir, clock)
    created = ring.ensure(["RS256", "ES256", "RS256"])

    assert sorted(info.alg for info in created) == ["ES256", "RS256"]
    assert all(info.state == "active" and not info.test for info in created)
    assert ring.ensure(["RS256", "ES256"]) == []

    restarted = make_ring(key_dir, clock)
    assert restarted.ensure(["RS256", "ES256"]) == []
    assert {i.kid for i in restarted.list()} == {i.kid for i in created}
    assert restarted.signing_key("RS256")[0] == ring.signing_key("RS256")[0]


def test_ensure_without_load_reads_the_directory(key_dir: Path, clock: FrozenClock) -> None:
    (first,) = make_ring(key_dir, clock).ensure(["ES256"])

    fresh = KeyRing(key_dir, clock)
    assert fresh.ensure(["ES256"]) == []
    assert fresh.signing_key("ES256")[0] == first.kid


def test_rotation_publishes_first_signs_later_and_retires(
    key_dir: Path, clock: FrozenClock
) -> None:
    ring = make_ring(key_dir, clock)
    (old,) = ring.ensure(["RS256"])
    clock.advance(10)

    new = ring.rotate("RS256")
    assert new.activates_at == T0 + 10 + LEAD
    assert new.state == "pending"
    assert published_kids(ring) == {old.kid, new.kid}
    assert ring.signing_key("RS256")[0] == old.kid
    assert states(ring) == {old.kid: "active", new.kid: "pending"}

    clock.advance(LEAD - 1)
    assert ring.signing_key("RS256")[0] == old.kid

    clock.advance(1)  # the new key activates
    assert ring.signing_key("RS256")[0] == new.kid
    assert states(ring) == {old.kid: "retiring", new.kid: "active"}
    assert published_kids(ring) == {old.kid, new.kid}
    assert ring.public_jwks()["keys"][0]["kid"] == new.kid
    assert ring.prune() == []

    clock.advance(RETENTION - 1)
    assert ring.find_public(old.kid) is not None

    clock.advance(1)  # retention has passed
    assert states(ring) == {old.kid: "expired", new.kid: "active"}
    assert published_kids(ring) == {new.kid}
    assert ring.find_public(old.kid) is None

    assert ring.prune() == [old.kid]
    assert not (key_dir / f"{old.kid}.json").exists()
    assert [info.kid for info in ring.list()] == [new.kid]
    assert make_ring(key_dir, clock).list() == ring.list()


def test_rotate_with_explicit_lead(key_dir: Path, clock: FrozenClock) -> None:
    ring = make_ring(key_dir, clock)
    ring.ensure(["ES256"])
    clock.advance(1)

    info = ring.rotate("ES256", publish_lead=0)
    assert info.state == "active"
    assert ring.signing_key("ES256")[0] == info.kid


def test_ensure_keeps_the_active_key_when_only_a_future_one_exists(
    key_dir: Path, clock: FrozenClock
) -> None:
    ring = make_ring(key_dir, clock)
    (old,) = ring.ensure(["RS256"])
    clock.advance(1)
    pending = ring.rotate("RS256")

    assert ring.ensure(["RS256"]) == []
    assert ring.signing_key("RS256")[0] == old.kid

    # With the old key gone, only a future key is left: ensure adds one that signs now.
    (key_dir / f"{old.kid}.json").unlink()
    restarted = make_ring(key_dir, clock)
    (stopgap,) = restarted.ensure(["RS256"])
    assert stopgap.state == "active"
    assert restarted.signing_key("RS256")[0] == stopgap.kid
    assert published_kids(restarted) == {stopgap.kid, pending.kid}

    clock.advance(LEAD)  # the planned key still takes over on time
    assert restarted.signing_key("RS256")[0] == pending.kid


@pytest.mark.parametrize("alg", ["RS256", "ES256"])
def test_jwt_verifies_with_public_jwks(key_dir: Path, clock: FrozenClock, alg: str) -> None:
    ring = make_ring(key_dir, clock)
    ring.ensure([alg])
    kid, _ = ring.signing_key(alg)

    token = ring.sign_jwt({"sub": "abc", "iss": "https://op.example"}, alg, typ="logout+jwt")

    jwks = ring.public_jwks()
    for key in jwks["keys"]:
        assert key["use"] == "sig"
        assert key["alg"] == alg
        assert not {"d", "p", "q", "dp", "dq", "qi"} & key.keys()
    decoded = jwt.decode(token, KeySet.import_key_set(jwks), algorithms=[alg])
    assert decoded.header == {"alg": alg, "kid": kid, "typ": "logout+jwt"}
    assert decoded.claims == {"sub": "abc", "iss": "https://op.example"}

    header, claims = ring.verify_jwt(token, [alg])
    assert header["kid"] == kid
    assert claims["sub"] == "abc"


def test_jwt_without_typ_has_no_typ_header(key_dir: Path, clock: FrozenClock) -> None:
    ring = make_ring(key_dir, clock)
    ring.ensure(["ES256"])

    header, _ = ring.verify_jwt(ring.sign_jwt({"a": 1}, "ES256"), ["ES256"])
    assert "typ" not in header


def test_retiring_key_still_verifies_and_expired_does_not(
    key_dir: Path, clock: FrozenClock
) -> None:
    ring = make_ring(key_dir, clock)
    ring.ensure(["ES256"])
    token = ring.sign_jwt({"sub": "x"}, "ES256")
    ring.rotate("ES256")

    clock.advance(LEAD + RETENTION - 1)
    assert ring.verify_jwt(token, ["ES256"])[1] == {"sub": "x"}

    clock.advance(1)
    with pytest.raises(InvalidSignatureError, match="kid"):
        ring.verify_jwt(token, ["ES256"])


def test_verify_refuses_tampered_unknown_and_disallowed(
    key_dir: Path, tmp_path: Path, clock: FrozenClock
) -> None:
    ring = make_ring(key_dir, clock)
    ring.ensure(["RS256", "ES256"])
    token = ring.sign_jwt({"sub": "abc"}, "RS256")
    header, _payload, signature = token.split(".")

    forged_payload = b64url(b'{"sub":"mallory"}')
    tampered = f"{header}.{forged_payload}.{signature}"
    with pytest.raises(InvalidSignatureError, match="signature"):
        ring.verify_jwt(tampered, ["RS256"])

    other = make_ring(tmp_path / "other", clock)
    other.ensure(["RS256"])
    with pytest.raises(InvalidSignatureError, match="unknown"):
        ring.verify_jwt(other.sign_jwt({"sub": "abc"}, "RS256"), ["RS256"])

    with pytest.raises(InvalidSignatureError, match="not allowed"):
        ring.verify_jwt(token, ["ES256"])

    unsigned = b64url(b'{"alg":"none"}') + f".{forged_payload}."
    with pytest.raises(InvalidSignatureError, match="not allowed"):
        ring.verify_jwt(unsigned, ["RS256", "none"])

    for garbage in ["", "abc", "a.b.c", "a.b.c.d.e"]:
        with pytest.raises(InvalidSignatureError):
            ring.verify_jwt(garbage, ["RS256"])


def test_verify_refuses_a_kid_of_another_alg(
    key_dir: Path, tmp_path: Path, clock: FrozenClock
) -> None:
    ring = make_ring(key_dir, clock)
    ring.ensure(["RS256", "ES256"])
    es_kid, _ = ring.signing_key("ES256")
    other = make_ring(tmp_path / "other", clock)
    other.ensure(["RS256"])
    _, rsa_key = other.signing_key("RS256")

    header = {"alg": "RS256", "kid": es_kid}
    impostor = RSAKey.import_key(rsa_key.as_dict(private=True, kid=es_kid))
    token = jws.serialize_compact(header, b"{}", impostor)
    with pytest.raises(InvalidSignatureError, match="ES256 key"):
        ring.verify_jwt(token, ["RS256", "ES256"])


def test_corrupt_key_file_names_the_file(key_dir: Path, clock: FrozenClock) -> None:
    ring = make_ring(key_dir, clock)
    (good,) = ring.ensure(["ES256"])
    bad = key_dir / "broken.json"
    bad.write_text("{not json")

    with pytest.raises(ConfigError, match=r"broken\.json"):
        KeyRing(key_dir, clock).load()
    with pytest.raises(ConfigError, match=r"broken\.json"):
        ring.load()
    assert ring.signing_key("ES256")[0] == good.kid  # the ring keeps its previous keys


def test_renamed_or_altered_key_file_is_refused(key_dir: Path, clock: FrozenClock) -> None:
    ring = make_ring(key_dir, clock)
    (info,) = ring.ensure(["ES256"])
    path = key_dir / f"{info.kid}.json"
    data = json.loads(path.read_text())

    path.rename(key_dir / "renamed.json")
    with pytest.raises(ConfigError, match=r"renamed\.json.*file name"):
        KeyRing(key_dir, clock).load()
    (key_dir / "renamed.json").unlink()

    data["jwk"]["x"], data["jwk"]["y"] = data["jwk"]["y"], data["jwk"]["x"]
    path.write_text(json.dumps(data))
    with pytest.raises(ConfigError, match=info.kid):
        KeyRing(key_dir, clock).load()


def test_reload_if_changed_sees_another_instance(key_dir: Path, clock: FrozenClock) -> None:
    server = make_ring(key_dir, clock)
    server.ensure(["RS256"])
    assert server.reload_if_changed() is False

    cli = make_ring(key_dir, clock)
    rotated = cli.rotate("RS256")

    assert server.find_public(rotated.kid) is None
    assert server.reload_if_changed() is True
    assert server.find_public(rotated.kid) is not None
    assert rotated.kid in published_kids(server)
    assert server.reload_if_changed() is False

    server.rotate("RS256")  # its own writes do not count as a change
    assert server.reload_if_changed() is False
    assert cli.reload_if_changed() is True
    assert len(cli.list()) == 3


def test_reload_reports_a_corrupt_file_once(key_dir: Path, clock: FrozenClock) -> None:
    ring = make_ring(key_dir, clock)
    ring.ensure(["ES256"])
    (key_dir / "broken.json").write_text("[]")

    with pytest.raises(ConfigError, match=r"broken\.json"):
        ring.reload_if_changed()
    assert ring.reload_if_changed() is False
    assert ring.signing_key("ES256")


def test_test_keys_are_named_and_reported(key_dir: Path, clock: FrozenClock) -> None:
    ring = make_ring(key_dir, clock)
    assert ring.has_test_keys() is False
    (info,) = ring.ensure(["ES256"], test=True)

    assert info.test is True
    assert info.kid.startswith("test-")
    assert ring.has_test_keys() is True
    assert make_ring(key_dir, clock).has_test_keys() is True


def test_unsupported_alg_and_missing_key_are_config_errors(
    key_dir: Path, clock: FrozenClock
) -> None:
    ring = make_ring(key_dir, clock)
    with pytest.raises(ConfigError, match="HS256"):
        ring.ensure(["HS256"])
    with pytest.raises(ConfigError, match="no active"):
        ring.sign_jwt({}, "RS256")
    with pytest.raises(ValueError, match="publish_lead"):
        KeyRing(key_dir, clock, publish_lead=-1)


def test_key_info_is_frozen(key_dir: Path, clock: FrozenClock) -> None:
    (info,) = make_ring(key_dir, clock).ensure(["ES256"])
    assert isinstance(info, KeyInfo)
    with pytest.raises(AttributeError):
        info.state = "expired"  # type: ignore[misc]


def test_lead_and_retention_must_be_finite_and_not_negative(
    key_dir: Path, clock: FrozenClock
) -> None:
    for name, value in (("publish_lead", math.inf), ("retention", math.nan), ("retention", -1)):
        with pytest.raises(ValueError) as refused:
            KeyRing(key_dir, clock, **{name: value})
        assert (
            str(refused.value) == f"{name} must be a finite number of seconds >= 0, not {value!r}"
        )
    ring = KeyRing(key_dir, clock, publish_lead=0, retention=0)
    ring.ensure(["ES256"])
    with pytest.raises(ValueError, match=r"^publish_lead must be a finite number"):
        ring.rotate("ES256", publish_lead=-0.5)
    clock.advance(1)
    assert ring.rotate("ES256").state == "active"  # a lead of 0 from the constructor


def test_the_jwks_lists_active_then_pending_then_retiring_keys(
    key_dir: Path, clock: FrozenClock
) -> None:
    ring = make_ring(key_dir, clock)
    es_old, rs_old = sorted(ring.ensure(["RS256", "ES256"]), key=lambda i: i.alg)
    clock.advance(1)
    es_new = ring.rotate("ES256", publish_lead=0)  # es_old retires
    clock.advance(1)
    rs_next = ring.rotate("RS256", publish_lead=100)
    clock.advance(1)
    rs_later = ring.rotate("RS256", publish_lead=200)
    kids = [key["kid"] for key in ring.public_jwks()["keys"]]
    assert kids == [es_new.kid, rs_old.kid, rs_later.kid, rs_next.kid, es_old.kid]
    assert [info.kid for info in ring.list()] == [
        es_old.kid, es_new.kid, rs_old.kid, rs_next.kid, rs_later.kid,
    ]  # fmt: skip
    assert [info.state for info in ring.list()] == [
        "retiring", "active", "active", "pending", "pending",
    ]  # fmt: skip
    clock.advance(RETENTION)
    assert states(ring)[es_old.kid] == "expired"


def test_a_key_superseded_this_second_is_retiring(key_dir: Path, clock: FrozenClock) -> None:
    ring = make_ring(key_dir, clock)
    (old,) = ring.ensure(["ES256"])
    new = ring.rotate("ES256", publish_lead=10)
    clock.advance(10)
    assert states(ring) == {old.kid: "retiring", new.kid: "active"}
    assert ring.find_public(new.kid) is not None and ring.find_public("nope") is None


def test_the_payload_is_compact_utf8_json(key_dir: Path, clock: FrozenClock) -> None:
    ring = make_ring(key_dir, clock)
    ring.ensure(["ES256"])
    token = ring.sign_jwt({"name": "Mäki", "n": [1, 2]}, "ES256")
    payload = token.split(".")[1]
    raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    assert raw == '{"name":"Mäki","n":[1,2]}'.encode()
    assert ring.verify_jwt(token, ["ES256"])[1] == {"name": "Mäki", "n": [1, 2]}


def forged(ring: KeyRing, header: dict[str, object], payload: bytes, alg: str = "ES256") -> str:
    """A token signed with the ring's own active key, with any header and payload."""
    _, key = ring.signing_key(alg)
    return jws.serialize_compact(header, payload, key, algorithms=[alg])


def test_each_header_check_says_what_is_wrong(key_dir: Path, clock: FrozenClock) -> None:
    ring = make_ring(key_dir, clock)
    ring.ensure(["ES256", "RS256"])
    kid, _ = ring.signing_key("ES256")
    unsigned: list[tuple[dict[str, object], str]] = [  # refused before any signature check
        (
            {"kid": kid, "crit": ["exp"], "exp": 1},
            "token has unsupported critical header parameters",
        ),
        ({"kid": kid, "b64": True}, "token has unsupported critical header parameters"),
        ({"kid": 7}, "token header has no kid"),
    ]
    for extra, message in unsigned:
        header = b64url(json.dumps({"alg": "ES256", **extra}).encode())
        with pytest.raises(InvalidSignatureError) as refused:
            ring.verify_jwt(f"{header}.{b64url(b'{}')}.{b64url(b'x' * 64)}", ["ES256"])
        assert str(refused.value) == message
    cases: list[tuple[dict[str, object], bytes, str]] = [
        ({"alg": "ES256"}, b"{}", "token header has no kid"),
        ({"alg": "ES256", "kid": "nope"}, b"{}", "unknown or unpublished kid 'nope'"),
        ({"alg": "ES256", "kid": kid}, b"[1]", "token payload is not a JSON object"),
        ({"alg": "ES256", "kid": kid}, b"{no", "token payload is not JSON"),
    ]  # fmt: skip
    for header, payload, message in cases:
        with pytest.raises(InvalidSignatureError) as refused:
            ring.verify_jwt(forged(ring, header, payload), ["ES256"])
        assert str(refused.value) == message, header
    token = forged(ring, {"alg": "ES256", "kid": kid}, b"{}")
    with pytest.raises(InvalidSignatureError) as refused:
        ring.verify_jwt(token, ["RS256"])
    assert str(refused.value) == "token alg 'ES256' is not allowed"
    hs = b64url(b'{"alg":"HS256","kid":"x"}') + "." + b64url(b"{}") + "." + b64url(b"sig")
    with pytest.raises(InvalidSignatureError) as refused:  # listed by the caller, not supported
        ring.verify_jwt(hs, ["HS256"])
    assert str(refused.value) == "token alg 'HS256' is not allowed"
    listed = b64url(b'{"alg":["ES256"],"kid":"x"}') + "." + b64url(b"{}") + "." + b64url(b"sig")
    with pytest.raises(InvalidSignatureError) as refused:
        ring.verify_jwt(listed, ["ES256"])
    assert str(refused.value) == "token alg ['ES256'] is not allowed"
    with pytest.raises(InvalidSignatureError) as refused:
        ring.verify_jwt("a.b.c.d", ["ES256"])
    assert str(refused.value) == "malformed token"
    header, payload, _ = token.split(".")
    bad = f"{header}.{payload}.{b64url(b'x' * 64)}"
    with pytest.raises(InvalidSignatureError) as refused:
        ring.verify_jwt(bad, ["ES256"])
    assert str(refused.value) == "bad token signature"


def test_a_read_only_directory_without_keys_is_named(key_dir: Path, clock: FrozenClock) -> None:
    key_dir.mkdir(parents=True)
    ring = make_ring(key_dir, clock)
    with read_only(key_dir), pytest.raises(ConfigError) as refused:
        ring.ensure(["ES256"])
    assert str(refused.value).startswith(f"{key_dir}: cannot make the missing signing keys (")
    assert str(refused.value).endswith(
        "); a read-only key directory must hold an active key for every algorithm"
    )


def test_an_expired_key_on_a_read_only_directory_is_left_to_its_operator(
    key_dir: Path, clock: FrozenClock, caplog: pytest.LogCaptureFixture
) -> None:
    ring = make_ring(key_dir, clock)
    (old,) = ring.ensure(["ES256"])
    clock.advance(1)
    new = ring.rotate("ES256", publish_lead=0)
    clock.advance(RETENTION)
    with read_only(key_dir), caplog.at_level(logging.WARNING, logger="broker.frontend.oidc.keys"):
        assert ring.prune() == [old.kid]
        assert ring.reload_if_changed() is False  # the kept file is not read back each round
    (record,) = caplog.records
    # the same whether or not an earlier test installed the log scrubbing (a kid has the shape
    # of a long random value, which the scrubbing redacts)
    expected = f"expired signing key {old.kid}: its file cannot be deleted here"
    assert scrub(record.getMessage()) == scrub(expected)
    assert (key_dir / f"{old.kid}.json").exists()
    assert [info.kid for info in ring.list()] == [new.kid]
    assert ring.prune() == []
    assert ring.prune() == []  # writable again: nothing left in the ring to prune
    (key_dir / f"{old.kid}.json").unlink()  # the operator removes it
    assert ring.reload_if_changed() is True
    assert [info.kid for info in ring.list()] == [new.kid]


def test_pruning_forgets_the_file_it_deleted(key_dir: Path, clock: FrozenClock) -> None:
    ring = make_ring(key_dir, clock)
    (old,) = ring.ensure(["ES256"])
    clock.advance(1)
    ring.rotate("ES256", publish_lead=0)
    clock.advance(RETENTION)
    assert ring.prune() == [old.kid]
    assert ring.reload_if_changed() is False  # its own deletion is no change to read back


def test_ensure_adds_only_the_algs_without_an_active_key(key_dir: Path, clock: FrozenClock) -> None:
    ring = make_ring(key_dir, clock)
    (rs,) = ring.ensure(["RS256"])
    (es,) = ring.ensure(["RS256", "ES256"])
    assert (es.alg, es.state) == ("ES256", "active")
    assert {info.kid for info in ring.list()} == {rs.kid, es.kid}


def test_by_default_a_key_is_published_an_hour_before_it_signs_and_an_hour_after(
    key_dir: Path, clock: FrozenClock
) -> None:
    ring = KeyRing(key_dir, clock)
    (old,) = ring.ensure(["ES256"])
    new = ring.rotate("ES256")
    assert new.activates_at == T0 + 3600
    clock.advance(3600 + 3599)
    assert states(ring) == {old.kid: "retiring", new.kid: "active"}
    clock.advance(1)
    assert states(ring) == {old.kid: "expired", new.kid: "active"}


def test_a_file_pruned_by_another_process_while_loading_is_skipped(
    key_dir: Path, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The race of another process's prune between the listing and the reading, made certain:
    the first file read is deleted just before it is read."""
    ring = make_ring(key_dir, clock)
    created = ring.ensure(["RS256", "ES256"])
    first, second = sorted(f"{info.kid}.json" for info in created)
    real_read = keys.read_key_file

    def pruned_first(path: Path) -> Any:
        if path.name == first:
            path.unlink()
        return real_read(path)

    monkeypatch.setattr(keys, "read_key_file", pruned_first)
    survivor = KeyRing(key_dir, clock)
    survivor.load()
    assert [f"{info.kid}.json" for info in survivor.list()] == [second]
    monkeypatch.setattr(keys, "read_key_file", real_read)
    assert survivor.reload_if_changed() is False  # the listing it keeps is the directory's


def test_a_header_that_is_no_object_or_has_a_bad_member_is_refused_by_name(
    key_dir: Path, clock: FrozenClock
) -> None:
    ring = make_ring(key_dir, clock)
    ring.ensure(["ES256"])
    kid, _ = ring.signing_key("ES256")
    rest = f".{b64url(b'{}')}.{b64url(b'x' * 64)}"
    for header in (b'["alg"]', b'"alg"'):
        with pytest.raises(InvalidSignatureError) as refused:
            ring.verify_jwt(b64url(header) + rest, ["ES256"])
        assert str(refused.value) == "malformed token header"
    typed = json.dumps({"alg": "ES256", "kid": kid, "typ": 5}).encode()
    with pytest.raises(InvalidSignatureError) as refused:
        ring.verify_jwt(b64url(typed) + rest, ["ES256"])
    assert (
        str(refused.value) == "invalid token: invalid_header_value: 'typ' in header must be a str"
    )


def test_ensure_with_every_key_active_writes_nothing(key_dir: Path, clock: FrozenClock) -> None:
    """Not even the lock file: the directory may be a read-only mount."""
    ring = make_ring(key_dir, clock)
    ring.ensure(["RS256", "ES256"])
    (key_dir / ".lock").unlink()
    with read_only(key_dir):
        assert ring.ensure(["ES256", "RS256"]) == []
    assert not (key_dir / ".lock").exists()


def test_two_replicas_pruning_the_same_key_both_succeed(key_dir: Path, clock: FrozenClock) -> None:
    first = make_ring(key_dir, clock)
    (old,) = first.ensure(["ES256"])
    clock.advance(1)
    first.rotate("ES256", publish_lead=0)
    second = make_ring(key_dir, clock)
    clock.advance(RETENTION)
    assert first.prune() == [old.kid]
    assert second.prune() == [old.kid]  # its file is gone already: no error


def test_a_ring_never_loaded_can_rotate_and_its_keys_are_no_test_keys(
    key_dir: Path, clock: FrozenClock
) -> None:
    info = KeyRing(key_dir, clock).rotate("ES256", publish_lead=0)
    assert (info.test, info.kid.startswith("test-"), info.created_at) == (False, False, T0)
    assert [i.created_at for i in make_ring(key_dir, clock).list()] == [T0]
