"""The OpenID Provider's signing key ring, rotated live (its files: `key_files.py`).

A key's state is derived from its file's timestamps and the injected clock alone, so any number of
processes reading the same directory agree without sharing other state. Per algorithm, keys are
ordered by `activates_at` (then `created_at`, then `kid`) and each key is:

    pending   published, not signing yet (activates_at > now), so portals' JWKS caches see it first
    active    the one signing key: the latest key whose activates_at <= now
    retiring  superseded when the next key activated at T; still published until T + retention,
              so that everything it signed keeps verifying
    expired   no longer published; `prune()` deletes its file

File layout (`<kid>.json`, mode 0600, in a 0700 directory): `kid`, `alg`, `created_at`,
`activates_at` (epoch seconds), `test` and `jwk` (the private JWK with `kid`, `alg` and `use`).
The kid is the RFC 7638 thumbprint, prefixed with `test-` for test keys.
"""

from __future__ import annotations

import builtins
import json
import logging
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal, TypeAlias

from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import KeySetSerialization

from broker.clock import Clock
from broker.errors import ConfigError
from broker.frontend.oidc.key_files import (
    RSA_KEY_SIZE,
    SUPPORTED_ALGS,
    TEST_KID_PREFIX,
    KeyEntry,
    SigningKey,
    Snapshot,
    check_alg,
    file_name,
    new_entry,
    read_key_file,
    scan,
    write_key_file,
)
from broker.secret_files import (
    directory_lock,
    is_read_only,
)

__all__ = [
    "RSA_KEY_SIZE",
    "SUPPORTED_ALGS",
    "TEST_KID_PREFIX",
    "InvalidSignatureError",
    "KeyInfo",
    "KeyRing",
    "KeyState",
    "SigningKey",
]

KeyState: TypeAlias = Literal["pending", "active", "retiring", "expired"]

_PUBLISHED: Final[frozenset[KeyState]] = frozenset({"pending", "active", "retiring"})
_JWKS_ORDER: Final[dict[KeyState, int]] = {"active": 0, "pending": 1, "retiring": 2, "expired": 3}
# One registry per alg, so that a token can never be checked with an algorithm it does not name.
_REGISTRIES: Final = {alg: jws.JWSRegistry(algorithms=[alg]) for alg in SUPPORTED_ALGS}

log = logging.getLogger(__name__)


class InvalidSignatureError(ValueError):
    """A JWT no published key vouches for: malformed, unknown kid, bad signature or alg."""


@dataclass(frozen=True, slots=True)
class KeyInfo:
    """What operators and the CLI see of a key; never the key material."""

    kid: str
    alg: str
    created_at: float
    activates_at: float
    state: KeyState
    test: bool


