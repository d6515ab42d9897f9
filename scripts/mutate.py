"""Mutation testing of the security-critical modules, one module group at a time (`make mutate`).

    python scripts/mutate.py [GROUP ...]      run the groups (default: DEFAULT), then the scores
    python scripts/mutate.py --report [GROUP ...]   only the scores of what was run before (all)
    python scripts/mutate.py --report --check [GROUP ...]   exit 1 if a module is under 95 %
    python scripts/mutate.py --retry GROUP ...   only the survivors again (after adding tests)
    python scripts/mutate.py --list           the groups, their modules and their tests
    python scripts/mutate.py --show GROUP NAME   one mutant's diff (names: in the report)

mutmut 3 copies the code to mutants/, runs the group's tests once to learn which tests reach
which function, then runs each mutant against only the tests that reached the mutated function
(stopping at the first failure). Each group has its own test selection, so a group runs in
minutes rather than the whole suite per mutant; each runs in its own process with one worker
(MUTATE_JOBS; this is a 2-core machine) and is stopped after MUTATE_TIMEOUT seconds. mutmut works in
mutants/ and reuses what it finds there, so each group keeps its own copy in var/mutants/GROUP
(moved to mutants/ while the group runs): a second run of a group only tests what changed.
docs/mutation.md has the scores and the survivors that were looked at.
"""

from __future__ import annotations

import argparse
import fcntl
import fnmatch
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / "mutants"
KEPT = ROOT / "var" / "mutants"
EQUIVALENT = ROOT / "docs" / "mutation-equivalent.txt"
RUNNING = KEPT / ".running"  # the group whose results are in mutants/ now
TARGET = 95.0  # per module, equivalent mutants left out (docs/mutation.md)
FLOWS = "tests/flows/"
UNIT = "tests/frontend/oidc/"  # unit tests: run before the flow tests (`unit_tests_first`)
OIDC, UP, SAML, JRN = (
    "broker/frontend/oidc/",
    "broker/upstream/",
    "broker/upstream/saml/",
    "broker/journey/",
)


REGISTRY_MODULES = [
    UP + m
    for m in (
        "registry.py",
        "idp_files.py",
        "idp_settings.py",
        "probe.py",
        "saved_login.py",
        "login_request.py",
    )
]
# the SAML groups' modules, each mutated by a full group and its unit-only twin
SAML_CRYPTO = [SAML + m for m in ("crypto.py", "decryption.py", "sp_keys.py")]
SAML_METADATA = [
    SAML + m
    for m in ("idp_metadata.py", "metadata_document.py", "metadata_signature.py", "sp_metadata.py")
]
SAML_METADATA_TESTS = [
    "tests/upstream/saml/" + t
    for t in (
        "test_metadata_document.py",
        "test_metadata_signature.py",
        "test_sp_metadata.py",
        "test_metadata.py",
    )
]
SAML_CONNECTOR = [SAML + m for m in ("connector.py", "sp.py", "sp_settings.py", "pysaml2.py")]

