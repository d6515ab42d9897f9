"""Cookies of a broker on an https issuer: `__Host-` names, Secure, HttpOnly, SameSite=Lax,
Path=/ and no Domain, so no other host or plain-http page can set or read them.

The broker runs in development mode on plain http with an https issuer: the headers are what is
checked, no TLS is needed for that. The browser's cookie jar would not send Secure cookies over
http, so the tests carry them by hand."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from http.cookies import SimpleCookie
from pathlib import Path

import httpx
import pytest
from starlette.responses import Response

from broker.http.cookies import SESSION, TRANSACTION, CookieSigner
from mock_idps.oidc_idp import create_app as create_mock_idp
from tests.brokers import RunningBroker, start_broker
from tests.portal_client import REDIRECT_URI
from tests.servers import bound_socket, serve
from tests.worlds import idp_configs_for

VERIFIER = "v" * 43


@pytest.fixture
def https_broker(tmp_path: Path, broker_keys: Path, mock_idp_keys: Path) -> Iterator[RunningBroker]:
    broker_sock, idp_sock = bound_socket(), bound_socket()
    port = broker_sock.getsockname()[1]
    idp_base = f"http://127.0.0.1:{idp_sock.getsockname()[1]}"
    mock = create_mock_idp(idp_base, key_dir=mock_idp_keys)
    configs = idp_configs_for(idp_base, tmp_path / "idp_configs")
    with serve(mock, idp_sock):
        yield from start_broker(
            tmp_path,
            broker_keys,
            broker_sock,
            idp_configs=configs,
            issuer=f"https://127.0.0.1:{port}",
        )


def set_cookies(response: httpx.Response) -> dict[str, dict[str, str | bool]]:
    """Each Set-Cookie by name: its attributes as the header states them (lower-case keys)."""
    found: dict[str, dict[str, str | bool]] = {}
    for header in response.headers.get_list("set-cookie"):
        name, _, rest = header.partition("=")
        attributes: dict[str, str | bool] = {}
        for part in rest.split(";")[1:]:
            key, has_value, value = part.strip().partition("=")
            attributes[key.lower()] = value if has_value else True
        found[name] = attributes
    return found


def assert_host_only(attributes: dict[str, str | bool]) -> None:
    assert attributes.get("secure") is True
    assert attributes.get("httponly") is True
    assert attributes.get("path") == "/"
    assert str(attributes.get("samesite")).lower() == "lax"
    assert "domain" not in attributes


async def authorize(broker: RunningBroker, http: httpx.AsyncClient) -> httpx.Response:
    challenge = base64.urlsafe_b64encode(hashlib.sha256(VERIFIER.encode()).digest())
    params = {
        "response_type": "code",
        "client_id": "portal",
        "redirect_uri": REDIRECT_URI,
        "scope": "openid",
        "state": "s" * 16,
        "nonce": "n" * 16,
        "code_challenge": challenge.rstrip(b"=").decode(),
        "code_challenge_method": "S256",
    }
    return await http.get(broker.url + "/authorize", params=params)


async def test_the_transaction_cookie_is_host_only_and_secure(https_broker: RunningBroker) -> None:
    await https_broker.add_client()
    async with httpx.AsyncClient(follow_redirects=False, timeout=10) as http:
        started = await authorize(https_broker, http)
        assert started.status_code == 303 and started.headers["location"] == "/login/role"
        cookies = set_cookies(started)
        assert list(cookies) == ["__Host-sote_tx"]
        assert_host_only(cookies["__Host-sote_tx"])
        assert int(str(cookies["__Host-sote_tx"]["max-age"])) > 0

        jar = SimpleCookie(started.headers["set-cookie"])
        carried = {"cookie": f"__Host-sote_tx={jar['__Host-sote_tx'].value}"}
        role = await http.get(https_broker.url + "/login/role", headers=carried)
        assert role.status_code == 200  # the broker reads its own __Host- cookie back
        insecure = {"cookie": f"sote_tx_insecure_dev={jar['__Host-sote_tx'].value}"}
        refused = await http.get(https_broker.url + "/login/role", headers=insecure)
        assert refused.status_code == 400, refused.status_code  # the development name is not read


async def test_the_language_and_cleared_session_cookies_are_host_only_and_secure(
    https_broker: RunningBroker,
) -> None:
    async with httpx.AsyncClient(follow_redirects=False, timeout=10) as http:
        switched = await http.get(https_broker.url + "/lang", params={"to": "sv", "next": "/"})
        cookies = set_cookies(switched)
        assert list(cookies) == ["__Host-sote_lang"]
        assert_host_only(cookies["__Host-sote_lang"])

        logged_out = await http.get(https_broker.url + "/end_session")
        cookies = set_cookies(logged_out)
        assert list(cookies) == ["__Host-sote_session"]
        assert_host_only(cookies["__Host-sote_session"])
        assert cookies["__Host-sote_session"]["max-age"] == "0"


async def test_on_a_plain_http_issuer_cookies_are_named_as_insecure(broker: RunningBroker) -> None:
    """A `__Host-` cookie without Secure is dropped by browsers: on http the names say dev."""
    async with httpx.AsyncClient(follow_redirects=False, timeout=10) as http:
        switched = await http.get(broker.url + "/lang", params={"to": "sv", "next": "/"})
        cookies = set_cookies(switched)
        assert list(cookies) == ["sote_lang_insecure_dev"]
        assert "secure" not in cookies["sote_lang_insecure_dev"]


def test_a_cookie_signed_for_one_purpose_is_not_read_for_another() -> None:
    """Per-purpose salts: a transaction cookie's value is no session cookie, even though both
    are signed with the same key."""
    signer = CookieSigner([b"k" * 32], secure=True)
    response = Response()
    signer.set(response, TRANSACTION, "same-id", 60)
    value = SimpleCookie(response.headers["set-cookie"])[signer.name(TRANSACTION)].value
    assert signer.read({signer.name(TRANSACTION): value}, TRANSACTION) == "same-id"
    assert signer.read({signer.name(SESSION): value}, SESSION) is None
