"""The run's log scan (`tests/log_scan.py`) fails the run, serially and under pytest-xdist, where
a worker's own exit status counts for nothing: a real pytest run in a subprocess (pytester) whose
one test logs an identity code past a disabled scrubber, beside a clean test on the other worker."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).parents[1]
LEAKY_TESTS = """
import logging

from tests.log_scan import identity_codes


def test_logs_an_identity_code(monkeypatch):
    monkeypatch.setattr("broker.logs.scrub", lambda text: text)  # as if it missed the code
    logging.getLogger("broker.leaky").warning("person %s", sorted(identity_codes())[0])


def test_logs_nothing():
    pass
"""


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["serial", "two-workers"])
def test_an_identity_code_in_any_workers_log_fails_the_run(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, workers: list[str]
) -> None:
    monkeypatch.setenv("PYTHONPATH", str(REPO))
    monkeypatch.setenv("TMPDIR", str(pytester.path))  # the run's logs, kept when they leak
    pytester.makeconftest('pytest_plugins = ["tests.log_scan"]')
    pytester.makepyfile(test_leaky=LEAKY_TESTS)
    result = pytester.runpytest_subprocess(*workers, "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        [
            f"*FAILED: the run's log {pytester.path}/sote-broker-test-run-*.log holds what*",
            "  line 1: a test person's identity code",
        ]
    )
    assert len(list(pytester.path.glob("sote-broker-test-run-*.log"))) == 1  # clean ones go
