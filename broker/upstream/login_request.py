"""What the journey asks of an upstream login, in one frozen value every connector takes.

The portal's requirements (prompt, max_age, acr_values, login_hint, ui_locales) pass through the
journey, the metrics and the IdP watcher to the OIDC or SAML connector unchanged; one type keeps
the wrappers from repeating the signature and a new field from being dropped by one of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class UpstreamLogin:
    redirect_uri: str
    """Where the IdP answers: the OIDC callback or the SAML ACS of that IdP."""
    prompt: tuple[str, ...] = ()
    max_age: int | None = None
    login_hint: str | None = None
    acr_values: tuple[str, ...] = ()
    """In the broker's words; each connector translates them by the IdP's claim mapping."""
    ui_locales: str | None = None
    relay_state: str | None = None
    """SAML only: a fresh random value per AuthnRequest (OIDC makes its own `state`)."""

    def __post_init__(self) -> None:
        # callers may pass lists; keep the value immutable and comparable
        for name in ("prompt", "acr_values"):
            value: Sequence[str] = getattr(self, name)
            object.__setattr__(self, name, tuple(value))
