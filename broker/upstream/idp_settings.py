"""The `idps:` section of the settings: how often a process looks whether `sote-broker idps
reload` asked for the IdP files to be read again, and the probes of `idps check` and of the
background (`broker.notices.probes`)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ProbeSettings(_Frozen):
    """The background probe: every `interval_seconds`, one process (a lease) probes every IdP
    and raises the automatic notice of one that is unreachable or whose metadata or signing
    certificate expires within `expiry_warning_days`; it ends it when the IdP recovers."""

    enabled: bool = False
    interval_seconds: float = Field(300.0, gt=0, le=86400)
    expiry_warning_days: float = Field(7.0, ge=0, le=365)


class IdPSettings(_Frozen):
    reload_check_seconds: float = Field(5.0, ge=0, le=300)
    """How long one process goes without looking whether a reload was asked for (one tiny
    read of the store, by the injected clock, on the next request after that)."""
    probe: ProbeSettings = ProbeSettings()
