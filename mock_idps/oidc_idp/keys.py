"""One RS256 signing key per organisation, and the JWKS that publishes it.

Every organisation gets its own key so that a relying party which mixes up issuers (validates a
HUS token with OYS's JWKS) fails, as it would against real organisations. Keys are generated at
start-up, or kept in a key directory (`{org}.pem`, created 0600 when missing) so that a broker that
caches JWKS survives a restart of the mock.

The `bad_signature` fault needs a second key that carries the *same* kid but is published nowhere:
a relying party must then fail on the signature itself, not on an unknown kid.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from joserfc.jwk import RSAKey

ALGORITHM = "RS256"
_PARAMETERS: Any = {"use": "sig", "alg": ALGORITHM}


@dataclass
class OrgKeys:
    """The published signing key of one organisation and its unpublished impostor."""

    signing_key: RSAKey
    _impostor: RSAKey | None = field(default=None, repr=False)

    @property
    def kid(self) -> str:
        return str(self.signing_key.kid)

    @property
    def impostor(self) -> RSAKey:
        """A key nobody can verify with, under the published kid (made on first use)."""
        if self._impostor is None:
            parameters: Any = {**_PARAMETERS, "kid": self.kid}
            self._impostor = RSAKey.generate_key(2048, parameters=parameters)
        return self._impostor

    def jwks(self) -> dict[str, Any]:
        return {"keys": [self.signing_key.as_dict(private=False)]}


def load_keys(org_ids: Iterable[str], key_dir: Path | None = None) -> dict[str, OrgKeys]:
    """A key per organisation: from `key_dir/{org}.pem` if there, otherwise new (and saved)."""
    return {org_id: OrgKeys(_signing_key(org_id, key_dir)) for org_id in org_ids}


def _signing_key(org_id: str, key_dir: Path | None) -> RSAKey:
    if key_dir is None:
        return RSAKey.generate_key(2048, parameters=_PARAMETERS, auto_kid=True)
    path = key_dir / f"{org_id}.pem"
    if path.exists():
        key = RSAKey.import_key(path.read_bytes(), parameters=_PARAMETERS)
        key.ensure_kid()
        return key
    key = RSAKey.generate_key(2048, parameters=_PARAMETERS, auto_kid=True)
    key_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(key.as_pem(private=True))
    return key