# group -> (modules to mutate, the tests that cover them)
GROUPS: dict[str, tuple[list[str], list[str]]] = {
    "cookies": (
        ["broker/http/cookies.py"],
        [FLOWS + t for t in ("test_secure_cookies.py", "test_account_page.py", "test_logout.py")],
    ),
    "http-forms": (  # the CSRF check of every form, with cookies.py's token
        ["broker/http/forms.py"],
        ["tests/http", FLOWS + "test_account_page.py"],
    ),
    "oidc-logout": (
        ["broker/frontend/oidc/logout.py"],
        [UNIT + "test_logout.py", FLOWS + "test_logout.py"],
    ),
    "oidc-client-auth": (
        ["broker/frontend/oidc/client_auth.py", "broker/frontend/oidc/secrets.py"],
        [
            UNIT + "test_client_auth.py",
            UNIT + "test_token_endpoint.py",
            FLOWS + "test_client_auth.py",
        ],
    ),
    "oidc-codes": (
        ["broker/frontend/oidc/codes.py"],
        [
            UNIT + "test_codes.py",
            UNIT + "test_token_endpoint.py",
            FLOWS + "test_claims_release.py",
            FLOWS + "test_authorization_code.py",
        ],
    ),
    "oidc-authorization": (
        ["broker/frontend/oidc/authorization.py", "broker/frontend/oidc/sessions.py"],
        [
            UNIT + "test_authorization.py",
            UNIT + "test_sessions.py",
            FLOWS + "test_authorize_refusals.py",
        ],
    ),
    "oidc-tokens": (
        ["broker/frontend/oidc/token_endpoint.py", "broker/frontend/oidc/issuance.py"],
        [
            UNIT + "test_token_endpoint.py",
            UNIT + "test_logout.py",  # the logout token is issued here
            FLOWS + "test_tokens.py",
        ],
    ),
    "oidc-policy": (
        [OIDC + "portal_policy.py"],
        [UNIT + "test_portal_policy.py", FLOWS + "test_portal_policy.py"],
    ),
    "oidc": (
        ["broker/frontend/oidc/*"],
        ["tests/frontend"]
        + [
            FLOWS + t
            for t in (
                "test_authorization_code.py",
                "test_authorize_refusals.py",
                "test_client_auth.py",
                "test_tokens.py",
                "test_logout.py",
                "test_claims_release.py",
                "test_discovery.py",
                "test_key_rotation.py",
                "test_subjects.py",
            )
        ],
    ),
    "claims": (
        ["broker/claims/*"],
        ["tests/claims", FLOWS + "test_claims_release.py", FLOWS + "test_subjects.py"],
    ),
    "accounts": (
        ["broker/accounts/*"],
        ["tests/accounts", FLOWS + "test_registration.py", FLOWS + "test_account_page.py"],
    ),
    # The journey and the upstream side, in groups small enough to run in under an hour each.
    "journey-state": (
        [
            JRN + m
            for m in (
                "login_state.py",
                "steps.py",
                "transactions.py",
                "idp_set.py",
                "upstreams.py",
                "completion.py",
            )
        ],
        ["tests/journey"]
        + [
            FLOWS + t
            for t in ("test_login_journey.py", "test_login_binding.py", "test_portal_policy.py")
        ],
    ),
    "journey-flow": (
        [JRN + m for m in ("flow.py", "registration_flow.py", "registration.py")],
        ["tests/journey"]
        + [
            FLOWS + t
            for t in (
                "test_login_journey.py",
                "test_registration.py",
                "test_account_linking.py",
                "test_portal_policy.py",
            )
        ],
    ),
    "journey-account": (
        [JRN + m for m in ("account_page.py", "logout.py", "audit_trail.py", "saml_service.py")],
        ["tests/journey"]
        + [
            FLOWS + t
            for t in (
                "test_account_page.py",
                "test_logout.py",
                "test_suomifi_logout.py",
                "test_audit_trail.py",
            )
        ],
    ),
    "journey": (
        ["broker/journey/*"],
        ["tests/journey"]
        + [
            FLOWS + t
            for t in (
                "test_login_journey.py",
                "test_registration.py",
                "test_login_binding.py",
                "test_account_linking.py",
                "test_logout.py",
                "test_suomifi_logout.py",
            )
        ],
    ),
    "saml-checks": (
        [
            SAML + m
            for m in (
                "assertion.py",
                "signature_profile.py",
                "post_binding.py",
                "redirect_binding.py",
                "xml_prolog.py",
            )
        ],
        ["tests/upstream/saml", FLOWS + "test_suomifi_attacks.py"],
    ),
    "saml-crypto": (
        SAML_CRYPTO,
        ["tests/upstream/saml", FLOWS + "test_suomifi_key_rollover.py"],
    ),
    "saml-metadata": (
        SAML_METADATA,
        # the metadata's own tests and the connectors' (not all of tests/upstream/saml: every
        # connector test loads metadata, and each survivor ran them all)
        SAML_METADATA_TESTS
        + ["tests/upstream/saml/" + t for t in ("test_connector.py", "test_sp_keys.py")]
        + [FLOWS + "test_suomifi_metadata_rollover.py"],
    ),
    "saml-connector": (
        SAML_CONNECTOR,
        [
            "tests/upstream/saml",
            FLOWS + "test_org_saml_journey.py",
            FLOWS + "test_suomifi_journey.py",
        ],
    ),
    "saml-logout": (
        [SAML + "logout.py"],
        # no other test of tests/upstream/saml reaches logout.py
        ["tests/upstream/saml/" + "test_logout.py", FLOWS + "test_suomifi_logout.py"],
    ),
    "upstream-oidc": (
        [UP + "oidc.py", UP + "oidc_checks.py"],
        [
            "tests/upstream/test_oidc_checks.py",
            "tests/upstream/test_oidc_connector.py",
            # not test_login_journey.py: its 20 broker starts ran for every survivor of start()
            # and finish(), and the connector's tests above reach all it does
            FLOWS + "test_upstream_mixup.py",
            FLOWS + "test_upstream_auth_time.py",
        ],
    ),
    "upstream-registry": (
        REGISTRY_MODULES,
        ["tests/upstream/test_registry.py", "tests/test_cli_idps.py", FLOWS + "test_idp_reload.py"],
    ),
    "upstream-registry-unit": (
        REGISTRY_MODULES,
        [
            "tests/upstream/test_registry.py",
            "tests/upstream/test_registry_model.py",
            "tests/upstream/test_idp_files.py",
            "tests/upstream/test_saved_login.py",
            "tests/upstream/test_login_request.py",
            "tests/upstream/test_probe.py",
        ],
    ),
    "oidc-keys": (
        [OIDC + "keys.py", OIDC + "key_files.py"],
        [
            UNIT + "test_keys.py",
            UNIT + "test_key_files.py",
            FLOWS + "test_key_rotation.py",
            FLOWS + "test_mounted_keys.py",
        ],
    ),
    "oidc-clients": (
        [OIDC + m for m in ("clients.py", "resources.py", "provider.py", "discovery.py")],
        ["tests/frontend", FLOWS + "test_discovery.py", FLOWS + "test_portal_policy_cli.py"],
    ),
    # The same modules with their unit tests alone: minutes instead of hours, since a survivor
    # (an equivalent mutant, mostly) costs no broker starts; a lower bound of the full group's
    # score (docs/mutation.md).
    "accounts-unit": (["broker/accounts/*"], ["tests/accounts"]),
    "oidc-keys-unit": (
        [OIDC + "keys.py", OIDC + "key_files.py"],
        [UNIT + "test_keys.py", UNIT + "test_key_files.py"],
    ),
    "oidc-clients-unit": (
        [OIDC + m for m in ("clients.py", "resources.py", "provider.py", "discovery.py")],
        ["tests/frontend"],
    ),
    # The SAML groups against the SAML unit tests alone (no flow test, no broker start): what a
    # survivor costs is a few seconds of forged XML instead of the connectors' and flows' minutes.
    "saml-crypto-unit": (
        SAML_CRYPTO,
        [
            "tests/upstream/saml/" + t
            for t in (
                "test_crypto.py",
                "test_decryption.py",
                "test_encryption.py",
                "test_sp_keys.py",
                "test_sp_key_files.py",
            )
        ],
    ),
    "saml-metadata-unit": (SAML_METADATA, SAML_METADATA_TESTS),
    "saml-connector-unit": (SAML_CONNECTOR, ["tests/upstream/saml"]),
    "upstream": (
        ["broker/upstream/*"],
        [
            "tests/upstream",
            FLOWS + "test_login_journey.py",
            FLOWS + "test_org_saml_journey.py",
            FLOWS + "test_suomifi_journey.py",
            FLOWS + "test_suomifi_attacks.py",
            FLOWS + "test_suomifi_logout.py",
            FLOWS + "test_suomifi_key_rollover.py",
            FLOWS + "test_suomifi_metadata_rollover.py",
        ],
    ),
}

