"""The store's settings (`store:`): SQLite, the default, or PostgreSQL for several replicas."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from broker.errors import ConfigError


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class StoreSettings(_Frozen):
    """SQLite (one file, the default) or PostgreSQL (several replicas on one database)."""

    backend: Literal["sqlite", "postgresql"] = "sqlite"
    sqlite_path: Path = Path("var/broker.db")
    dsn_file: Path | None = None
    """PostgreSQL: a file (mode 0600) holding the connection string (libpq URI or key=value)."""
    dsn_env: str | None = None
    """PostgreSQL: the environment variable holding the connection string."""
    dsn: str | None = Field(None, repr=False)
    """PostgreSQL, development mode only: the connection string inline."""
    pool_min_size: int = Field(1, ge=0, le=100)
    pool_max_size: int = Field(10, ge=1, le=100)
    timeout_seconds: float = Field(10.0, gt=0, le=300)
    """PostgreSQL: longest wait for a connection, a pooled connection or one statement."""

    @model_validator(mode="after")
    def _check_dsn(self) -> StoreSettings:
        given = [name for name in ("dsn", "dsn_file", "dsn_env") if getattr(self, name)]
        if self.backend == "postgresql" and len(given) != 1:
            raise ValueError("backend postgresql needs exactly one of dsn_file, dsn_env, dsn")
        if self.backend == "sqlite" and given:
            raise ValueError(f"{given[0]} is for backend postgresql")
        if self.pool_min_size > self.pool_max_size:
            raise ValueError("pool_min_size must not exceed pool_max_size")
        return self

    def read_dsn(self, environ: Mapping[str, str] | None = None) -> str:
        """The PostgreSQL connection string, from wherever the settings say; never logged."""
        env = os.environ if environ is None else environ
        if self.dsn_file is not None:
            try:
                found = self.dsn_file.read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise ConfigError(
                    f"{self.dsn_file}: cannot read store.dsn_file ({exc.strerror})"
                ) from exc
        elif self.dsn_env is not None:
            found = env.get(self.dsn_env, "").strip()
        else:
            found = self.dsn or ""
        if not found:
            raise ConfigError("store: the PostgreSQL connection string is empty or missing")
        return found
