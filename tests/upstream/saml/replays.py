"""The SAML connector tests' stand-in for the store's replay cache."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Replays:
    """A dict-backed stand-in for the store's `remember_jti`."""

    seen: dict[tuple[str, str], float] = field(default_factory=dict)

    async def __call__(self, issuer: str, assertion_id: str, expires_at: float) -> bool:
        if (issuer, assertion_id) in self.seen:
            return False
        self.seen[issuer, assertion_id] = expires_at
        return True
