"""The broker as operators run it: the CLI, `serve` in its own process, and what ends up in its log.

One full run (login, tokens, refresh and its reuse, introspection, revocation, private_key_jwt,
logout with back-channel, error pages) at DEBUG level; then every secret the run saw is searched for
in the captured log.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import yaml
from joserfc import jwt

from broker.cli import main
from broker.frontend.oidc import secrets
from broker.store.records import ClientRecord
from broker.store.sqlite import SQLiteStore
from tests.flows.test_logout import LogoutReceiver
from tests.jwt_tools import rsa_client_key
from tests.login_walk import HUS_USER, hidden_inputs
from tests.mail import last_code, mail_sink
from tests.portal_client import REDIRECT_URI, callback_params
from tests.servers import bound_socket, serve
from tests.worlds import idp_configs_for

CHALLENGE = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
VERIFIER = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"


def cli(
    config: Path, *args: str, check: bool = True, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run `sote-broker` in this process (fast; `serve` below runs as a real subprocess);
    `stdin`, if given, is its standard input."""
    out, err = io.StringIO(), io.StringIO()
    saved_stdin = sys.stdin
    if stdin is not None:
        sys.stdin = io.StringIO(stdin)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(["--config", str(config), *args])
    finally:
        sys.stdin = saved_stdin
    if check and code != 0:
        raise AssertionError(f"sote-broker {' '.join(args)} failed: {err.getvalue()}")
    return subprocess.CompletedProcess(list(args), code, out.getvalue(), err.getvalue())


def free_port() -> int:
    sock = bound_socket()
    port = int(sock.getsockname()[1])
    sock.close()
    return port


@pytest.fixture
def config(tmp_path: Path, mock_idp_keys: Path) -> Iterator[Path]:
    """Settings for a broker process, and the mock organisation IdP it logs people in with."""
    from mock_idps.oidc_idp import create_app as create_mock_idp

    port = free_port()
    idp_sock = bound_socket()
    idp_base = f"http://127.0.0.1:{idp_sock.getsockname()[1]}"
    mock = create_mock_idp(
        idp_base,
        extra_redirect_uris=[f"http://127.0.0.1:{port}/upstream/oidc/callback/{{org}}"],
        key_dir=mock_idp_keys,
    )
    path = tmp_path / "broker.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "mode": "development",
                "issuer": f"http://127.0.0.1:{port}",
                "port": port,
                "secret_file": "secret",
                "subject_key_file": "subject-key",
                "store": {"sqlite_path": "broker.db"},
                "keys": {"directory": "keys", "publish_lead_seconds": 0},
                "idp_configs": str(idp_configs_for(idp_base, tmp_path / "idp_configs")),
                "logging": {"level": "DEBUG"},
                "backchannel": {"poll_seconds": 0.1},
                "smtp": {"host": "127.0.0.1", "port": mail_sink().port, "security": "none"},
            }
        )
    )
    with serve(mock, idp_sock):
        yield path


