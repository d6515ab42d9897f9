"""JWT signing and verification rate, RS256 vs ES256, through the broker's own KeyRing.

Single thread, in process, no HTTP and no store: `KeyRing.sign_jwt` and `KeyRing.verify_jwt` on an
ID-token-sized claim set (the same claims `TokenIssuer.id_token` puts in). Keys are generated fresh
in a temporary directory (RSA 2048, EC P-256, as the broker does). Each measurement is `runs` runs
of `count` operations after a short warm-up; the report is ops/s median and min-max over the runs.

    .venv/bin/python -m bench.signing [--runs 5] [--count 2000] [--json]
"""

from __future__ import annotations

import argparse
import json
import secrets
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench._stats import fmt_range, show, summary
from broker.clock import SystemClock
from broker.frontend.oidc import secrets as broker_secrets
from broker.frontend.oidc.keys import KeyRing

ALGS = ("RS256", "ES256")
WARMUP = 100


def id_token_claims() -> dict[str, Any]:
    """Claims shaped like a real ID token from `TokenIssuer.id_token` (authorization_code grant)."""
    now = int(time.time())
    return {
        "iss": "https://broker.example.fi",
        "sub": "dev:benchmark-user-0001",
        "aud": "portal-bench-client",
        "azp": "portal-bench-client",
        "iat": now,
        "exp": now + 600,
        "auth_time": now - 5,
        "at_hash": broker_secrets.left_half_hash(secrets.token_urlsafe(32)),
        "nonce": secrets.token_urlsafe(16),
        "acr": "http://ftn.ficora.fi/2017/loa3",
        "amr": ["dev"],
        "sid": secrets.token_urlsafe(16),
    }


def _rate(fn: Any, count: int) -> float:
    start = time.perf_counter()
    for _ in range(count):
        fn()
    return count / (time.perf_counter() - start)


def run(runs: int = 5, count: int = 2000) -> dict[str, Any]:
    claims = id_token_claims()
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="sote-bench-keys-") as tmp:
        keys = KeyRing(Path(tmp) / "keys", SystemClock(), publish_lead=0)
        keys.ensure(ALGS)
        for alg in ALGS:
            token = keys.sign_jwt(claims, alg, typ="JWT")
            header, verified = keys.verify_jwt(token, [alg])
            assert header["alg"] == alg and verified == claims, "sign/verify round trip failed"

            def sign(alg: str = alg) -> None:
                keys.sign_jwt(claims, alg, typ="JWT")

            def verify(alg: str = alg, token: str = token) -> None:
                keys.verify_jwt(token, [alg])

            _rate(sign, WARMUP)
            _rate(verify, WARMUP)
            sign_rates: list[float] = []
            verify_rates: list[float] = []
            for _ in range(runs):  # interleaved so that a noisy moment hits both
                sign_rates.append(_rate(sign, count))
                verify_rates.append(_rate(verify, count))
            results[alg] = {
                "sign_ops_per_s": summary(sign_rates),
                "verify_ops_per_s": summary(verify_rates),
                "sign_runs": [round(r, 1) for r in sign_rates],
                "verify_runs": [round(r, 1) for r in verify_rates],
                "token_bytes": len(token),
            }
    return {
        "benchmark": "signing",
        "runs": runs,
        "count_per_run": count,
        "claims_bytes": len(json.dumps(claims, separators=(",", ":"))),
        "algs": results,
    }


def report(result: dict[str, Any]) -> str:
    lines = [
        f"JWT signing via KeyRing.sign_jwt / verify_jwt, single thread, "
        f"{result['runs']} runs x {result['count_per_run']} ops "
        f"(claims {result['claims_bytes']} B); ops/s median (min-max)",
    ]
    for alg, r in result["algs"].items():
        lines.append(
            f"  {alg}  sign {fmt_range(r['sign_ops_per_s'])}   "
            f"verify {fmt_range(r['verify_ops_per_s'])}   token {r['token_bytes']} B"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--json", action="store_true", help="print the JSON result")
    args = parser.parse_args(argv)
    result = run(args.runs, args.count)
    show(result, report, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