class KeyRing:
    """The signing keys in one directory, cached in memory; see the module docstring for states.

    `publish_lead` is how long a rotated key is published before it signs; `retention` is how long
    a superseded key stays published: the longest lifetime of anything it signed plus clock skew.
    """

    def __init__(
        self,
        directory: Path,
        clock: Clock,
        *,
        publish_lead: float = 3600,
        retention: float = 3600,
    ) -> None:
        self._directory = Path(directory)
        self._clock = clock
        self._publish_lead = _non_negative("publish_lead", publish_lead)
        self._retention = _non_negative("retention", retention)
        self._entries: dict[str, KeyEntry] = {}
        self._by_alg: dict[str, tuple[KeyEntry, ...]] = {}
        self._successor: dict[str, float | None] = {}
        self._snapshot: Snapshot = {}

    @property
    def directory(self) -> Path:
        return self._directory

    # -- loading -------------------------------------------------------------------------------

    def load(self) -> None:
        """Read every key file; the ring keeps its previous keys if any file is corrupt."""
        snapshot = scan(self._directory)
        entries: dict[str, KeyEntry] = {}
        for name in sorted(snapshot):
            try:
                entry = read_key_file(self._directory / name)
            except FileNotFoundError:
                del snapshot[name]  # pruned by another process between listing and reading
                continue
            entries[entry.kid] = entry
        self._entries = entries
        self._snapshot = snapshot
        self._reindex()

    def reload_if_changed(self) -> bool:
        """Re-load when another process (the `keys rotate` CLI) added or removed key files.

        Costs one directory listing and a stat per file. On a corrupt file it raises ConfigError
        once per change and keeps serving the previous keys.
        """
        snapshot = scan(self._directory)
        if snapshot == self._snapshot:
            return False
        try:
            self.load()
        except ConfigError:
            self._snapshot = snapshot
            raise
        return True

    # -- changing ------------------------------------------------------------------------------

    def ensure(self, algs: Iterable[str], *, test: bool = False) -> builtins.list[KeyInfo]:
        """At start-up, give every alg without an active key one that signs at once.

        Holds an exclusive lock on the directory and re-reads it first, so that several workers
        starting together create one key per alg, not one each. With nothing to make it writes
        nothing, not even the lock file, so the directory may be a read-only (mounted) secret.
        """
        wanted = [check_alg(alg) for alg in algs]
        self.reload_if_changed()
        if all(self._active(alg, self._clock.now()) for alg in wanted):
            return []
        try:
            with directory_lock(self._directory):
                return self._ensure_locked(wanted, test)
        except OSError as exc:
            raise ConfigError(
                f"{self._directory}: cannot make the missing signing keys ({exc.strerror}); "
                "a read-only key directory must hold an active key for every algorithm"
            ) from exc

    def _ensure_locked(self, wanted: builtins.list[str], test: bool) -> builtins.list[KeyInfo]:
        """ensure()'s work, under the directory lock: another process may have made keys."""
        self.reload_if_changed()
        now = self._clock.now()
        return [
            self.rotate(alg, publish_lead=0, test=test)
            for alg in dict.fromkeys(wanted)
            if self._active(alg, now) is None
        ]

    def rotate(self, alg: str, publish_lead: float | None = None, *, test: bool = False) -> KeyInfo:
        """Create a key that is published now and signs from now + publish_lead."""
        alg = check_alg(alg)
        lead = self._publish_lead if publish_lead is None else publish_lead
        lead = _non_negative("publish_lead", lead)
        now = self._clock.now()
        entry = new_entry(alg, created_at=now, activates_at=now + lead, test=test)
        write_key_file(self._directory, entry)
        self._entries[entry.kid] = entry
        self._remember_file(entry.kid)
        self._reindex()
        return self._info(entry, now)

    def prune(self) -> builtins.list[str]:
        """Delete the files of expired keys; returns their kids."""
        now = self._clock.now()
        expired = [entry.kid for entry, state in self._states(now) if state == "expired"]
        for kid in expired:
            try:
                (self._directory / file_name(kid)).unlink(missing_ok=True)
            except OSError as exc:
                if not is_read_only(exc):
                    raise
                # a read-only (mounted) directory: its operator removes the file; until then
                # the snapshot keeps it, so that it is not read back in every round
                log.warning("expired signing key %s: its file cannot be deleted here", kid)
            else:
                self._snapshot.pop(file_name(kid), None)
            del self._entries[kid]
        if expired:
            self._reindex()
        return expired

    # -- reading -------------------------------------------------------------------------------

    def signing_key(self, alg: str) -> tuple[str, SigningKey]:
        """The kid and private key that signs `alg` now."""
        alg = check_alg(alg)
        entry = self._active(alg, self._clock.now())
        if entry is None:
            raise ConfigError(f"no active {alg} signing key in {self._directory}; run ensure()")
        return entry.kid, entry.private

    def public_jwks(self) -> KeySetSerialization:
        """The published JWKS; the active keys first, for relying parties that ignore kid."""
        now = self._clock.now()
        published = [(e, s) for e, s in self._states(now) if s in _PUBLISHED]
        published.sort(key=lambda es: (_JWKS_ORDER[es[1]], es[0].alg, -es[0].activates_at))
        return {"keys": [dict(entry.public_jwk) for entry, _ in published]}

    def find_public(self, kid: str) -> SigningKey | None:
        """The public key for `kid` if it is published now."""
        entry = self._entries.get(kid)
        if entry is None or self._state(entry, self._clock.now()) not in _PUBLISHED:
            return None
        return entry.public

    def list(self) -> builtins.list[KeyInfo]:
        """Every key on file, expired ones included, by alg and activation."""
        now = self._clock.now()
        return [self._info(entry, now) for entry, _ in self._states(now)]

    def has_test_keys(self) -> bool:
        """Whether any key on file is a test key; production start-up must refuse these."""
        return any(entry.test for entry in self._entries.values())

    # -- JWT -----------------------------------------------------------------------------------

    def sign_jwt(self, claims: Mapping[str, Any], alg: str, typ: str | None = None) -> str:
        """A compact JWS of `claims` by the active `alg` key; kid, alg and typ go in the header."""
        kid, key = self.signing_key(alg)
        header: dict[str, Any] = {"alg": alg, "kid": kid}
        if typ is not None:
            header["typ"] = typ
        payload = json.dumps(dict(claims), ensure_ascii=False, separators=(",", ":"))
        return jws.serialize_compact(header, payload.encode(), key, registry=_REGISTRIES[alg])

    def verify_jwt(self, token: str, algs: Sequence[str]) -> tuple[dict[str, Any], dict[str, Any]]:
        """Check the signature by any published key; returns (header, claims), claims unchecked.

        Raises InvalidSignatureError. Callers check exp, iss, aud and typ themselves.
        """
        try:
            obj = jws.extract_compact(token.encode())
        except (JoseError, ValueError, AttributeError) as err:
            raise InvalidSignatureError("malformed token") from err
        header = obj.headers()
        if not isinstance(header, dict):
            raise InvalidSignatureError("malformed token header")
        alg = header.get("alg")
        if not isinstance(alg, str) or alg not in algs or alg not in _REGISTRIES:
            raise InvalidSignatureError(f"token alg {alg!r} is not allowed")
        if "crit" in header or "b64" in header:
            raise InvalidSignatureError("token has unsupported critical header parameters")
        kid = header.get("kid")
        if not isinstance(kid, str):
            raise InvalidSignatureError("token header has no kid")
        entry = self._entries.get(kid)
        key = self.find_public(kid)
        if entry is None or key is None:
            raise InvalidSignatureError(f"unknown or unpublished kid {kid!r}")
        if entry.alg != alg:
            raise InvalidSignatureError(f"kid {kid!r} is an {entry.alg} key, token says {alg}")
        try:
            valid = jws.validate_compact(obj, key, registry=_REGISTRIES[alg])
        except (JoseError, ValueError) as err:
            raise InvalidSignatureError(f"invalid token: {err}") from err
        if not valid:
            raise InvalidSignatureError("bad token signature")
        return header, _claims(obj.payload)

    # -- internals -----------------------------------------------------------------------------

    def _reindex(self) -> None:
        by_alg: dict[str, builtins.list[KeyEntry]] = {}
        for entry in self._entries.values():
            by_alg.setdefault(entry.alg, []).append(entry)
        self._by_alg = {}
        self._successor = {}
        for alg, entries in sorted(by_alg.items()):
            ordered = tuple(sorted(entries, key=lambda e: e.order))
            self._by_alg[alg] = ordered
            for entry, nxt in zip(ordered, (*ordered[1:], None), strict=True):
                self._successor[entry.kid] = None if nxt is None else nxt.activates_at

    def _active(self, alg: str, now: float) -> KeyEntry | None:
        for entry in reversed(self._by_alg.get(alg, ())):
            if entry.activates_at <= now:
                return entry
        return None

    def _state(self, entry: KeyEntry, now: float) -> KeyState:
        if entry.activates_at > now:
            return "pending"
        superseded_at = self._successor.get(entry.kid)
        if superseded_at is None or superseded_at > now:
            return "active"
        if now < superseded_at + self._retention:
            return "retiring"
        return "expired"

    def _states(self, now: float) -> Iterator[tuple[KeyEntry, KeyState]]:
        for entries in self._by_alg.values():
            for entry in entries:
                yield entry, self._state(entry, now)

    def _info(self, entry: KeyEntry, now: float) -> KeyInfo:
        return KeyInfo(
            kid=entry.kid,
            alg=entry.alg,
            created_at=entry.created_at,
            activates_at=entry.activates_at,
            state=self._state(entry, now),
            test=entry.test,
        )

    def _remember_file(self, kid: str) -> None:
        """Record our own write, so that reload_if_changed still notices other processes' writes."""
        name = file_name(kid)
        st = (self._directory / name).stat()
        self._snapshot[name] = (st.st_ino, st.st_mtime_ns, st.st_size)


# -- generation --------------------------------------------------------------------------------


def _non_negative(name: str, value: float) -> float:
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number of seconds >= 0, not {value!r}")
    return float(value)


def _claims(payload: bytes) -> dict[str, Any]:
    try:
        claims = json.loads(payload)
    except ValueError as err:
        raise InvalidSignatureError("token payload is not JSON") from err
    if not isinstance(claims, dict):
        raise InvalidSignatureError("token payload is not a JSON object")
    return claims