# The journey's groups against its unit tests alone (tests/journey: no broker per test), a lower
# bound of each group's score in minutes instead of hours; what survives there is then run
# against the flow tests too (`--retry` of the full group).
for _group in ("journey-state", "journey-flow", "journey-account"):
    GROUPS[f"{_group}-unit"] = (GROUPS[_group][0], ["tests/journey"])

DEFAULT = ["cookies", "oidc-codes"]  # about 17 minutes on the shared 2-core machine

# mutmut's exit codes per mutant (mutmut/stats.py), as this report counts them
DETECTED = {
    1: "killed",
    3: "killed",
    36: "timeout",
    24: "timeout",
    -24: "timeout",
    152: "timeout",
    255: "timeout",
    37: "type check",
}
SURVIVED, NO_TESTS = {0}, {5, 33}
NO_TEST_MARK = " (no test)"


def run_group(group: str, retry: bool = False) -> None:
    """In this process: mutmut's own run, with the group's modules and tests. `retry`: only the
    mutants that survived or had no test last time (mutmut reruns a mutant whose function did
    not change only when it is named), after tests were added for them."""
    from mutmut import __main__ as mutmut_main
    from mutmut.configuration import config

    modules, tests = GROUPS[group]
    settings = config()
    settings.only_mutate = modules
    settings.pytest_add_cli_args_test_selection = tests
    unit_tests_first()
    names = [n.removesuffix(NO_TEST_MARK) for _, _, found in scores(group, WORK) for n in found]
    if retry and not names:
        print(f"mutate: {group} has no survivors to retry")
        return
    jobs = int(os.environ.get("MUTATE_JOBS", "1"))  # 2 when nothing else needs the machine
    mutmut_main._run(names if retry else [], max_children=jobs)


