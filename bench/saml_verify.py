"""SAML Responses verified per second, in process: pysaml2's `parse_authn_request_response` on
a Suomi.fi-shaped Response, with each crypto backend (`xmlsec` in process, the `xmlsec1` program).

The Response is what Suomi.fi sends, made by the attack tests' forge
(`tests/upstream/saml/saml_forge.py`, signed and encrypted by the xmlsec1 program with fresh test
keys): the assertion signed
(RSA-SHA256, exclusive c14n, SHA-256), encrypted (AES-256-GCM, RSA-OAEP to the SP's RSA 3072
key), the Response signed. One verification is what the broker's ACS does in its thread: two
signature checks, one decryption, pysaml2's parsing and its checks, on a `Saml2Client` built as
`MetadataCache._build` builds it. A pool of 20 Responses (each for its own AuthnRequest) is cycled;
pysaml2 keeps no replay state (the broker's store does), so a Response can be verified again.

Per backend, interleaved: `runs` runs of `count` verifications on one thread, then the same with
two threads sharing the count (two ACS requests at once, as `asyncio.to_thread` would run them).
Reported: verifications/s, and CPU ms per verification of this process plus its children (the
xmlsec1 runs are children), from os.times(). Not pinned: xmlsec1's processes may use the other
core, as they would in the broker.

    .venv/bin/python -m bench.saml_verify [--runs 5] [--count 100]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
import warnings
from pathlib import Path
from typing import Any

from bench._stats import fmt_range, show, summary
from broker.clock import SystemClock
from broker.upstream.registry import IdP, Names, SAMLUpstream
from broker.upstream.saml.crypto import CRYPTO_BACKENDS, CryptoBackendName
from broker.upstream.saml.idp_metadata import MetadataCache
from broker.upstream.saml.sp import ServiceProvider
from broker.upstream.saml.sp_keys import ServiceProviderKeys
from mock_idps.saml_common.keys import load_or_create_pair
from tests.upstream.saml.saml_forge import Forge, Statement, encode, new_id

with warnings.catch_warnings():  # see broker/upstream/saml/sp.py
    warnings.filterwarnings("ignore", "CFB has been moved")
    from saml2 import BINDING_HTTP_POST

SP_ENTITY_ID = "https://broker.bench/saml/metadata"
ACS_URL = "https://broker.bench/upstream/saml/acs"
IDP_ENTITY_ID = "https://tunnistus.bench/idp"
POOL = 20
WARMUP = 20
THREADS = (1, 2)


def _responses(forge: Forge) -> list[tuple[str, str]]:
    """(request id, SAMLResponse) pairs, valid for the next hour."""
    pairs = []
    for _ in range(POOL):
        request_id = new_id()
        statement = Statement(
            issuer=IDP_ENTITY_ID,
            audience=SP_ENTITY_ID,
            destination=ACS_URL,
            in_response_to=request_id,
            not_on_or_after=time.time() + 3600,
        )
        pairs.append((request_id, encode(forge.genuine(statement))))
    return pairs


def _client(keys: Path, metadata: Path, backend: CryptoBackendName) -> Any:
    """The broker's pysaml2 client for a Suomi.fi-configured IdP, as its MetadataCache builds it."""
    sp = ServiceProvider.load(SP_ENTITY_ID, keys, backend)
    saml = SAMLUpstream(metadata_file=metadata, entity_id=IDP_ENTITY_ID, want_response_signed=True)
    names = Names(fi="Suomi.fi", sv="Suomi.fi", en="Suomi.fi")
    idp = IdP(id="suomifi", names=names, route="personal", protocol="saml", saml=saml)
    cache = MetadataCache(idp, sp, SystemClock(), acs_url=ACS_URL, clock_skew=60)
    return cache._build(metadata.read_text(encoding="utf-8")).client


def _verify(client: Any, pair: tuple[str, str]) -> None:
    request_id, saml_response = pair
    response = client.parse_authn_request_response(
        saml_response, BINDING_HTTP_POST, outstanding={request_id: ACS_URL}
    )
    if response is None or response.assertion is None:
        raise RuntimeError("a genuine Response was refused")


