"""Brokers as real processes (`python -m broker serve`), for faults that need one: SIGKILL, a
file-size limit set on the running process."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx


def serve_process(config: Path, url: str, log: Path | None = None) -> subprocess.Popen[str]:
    """`sote-broker serve` in a process of its own, returned once it answers /healthz; its log
    (standard error) goes to `log` if given."""
    with contextlib.ExitStack() as files:
        stderr = files.enter_context(log.open("w")) if log else subprocess.DEVNULL
        process = subprocess.Popen(
            [sys.executable, "-m", "broker", "--config", str(config), "serve"],
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            text=True,
        )
    deadline = time.monotonic() + 30
    while True:
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(url + "/healthz").status_code == 200:
                return process
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"the broker process did not start ({process.returncode})")
        time.sleep(0.05)


def refused_start(
    config: Path, preexec_fn: Callable[[], None] | None = None
) -> subprocess.CompletedProcess[str]:
    """`sote-broker serve` that is expected to stop at start-up: its exit and output."""
    return subprocess.run(
        [sys.executable, "-m", "broker", "--config", str(config), "serve"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        preexec_fn=preexec_fn,
    )