def unit_tests_first() -> None:
    """mutmut runs a mutant's tests fastest first by the time of their call phase alone, which
    leaves out a flow test's broker start (its fixture): a flow test could come before the unit
    test that kills the mutant in milliseconds. Flow tests go last (the order is otherwise
    mutmut's), in the forked workers too."""
    from mutmut.runners.harness import PytestRunner

    run_tests = PytestRunner.run_tests

    def ordered(self: PytestRunner, *, mutant_name: str | None, tests: Iterable[str]) -> int:
        tests = sorted(tests, key=lambda test: test.startswith(FLOWS))
        return run_tests(self, mutant_name=mutant_name, tests=tests)

    PytestRunner.run_tests = ordered  # type: ignore[method-assign]


@contextmanager
def workdir(group: str) -> Iterator[None]:
    """The group's own mutants/ (from var/mutants/GROUP) in place while mutmut works in it.
    One run at a time per checkout: a second one would have removed the first's mutants/ and
    with it the first's results."""
    KEPT.mkdir(parents=True, exist_ok=True)
    with (KEPT / ".lock").open("w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            sys.exit("mutate: another mutation run (or --show) is using mutants/; wait for it")
        with _workdir(group):
            yield


@contextmanager
def _workdir(group: str) -> Iterator[None]:
    if WORK.exists():
        _put_back_left_over()
    kept = KEPT / group
    if kept.exists():
        kept.rename(WORK)
    RUNNING.write_text(group)
    try:
        yield
    finally:
        if WORK.exists():
            KEPT.mkdir(parents=True, exist_ok=True)
            WORK.rename(kept)
        RUNNING.unlink(missing_ok=True)


def _put_back_left_over() -> None:
    """A mutants/ left by a run that was killed holds that run's results: put it back where
    its group keeps them (or beside, if the group has a newer record), never delete it."""
    group = RUNNING.read_text().strip() if RUNNING.exists() else "unknown-group"
    target = KEPT / group
    if target.exists():
        target = KEPT / f"{group}.left-over-{time.strftime('%Y%m%dT%H%M%S')}"
    WORK.rename(target)
    print(f"mutate: a mutants/ left by a killed run is kept as {target}", file=sys.stderr)


def spawn(group: str, timeout: float, retry: bool = False) -> tuple[int, float]:
    """One group in a process group of its own, ended whole when it runs past `timeout`."""
    started = time.monotonic()
    with workdir(group):
        child = subprocess.Popen(  # noqa: S603 (our own script, fixed arguments)
            [sys.executable, __file__, "--one", group, *(["--retry"] if retry else [])],
            cwd=ROOT,
            start_new_session=True,
        )
        try:
            code = child.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(child.pid, signal.SIGTERM)
            child.wait()
            print(f"mutate: {group} stopped after {timeout:.0f} s", file=sys.stderr)
            code = 124
        except KeyboardInterrupt:  # Ctrl-C, or SIGTERM (`_stopped`): the results go back first
            os.killpg(child.pid, signal.SIGTERM)
            child.wait()
            raise
    return code, time.monotonic() - started


def _stopped(signum: int, frame: object) -> None:
    """`kill` of a run: as Ctrl-C, so that its results are put back before it ends."""
    raise KeyboardInterrupt


def readable(name: str) -> str:
    """mutmut's mutant name with its markers as dots: `broker.http.cookies.xǁCookieSignerǁset__
    mutmut_17` -> `broker.http.cookies.CookieSigner.set__mutmut_17`, `…forms.x_form_of__mutmut_9`
    -> `…forms.form_of__mutmut_9` (the names `--show` takes are mutmut's own)."""
    module, _, function = name.partition(".x")
    while "." in function and not function.startswith(("ǁ", "_")):  # module names with ".x"
        head, _, function = function.partition(".x")
        module = f"{module}.x{head}"
    return f"{module}.{function.removeprefix('_').strip('ǁ').replace('ǁ', '.')}"


def equivalent_mutants() -> dict[str, str]:
    """The survivors that were looked at and change nothing anyone could observe (docs/
    mutation-equivalent.txt: one `name  reason` a line), by readable name."""
    found: dict[str, str] = {}
    for line in EQUIVALENT.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, why = line.strip().partition(" ")
            found[name] = why.strip()
    return found


def scores(group: str, root: Path | None = None) -> Iterator[tuple[str, dict[str, int], list[str]]]:
    """Per mutated file of the group: how many mutants were detected, survived, had no test
    (a "no test" mutant is one that no test of the group reaches); and the survivors' names
    (a mutant without a test is marked so)."""
    root = root or KEPT / group
    for meta in sorted(root.glob("broker/**/*.py.meta")):
        source = str(meta.relative_to(root))[: -len(".meta")]
        if not any(fnmatch.fnmatch(source, p) for p in GROUPS[group][0]):
            continue
        counts = {"detected": 0, "survived": 0, "no tests": 0, "not run": 0}
        survivors = []
        for name, code in json.loads(meta.read_text())["exit_code_by_key"].items():
            if code in DETECTED:
                counts["detected"] += 1
            elif code in SURVIVED:
                counts["survived"] += 1
                survivors.append(name)
            elif code in NO_TESTS:
                counts["no tests"] += 1
                survivors.append(name + NO_TEST_MARK)
            else:
                counts["not run"] += 1
        yield source, counts, survivors


def report(groups: list[str]) -> list[str]:
    """Print each module's score and return the modules under TARGET.

    The score is the usual mutation score: detected / (mutants run - equivalent mutants). An
    equivalent mutant is one that survived and is listed, with its reason, in docs/
    mutation-equivalent.txt; the raw score (no mutant taken as equivalent) is shown beside."""
    equivalent = equivalent_mutants()
    print(
        f"{'module':<40} {'mutants':>7} {'detected':>8} {'equiv.':>6} {'survived':>8}"
        f" {'no test':>7} {'not run':>7} {'score':>7}   raw"
    )
    missed: list[tuple[str, str]] = []
    below: list[str] = []
    for group in groups:
        for source, c, survivors in scores(group):
            total = sum(c.values())
            measured = total - c["not run"]
            same = sum(readable(n) in equivalent for n in survivors)
            if not total:  # a module without code (an __init__.py)
                continue
            if not measured:
                print(f"{source:<40} {total:>7}  (not run)")
                below.append(source)
                continue
            score = 100 * c["detected"] / (measured - same) if measured > same else 100.0
            raw = 100 * c["detected"] / measured
            print(
                f"{source:<40} {total:>7} {c['detected']:>8} {same:>6}"
                f" {c['survived'] + c['no tests'] - same:>8} {c['no tests']:>7} {c['not run']:>7}"
                f" {score:>6.1f} % {raw:5.1f} %"
            )
            if score < TARGET or c["not run"]:
                below.append(source)
            missed += [(group, n) for n in survivors if readable(n) not in equivalent]
    for group, name in missed:
        print(f"  not detected ({group}): {name}")
    if missed:
        print("a mutant's diff: python scripts/mutate.py --show GROUP NAME")
    return below


def show(group: str, name: str) -> int:
    """`mutmut show` in this process, with the group's modules (a bare `mutmut show` looks only
    in pyproject's only_mutate, and so found no mutant of another group)."""
    from mutmut import __main__ as mutmut_main
    from mutmut.configuration import config

    os.chdir(ROOT)
    config().only_mutate = GROUPS[group][0]
    with workdir(group):
        mutmut_main.show.callback(name)  # type: ignore[misc]
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("groups", nargs="*", metavar="GROUP")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    parser.add_argument("--report", action="store_true", help="only print the scores")
    parser.add_argument(
        "--retry", action="store_true", help="run only the last run's survivors again"
    )
    parser.add_argument(
        "--check", action="store_true", help=f"exit 1 if a module is under {TARGET:.0f} %%"
    )
    parser.add_argument("--list", action="store_true", help="list the groups")
    parser.add_argument("--show", nargs=2, metavar=("GROUP", "NAME"), help="a mutant's diff")
    args = parser.parse_args()
    if args.show:
        return show(*args.show)
    if args.one:
        os.chdir(ROOT)
        run_group(args.one, args.retry)
        return 0
    if args.list:
        for name, (modules, tests) in GROUPS.items():
            print(f"{name}: {' '.join(modules)}\n    tests: {' '.join(tests)}")
        return 0
    groups = args.groups or (
        [g for g in GROUPS if (KEPT / g).exists()] if args.report else DEFAULT
    )  # --report alone: every group run so far
    unknown = [g for g in groups if g not in GROUPS]
    if unknown:
        parser.error(f"unknown group(s) {', '.join(unknown)}; --list shows them")
    failed = False
    if not args.report:
        timeout = float(os.environ.get("MUTATE_TIMEOUT", "1200"))
        signal.signal(signal.SIGTERM, _stopped)
        for group in groups:
            try:
                code, seconds = spawn(group, timeout, args.retry)
            except KeyboardInterrupt:
                print(f"mutate: {group} stopped; its results are in {KEPT / group}")
                return 130
            print(f"mutate: {group} took {seconds:.0f} s (exit {code})")
            failed |= code != 0
    below = report(groups)
    if below:
        print(f"mutate: under {TARGET:.0f} % or not all run: {', '.join(below)}")
    return 1 if failed or (args.check and below) else 0


if __name__ == "__main__":
    sys.exit(main())
