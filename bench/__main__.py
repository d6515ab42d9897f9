"""Run every benchmark, print the figures, and keep them in bench/results/ (gitignored).

    .venv/bin/python -m bench [--only signing|redemption|saml-verify|saml-logins|account-scale
        |ha-logins]
        [--quick]
        [options below]

Writes bench/results/bench-<UTC time>.txt and .json, and copies them to latest.txt / latest.json.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path
from typing import Any

from bench import account_scale, code_redemption, ha_logins, saml_logins, saml_verify, signing
from bench._stats import machine

RESULTS = Path(__file__).resolve().parent / "results"


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--only",
        choices=[
            "signing",
            "redemption",
            "saml-verify",
            "saml-logins",
            "account-scale",
            "ha-logins",
        ],
    )
    parser.add_argument("--quick", action="store_true", help="smoke test: few runs, small counts")
    parser.add_argument("--signing-runs", type=int, default=5)
    parser.add_argument("--signing-count", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=5, help="redemption runs per alg")
    parser.add_argument("--codes", type=int, default=1000, help="codes redeemed per run and alg")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--saml-runs", type=int, default=5, help="SAML verification runs")
    parser.add_argument("--saml-count", type=int, default=100, help="verifications per run")
    parser.add_argument("--login-runs", type=int, default=3, help="Suomi.fi login runs")
    parser.add_argument("--logins", type=int, default=60, help="logins per run and backend")
    parser.add_argument("--login-concurrency", type=int, default=4)
    parser.add_argument("--account-runs", type=int, default=5, help="account-scale runs")
    parser.add_argument("--account-lookups", type=int, default=2000, help="finds per run, size")
    parser.add_argument("--account-logins", type=int, default=100, help="logins per run, size")
    parser.add_argument(
        "--account-sizes", default="1000,1000000", help="account counts, smallest first"
    )
    parser.add_argument("--ha-runs", type=int, default=3, help="runs per HA scenario")
    parser.add_argument("--ha-logins", type=int, default=300, help="logins per run, scenario")
    parser.add_argument("--ha-concurrency", type=int, default=50)
    parser.add_argument("--no-pin", dest="pin", action="store_false", default=None)
    parser.add_argument("--no-save", action="store_true", help="print only; write no files")
    args = parser.parse_args(argv)
    if args.quick:
        args.signing_runs, args.signing_count, args.runs, args.codes = 2, 200, 1, 200
        args.saml_runs, args.saml_count, args.login_runs, args.logins = 1, 20, 1, 4
        args.account_runs, args.account_lookups, args.account_logins = 1, 200, 4
        args.ha_runs, args.ha_logins, args.ha_concurrency = 1, 20, 10
        args.account_sizes = "1000,100000"  # 1 000 000 takes a minute to generate the first time

    started = time.perf_counter()
    result: dict[str, Any] = {
        "command": " ".join([".venv/bin/python -m bench", *map(shlex.quote, argv)]),
        "machine": machine(),
    }
    texts = []
    if args.only in (None, "signing"):
        print("signing ...", file=sys.stderr, flush=True)
        result["signing"] = signing.run(args.signing_runs, args.signing_count)
        texts.append(signing.report(result["signing"]))
        print(texts[-1], flush=True)
    if args.only in (None, "redemption"):
        print("code redemption ...", file=sys.stderr, flush=True)
        result["code_redemption"] = code_redemption.run(
            args.runs, args.codes, args.concurrency, args.pin
        )
        texts.append(code_redemption.report(result["code_redemption"]))
        print(texts[-1], flush=True)
    if args.only in (None, "saml-verify"):
        print("SAML verification ...", file=sys.stderr, flush=True)
        result["saml_verify"] = saml_verify.run(args.saml_runs, args.saml_count)
        texts.append(saml_verify.report(result["saml_verify"]))
        print(texts[-1], flush=True)
    if args.only in (None, "saml-logins"):
        print("Suomi.fi logins ...", file=sys.stderr, flush=True)
        result["saml_logins"] = saml_logins.run(
            args.login_runs, args.logins, args.login_concurrency, args.pin
        )
        texts.append(saml_logins.report(result["saml_logins"]))
        print(texts[-1], flush=True)
    if args.only in (None, "account-scale"):
        print("account store scale ...", file=sys.stderr, flush=True)
        result["account_scale"] = account_scale.run(
            args.account_runs,
            args.account_lookups,
            args.account_logins,
            args.login_concurrency,
            args.pin,
            [int(n) for n in args.account_sizes.split(",")],
        )
        texts.append(account_scale.report(result["account_scale"]))
        print(texts[-1], flush=True)
    if args.only in (None, "ha-logins"):
        print("organisation logins, SQLite, PostgreSQL, replicas ...", file=sys.stderr, flush=True)
        result["ha_logins"] = ha_logins.run(args.ha_runs, args.ha_logins, args.ha_concurrency)
        texts.append(ha_logins.report(result["ha_logins"]))
        print(texts[-1], flush=True)
    result["wall_seconds"] = round(time.perf_counter() - started, 1)

    m = result["machine"]
    header = (
        f"sote-broker benchmarks, {m['date_utc']} UTC, `{result['command']}`\n"
        f"python {m['python']}, {m['cpu_count']} CPUs, load average at start "
        f"{m['loadavg_at_start'][0]}, took {result['wall_seconds']} s; figures are "
        f"median (min-max) of runs on a shared machine (about ±40 % noise)"
    )
    text = header + "\n\n" + "\n\n".join(texts) + "\n"
    if not args.no_save:
        RESULTS.mkdir(exist_ok=True)
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        for name in (f"bench-{stamp}", "latest"):
            (RESULTS / f"{name}.txt").write_text(text)
            (RESULTS / f"{name}.json").write_text(json.dumps(result, indent=2) + "\n")
        print(f"\nsaved bench/results/bench-{stamp}.txt and .json (also latest.*)")
    return 0 if _all_ok(result) else 1


def _all_ok(result: dict[str, Any]) -> bool:
    """Exit 1 only if the benchmark itself could not be trusted: errors or a failed guard."""
    redemption = result.get("code_redemption")
    logins = result.get("saml_logins")
    algs = redemption["algs"].values() if redemption else []
    backends = logins["backends"].values() if logins else []
    scale = result.get("account_scale")
    return (
        all(r["errors"] == 0 and r["sanity"]["ok"] for r in algs)
        and all(r["errors"] == 0 for r in backends)
        and (scale is None or account_scale.all_ok(scale))
        and ("ha_logins" not in result or ha_logins.all_ok(result["ha_logins"]))
    )


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt as exc:
        print(
            f"interrupted ({exc or 'Ctrl-C'}); the benchmark's server and mock IdP were stopped",
            file=sys.stderr,
        )
        sys.exit(130)