@pytest.fixture
def running(config: Path, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    log_path = tmp_path / "broker.log"
    issuer = yaml.safe_load(config.read_text())["issuer"]
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "broker", "--config", str(config), "serve"],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(issuer + "/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("broker did not start:\n" + log_path.read_text())
            time.sleep(0.1)
        yield issuer, log_path
    finally:
        process.terminate()
        process.wait(timeout=15)


def test_cli_manages_clients_and_keys(config: Path, tmp_path: Path) -> None:
    assert "ok:" in cli(config, "check-config").stdout
    added = cli(
        config,
        "clients",
        "add",
        "--client-id",
        "portal",
        "--redirect-uri",
        REDIRECT_URI,
        "--post-logout-redirect-uri",
        "http://127.0.0.1:9/bye",
        "--json",
    )
    secret = json.loads(added.stdout)["client_secret"]
    assert len(secret) >= 43
    assert secret not in (tmp_path / "broker.db").read_bytes().decode("latin-1")
    listing = json.loads(cli(config, "clients", "list", "--json").stdout)
    assert listing[0]["client_id"] == "portal"
    assert (listing[0]["subject_type"], listing[0]["sector_identifier"]) == ("pairwise", None)
    assert secret not in json.dumps(listing)
    assert "secret_hash" not in listing[0]

    refused = cli(
        config,
        "clients",
        "add",
        "--client-id",
        "bad",
        "--redirect-uri",
        "https://x/cb#frag",
        check=False,
    )
    assert refused.returncode == 2
    assert "redirect_uris" in refused.stderr

    short = cli(
        config,
        "clients",
        "add",
        "--client-id",
        "weak",
        "--redirect-uri",
        REDIRECT_URI,
        "--secret-stdin",
        check=False,
        stdin="short\n",
    )
    assert short.returncode == 2 and "at least 32 characters" in short.stderr

    public = ["clients", "add", "--client-id", "pub", "--redirect-uri", REDIRECT_URI]
    cli(config, *public, "--subject-type", "public", "--sector-identifier", "portal.example")
    pub = next(
        c
        for c in json.loads(cli(config, "clients", "list", "--json").stdout)
        if c["client_id"] == "pub"
    )
    assert (pub["subject_type"], pub["sector_identifier"]) == ("public", "portal.example")
    assert pub["release_national_identity_code"] is False

    registry = ["clients", "add", "--client-id", "registry", "--redirect-uri", REDIRECT_URI]
    cli(config, *registry, "--scope", "openid", "--release-national-identity-code")
    rows = cli(config, "clients", "list").stdout.splitlines()
    assert next(r for r in rows if r.startswith("registry\t")).endswith(
        "\topenid national_identity_code"
    )
    refused = cli(
        config, *registry, "--scope", "national_identity_code", "--scope", "openid", check=False
    )
    assert refused.returncode == 2 and "--release-national-identity-code" in refused.stderr
    public_registry = [*registry, "--auth-method", "none", "--release-national-identity-code"]
    refused = cli(config, *public_registry, check=False)
    assert refused.returncode == 2 and "public client" in refused.stderr

    assert cli(config, "clients", "remove", "portal").returncode == 0
    assert cli(config, "clients", "remove", "portal", check=False).returncode == 1

    before = json.loads(cli(config, "keys", "list", "--json").stdout)
    rotated = cli(config, "keys", "rotate", "--alg", "RS256", "--publish-lead", "600")
    assert "published now" in rotated.stdout
    after = json.loads(cli(config, "keys", "list", "--json").stdout)
    assert len(after) == len(before) + 1
    assert sorted(k["state"] for k in after if k["alg"] == "RS256") == ["active", "pending"]
    assert oct((tmp_path / "keys").stat().st_mode & 0o777) == "0o700"
    for key_file in (tmp_path / "keys").glob("*.json"):
        assert oct(key_file.stat().st_mode & 0o777) == "0o600"


def test_cli_rolls_the_saml_sp_keys_over(config: Path, tmp_path: Path, saml_sp_keys: Path) -> None:
    shutil.copytree(saml_sp_keys, tmp_path / "var" / "saml-keys")

    def roles() -> dict[str, str]:
        pairs = json.loads(cli(config, "saml-keys", "list", "--json").stdout)
        assert all(len(pair["sha256"]) == 64 for pair in pairs)
        return {pair["role"]: pair["name"] for pair in pairs}

    first = roles()["active"]
    refused = cli(config, "saml-keys", "activate", check=False)
    assert refused.returncode == 2 and "no next key" in refused.stderr
    added = cli(config, "saml-keys", "add").stdout.split("\t")[0]
    assert roles() == {"active": first, "next": added}
    assert "signs from now on" in cli(config, "saml-keys", "activate").stdout
    assert roles() == {"active": added, "previous": first}
    assert cli(config, "saml-keys", "add", check=False).returncode == 2
    cli(config, "saml-keys", "retire")
    assert roles() == {"active": added}
    assert not (tmp_path / "var" / "saml-keys" / f"{first}.key").exists()


def test_bad_settings_stop_start_up_naming_file_and_key(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("mode: production\nissuer: http://broker.example\ntokens:\n  code_ttl: soon\n")
    result = cli(path, "check-config", check=False)
    assert result.returncode == 2
    assert str(path) in result.stderr
    assert "tokens.code_ttl" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("mode: production\nissuer: http://broker.example\n", "https issuer"),
        (
            "mode: production\nissuer: https://broker.example\nidp_configs: /nonexistent\n",
            "/nonexistent",
        ),
        (
            "mode: production\nissuer: https://broker.example\nkeys:\n  publish_lead_seconds: 0\n",
            "keys.publish_lead_seconds: at least 420",
        ),
        ("issuer: [1, 2\n", "not valid YAML"),
        ("mode: development\nissuer: http://127.0.0.1:1\nunknown_key: 1\n", "unknown_key"),
    ],
)
def test_production_mode_and_malformed_files_are_refused(
    tmp_path: Path, text: str, expected: str
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    result = cli(path, "check-config", check=False)
    assert result.returncode == 2
    assert expected in result.stderr
    assert "Traceback" not in result.stderr


def test_logs_of_a_full_run_contain_no_token_code_secret_or_cookie(
    config: Path, running: tuple[str, Path]
) -> None:
    issuer, log_path = running
    seen: list[str] = []
    key = rsa_client_key()
    with serve(LogoutReceiver().app(), bound_socket()) as receiver_url:
        secret = json.loads(
            cli(
                config,
                "clients",
                "add",
                "--client-id",
                "portal",
                "--redirect-uri",
                REDIRECT_URI,
                "--backchannel-logout-uri",
                receiver_url + "/backchannel",
                "--json",
            ).stdout
        )["client_secret"]
        jwks_file = config.parent / "portal-jwks.json"
        jwks_file.write_text(json.dumps({"keys": [key.as_dict(private=False)]}))
        cli(
            config,
            "clients",
            "add",
            "--client-id",
            "signed",
            "--redirect-uri",
            REDIRECT_URI,
            "--auth-method",
            "private_key_jwt",
            "--jwks-file",
            str(jwks_file),
        )
        seen.append(secret)
        with httpx.Client(base_url=issuer, follow_redirects=False) as browser:
            run_everything(browser, issuer, secret, key, seen)
        time.sleep(0.5)  # let the back-channel worker deliver and log
    log = log_path.read_text()
    assert "back-channel logout delivered" in log
    assert "code redeemed" in log
    seen = [value for value in seen if value]
    assert len(seen) > 15
    for value in seen:
        assert value not in log, f"a secret value leaked into the log: {value[:6]}…"
        assert value[:20] not in log
    assert "Bearer " not in log


def run_everything(
    browser: httpx.Client, issuer: str, secret: str, key: Any, seen: list[str]
) -> None:
    authorize = {
        "client_id": "portal",
        "redirect_uri": REDIRECT_URI,
        "response_type": "code",
        "scope": "openid profile email",
        "state": "state-secret-value-1234567890",
        "nonce": "nonce-secret-value-1234567890",
        "code_challenge": CHALLENGE,
        "code_challenge_method": "S256",
        "login_hint": "maija.meikalainen@hus.fi",
    }
    seen += [authorize["state"], authorize["nonce"], VERIFIER, HUS_USER[1]]
    browser.get("/authorize", params=authorize)
    done = journey_login(browser, seen)
    seen += list(browser.cookies.values())
    code = callback_params(done.headers["location"])["code"]
    seen.append(code)
    token_form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT_URI,
        "code_verifier": VERIFIER,
    }
    tokens = browser.post("/token", data=token_form, auth=("portal", secret)).json()
    seen += [tokens["access_token"], tokens["refresh_token"], tokens["id_token"]]
    browser.post("/token", data=token_form, auth=("portal", secret))  # reuse: revokes
    browser.post("/token", data=token_form, auth=("portal", "wrong-" + secret))

    browser.get("/authorize", params={**authorize, "prompt": "login"})
    code = callback_params(journey_login(browser, seen).headers["location"])["code"]
    tokens = browser.post(
        "/token", data={**token_form, "code": code}, auth=("portal", secret)
    ).json()
    seen += [code, tokens["access_token"], tokens["refresh_token"], tokens["id_token"]]
    browser.get("/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    rotated = browser.post(
        "/token",
        data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
        auth=("portal", secret),
    ).json()
    seen += [rotated["access_token"], rotated["refresh_token"], rotated["id_token"]]
    browser.post("/introspect", data={"token": rotated["access_token"]}, auth=("portal", secret))
    browser.post("/revoke", data={"token": rotated["access_token"]}, auth=("portal", secret))
    browser.get("/userinfo", headers={"Authorization": f"Bearer {rotated['access_token']}"})

    browser.get("/authorize", params={**authorize, "client_id": "signed"})
    silent_code = callback_params(
        browser.get("/authorize", params={**authorize, "client_id": "signed"}).headers["location"]
    )["code"]
    now = int(time.time())
    assertion = jwt.encode(
        {"alg": "RS256", "kid": key.kid},
        {
            "iss": "signed",
            "sub": "signed",
            "aud": issuer,
            "iat": now,
            "exp": now + 60,
            "jti": "jti-secret-value-1234567890",
        },
        key,
    )
    seen += [silent_code, assertion]
    assertion_form = {
        **token_form,
        "code": silent_code,
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "client_assertion": assertion,
    }
    signed_tokens = browser.post("/token", data=assertion_form).json()
    seen += [signed_tokens["access_token"], signed_tokens["id_token"]]
    browser.post("/token", data=assertion_form)  # replayed assertion

    browser.get("/authorize", params={**authorize, "redirect_uri": "https://evil.example/"})
    browser.get("/end_session", params={"id_token_hint": "eyJ" + tokens["id_token"][3:-2]})
    browser.get("/end_session", params={"id_token_hint": signed_tokens["id_token"]})


