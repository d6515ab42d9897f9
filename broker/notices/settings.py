"""The `notices:` section of the settings: notices kept in the settings file, the per-process
cache, and the IdP watcher's thresholds."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class NoticeTexts(_Frozen):
    fi: str = Field(min_length=1, max_length=1000)
    sv: str = Field(min_length=1, max_length=1000)
    en: str = Field(min_length=1, max_length=1000)


class ConfiguredNotice(_Frozen):
    """A notice written in the settings file (shown by every process that reads the file)."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,39}$")
    scope: Literal["service", "route", "organisation"] = "service"
    target: str = ""
    severity: Literal["info", "severe"] = "info"
    texts: NoticeTexts
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    offline: bool = False

    @model_validator(mode="after")
    def _target_of_scope(self) -> ConfiguredNotice:
        if (self.scope == "service") != (self.target == ""):
            raise ValueError("target: the route or organisation id; none for scope service")
        if self.offline and self.scope == "service":
            raise ValueError("offline: only a route or an organisation can be taken offline")
        for moment in (self.starts_at, self.ends_at):
            if moment is not None and moment.tzinfo is None:
                raise ValueError(
                    "starts_at/ends_at: give a time zone (e.g. 2026-04-01T08:00+03:00)"
                )
        return self


class WatchSettings(_Frozen):
    """An automatic notice on an organisation whose logins fail: at least `min_failures`
    failures in the last `window_seconds`, and failures at least `failure_ratio` of its
    logins; cleared when a successful login finds that no longer so."""

    enabled: bool = True
    window_seconds: int = Field(300, ge=10, le=86400)
    min_failures: int = Field(5, ge=1)
    failure_ratio: float = Field(0.5, gt=0, le=1)


class NoticeSettings(_Frozen):
    cache_seconds: float = Field(5.0, ge=0, le=60)
    """How long one process reuses the notices it read from the store (by the injected clock)."""
    configured: tuple[ConfiguredNotice, ...] = ()
    watch: WatchSettings = WatchSettings()