def _timed(client: Any, pool: list[tuple[str, str]], count: int, threads: int) -> dict[str, float]:
    errors: list[BaseException] = []
    share = count // threads

    def work(offset: int) -> None:
        try:
            for i in range(share):
                _verify(client, pool[(offset + i) % len(pool)])
        except BaseException as exc:  # reported after the run
            errors.append(exc)

    before = os.times()
    start = time.perf_counter()
    workers = [threading.Thread(target=work, args=(n * 7,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    elapsed = time.perf_counter() - start
    after = os.times()
    if errors:
        raise RuntimeError(f"verification failed: {errors[0]!r}") from errors[0]
    done = share * threads
    own = (after.user - before.user) + (after.system - before.system)
    children = (after.children_user - before.children_user) + (
        after.children_system - before.children_system
    )
    return {
        "per_s": done / elapsed,
        "cpu_ms": (own + children) * 1000 / done,
        "children_cpu_ms": children * 1000 / done,
    }


def run(runs: int = 5, count: int = 100) -> dict[str, Any]:
    if runs < 1 or count < 2:
        raise ValueError("runs must be at least 1 and count at least 2")
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="sote-bench-saml-") as tmp:
        directory = Path(tmp)
        sp_keys = ServiceProviderKeys.load_or_create(directory / "sp")
        forge = Forge(
            load_or_create_pair(directory, "idp-BENCH-ONLY"),
            sp_keys.cert_file,
            impostor=load_or_create_pair(directory, "impostor-BENCH-ONLY"),
        )
        metadata = directory / "idp.xml"
        metadata.write_text(forge.metadata(IDP_ENTITY_ID, "https://tunnistus.bench/sso"))
        pool = _responses(forge)
        clients = {b: _client(directory / "sp", metadata, b) for b in CRYPTO_BACKENDS}
        for client in clients.values():
            for i in range(WARMUP):
                _verify(client, pool[i % len(pool)])
        measured: dict[str, dict[int, list[dict[str, float]]]] = {
            b: {t: [] for t in THREADS} for b in CRYPTO_BACKENDS
        }
        for _ in range(runs):
            for backend, client in clients.items():  # interleaved: noise hits both
                for threads in THREADS:
                    measured[backend][threads].append(_timed(client, pool, count, threads))
    backends: dict[str, Any] = {}
    for name, by_threads in measured.items():
        backends[name] = {
            str(threads): {
                key: summary([r[key] for r in results])
                for key in ("per_s", "cpu_ms", "children_cpu_ms")
            }
            for threads, results in by_threads.items()
        }
    return {
        "benchmark": "saml_verify",
        "runs": runs,
        "count": count,
        "response": "Suomi.fi-shaped: assertion signed + encrypted (AES-256-GCM, RSA-OAEP, SP key "
        "RSA 3072), Response signed (RSA-SHA256, IdP key RSA 2048)",
        "wall_seconds": round(time.perf_counter() - started, 1),
        "backends": backends,
    }


def report(result: dict[str, Any]) -> str:
    lines = [
        f"SAML Response verification (pysaml2 parse_authn_request_response, 2 signatures + 1 "
        f"decryption), {result['runs']} runs x {result['count']} per backend and thread count, "
        f"not pinned",
    ]
    for backend, by_threads in result["backends"].items():
        for threads, r in by_threads.items():
            lines.append(
                f"  {backend:<7} {threads} thread{'s' if threads != '1' else ' '}  "
                f"{fmt_range(r['per_s'])} verifications/s   CPU {fmt_range(r['cpu_ms'], 2)} "
                f"ms/verification (of which xmlsec1 processes {r['children_cpu_ms']['median']:.2f})"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--count", type=int, default=100, help="verifications per run")
    parser.add_argument("--json", action="store_true", help="print the JSON result")
    args = parser.parse_args(argv)
    result = run(args.runs, args.count)
    show(result, report, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