def journey_login(browser: httpx.Client, seen: list[str]) -> httpx.Response:
    """Role, route, group and organisation pages, the mock IdP's form, the callback; every
    hidden value and the upstream code and state go into `seen`."""
    for path, choice in (
        ("/login/role", "professional"),
        ("/login/route", "organisation"),
        ("/login/group", "yliopistosairaanhoitopiirit"),
        ("/login/organisation", "hus"),
    ):
        form = hidden_inputs(browser.get(path).text)
        seen.extend(form.values())
        answer = browser.post(path, data={**form, "choice": choice})
    idp_page = browser.get(answer.headers["location"])
    form = hidden_inputs(idp_page.text)
    seen.extend(form.values())
    action = idp_page.text.split('<form method="post" action="')[1].split('"')[0]
    if action.startswith("/"):
        action = str(idp_page.url.copy_with(path=action, query=None))
    posted = browser.post(action, data={**form, "username": HUS_USER[0], "password": HUS_USER[1]})
    callback = posted.headers["location"]
    seen.extend(v[0] for v in parse_qs(urlsplit(callback).query).values())
    return register(browser, browser.get(callback), seen)


def register(browser: httpx.Client, answer: httpx.Response, seen: list[str]) -> httpx.Response:
    """The first login's registration; the contact details and the e-mail code go into `seen`."""
    if answer.headers["location"] != "/account/register":
        return answer  # a later login: the account is found
    form = hidden_inputs(browser.get("/account/register").text)
    email, phone = "log.test@example.fi", "+358401234599"
    seen.extend([*form.values(), email, phone, "0401234599"])
    data = {**form, "phone": "040 123 4599", "email": email, "partner": "area:pirkanmaa"}
    sent = browser.post("/account/register", data={**data, "action": "continue"})
    assert sent.headers["location"] == "/account/confirm", sent.text
    form = hidden_inputs(browser.get("/account/confirm").text)
    code = last_code(email)
    seen.append(code)
    return browser.post("/account/confirm", data={**form, "code": code, "action": "confirm"})


def test_production_keys_rotate_refuses_a_short_publish_lead(tmp_path: Path) -> None:
    path = tmp_path / "production.yaml"
    path.write_text(f"issuer: https://broker.example\nkeys:\n  directory: {tmp_path / 'keys'}\n")
    result = cli(path, "keys", "rotate", "--alg", "ES256", "--publish-lead", "0", check=False)
    assert result.returncode == 2
    assert "--publish-lead: at least 420" in result.stderr
    assert not (tmp_path / "keys").exists()


def production_config(tmp_path: Path) -> Path:
    """Production settings for the CLI (no server runs: the commands only need the store)."""
    path = tmp_path / "production.yaml"
    settings = {
        "issuer": "https://broker.example",
        "secret_file": "secret",
        "subject_key_file": "subject-key",
        "store": {"sqlite_path": "broker.db"},
        "keys": {"directory": "keys"},
    }
    path.write_text(yaml.safe_dump(settings))
    return path


@pytest.mark.parametrize(
    ("option", "uri"),
    [
        ("--jwks-uri", "http://portal.example.fi/jwks"),
        ("--jwks-uri", "http://169.254.169.254/latest/meta-data/"),
        ("--jwks-uri", "file:///etc/passwd"),
        ("--jwks-uri", "http://127.0.0.1:8001/jwks"),
        ("--backchannel-logout-uri", "http://portal.example.fi/logout"),
        ("--backchannel-logout-uri", "http://127.0.0.1:8001/backchannel-logout"),
    ],
)
def test_production_refuses_a_client_uri_the_broker_would_call_without_https(
    tmp_path: Path, option: str, uri: str
) -> None:
    """Server to server, with no loopback exception: whoever answers plain http would choose
    the client's keys (or learn of its logouts)."""
    config = production_config(tmp_path)
    add = ["clients", "add", "--client-id", "portal", "--redirect-uri", "https://p.example/cb"]
    if option == "--jwks-uri":
        add += ["--auth-method", "private_key_jwt"]
    result = cli(config, *add, option, uri, check=False)
    assert result.returncode == 2
    field = "jwks_uri" if option == "--jwks-uri" else "backchannel_logout_uri"
    assert f"portal: {field}: {uri!r} must use https" in result.stderr
    if uri.startswith("http://"):
        cli(config, *add, option, "https://" + uri.removeprefix("http://"))


def test_check_config_names_a_stored_client_with_a_plain_http_jwks_uri(
    config: Path, tmp_path: Path
) -> None:
    """A client registered in development (or before this check) is named by check-config."""
    add = ["clients", "add", "--client-id", "old", "--redirect-uri", "https://p.example/cb"]
    cli(config, *add, "--auth-method", "private_key_jwt", "--jwks-uri", "http://p.example/jwks")
    production = production_config(tmp_path)
    result = cli(production, "check-config", check=False)
    assert result.returncode == 2
    assert "old: jwks_uri: 'http://p.example/jwks' must use https" in result.stderr


def test_clients_add_takes_the_secret_from_stdin_or_a_file_never_the_command_line(
    config: Path, tmp_path: Path
) -> None:
    """A secret in argv is visible in `ps` and kept by the shell's history."""
    add = ["clients", "add", "--client-id", "portal", "--redirect-uri", REDIRECT_URI]
    secret = "s" * 40
    refused = cli(config, *add, "--secret", secret, check=False)
    assert refused.returncode == 2
    assert "--secret-stdin or --secret-file" in refused.stderr
    assert "client_secret" not in cli(config, *add, "--secret-stdin", stdin=secret + "\n").stdout
    assert stored_secret_matches(tmp_path, secret)
    secret_file = tmp_path / "portal-secret"
    secret_file.write_text("f" * 40 + "\n")
    cli(config, *add, "--secret-file", str(secret_file))
    assert stored_secret_matches(tmp_path, "f" * 40)
    database = (tmp_path / "broker.db").read_bytes().decode("latin-1")
    assert secret not in database and "f" * 40 not in database
    missing = cli(config, *add, "--secret-file", str(tmp_path / "none"), check=False)
    assert missing.returncode == 2 and "--secret-file: cannot read" in missing.stderr


def stored_secret_matches(tmp_path: Path, secret: str) -> bool:
    async def load() -> ClientRecord | None:
        store = SQLiteStore(tmp_path / "broker.db")
        await store.open()
        try:
            return await store.clients.get("portal")
        finally:
            await store.close()

    client = asyncio.run(load())
    return client is not None and secrets.matches(secret, client.secret_hash or "")
