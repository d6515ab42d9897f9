"""Limits on request bodies through a running broker: a 200 MB upload to /token is refused with
413 while the broker's memory stays flat, a chunked body is counted as it arrives, multipart is
refused, a form with thousands of fields is a clean 400, and the SAML ACS takes its own larger
limit but only something shaped like a SAMLResponse."""

from __future__ import annotations

import base64
import json
import sqlite3
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from tests.brokers import RunningBroker, start_broker
from tests.flows.suomifi import cross_site_post, query, to_suomifi
from tests.portal_client import portal_client, start
from tests.worlds import SAMLWorld

MB = 1024 * 1024
CHUNK = b"a=" + b"x" * (64 * 1024 - 2)


@pytest.fixture
def broker(tmp_path: Path, broker_keys: Path) -> Iterator[RunningBroker]:
    yield from start_broker(tmp_path, broker_keys)


def rss_bytes() -> int:
    """This process's resident set; the test broker runs in a thread of it."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")  # pragma: no cover


class Upload:
    """A body streamed from a generator (the test never holds it), noting the highest RSS seen
    while it is sent and how much the server took before it stopped reading."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.sent = 0
        self.peak_rss = rss_bytes()

    async def chunks(self) -> AsyncIterator[bytes]:
        while self.sent < self.total:
            yield CHUNK
            self.sent += len(CHUNK)
            if self.sent % (4 * MB) == 0:
                self.peak_rss = max(self.peak_rss, rss_bytes())


FORM = {"Content-Type": "application/x-www-form-urlencoded"}


async def test_200_mb_to_token_is_refused_with_413_and_memory_stays_flat(
    broker: RunningBroker,
) -> None:
    before = rss_bytes()
    upload = Upload(200 * MB)
    async with httpx.AsyncClient(timeout=30) as http:
        response = await http.post(broker.url + "/token", content=upload.chunks(), headers=FORM)
    after = rss_bytes()
    print(
        f"RSS before {before / MB:.1f} MB, peak while sending {upload.peak_rss / MB:.1f} MB, "
        f"after {after / MB:.1f} MB; sent {upload.sent / MB:.1f} MB of 200"
    )
    assert response.status_code == 413
    assert response.json()["error"] == "invalid_request"
    assert upload.peak_rss - before < 50 * MB
    assert after - before < 50 * MB


async def test_a_chunked_body_over_the_limit_is_refused(broker: RunningBroker) -> None:
    upload = Upload(256 * 1024)
    async with httpx.AsyncClient(timeout=10) as http:
        response = await http.post(broker.url + "/token", content=upload.chunks(), headers=FORM)
        assert "content-length" not in response.request.headers  # chunked
    assert response.status_code == 413
    assert response.json()["error"] == "invalid_request"


async def test_a_declared_length_over_the_limit_is_refused_before_the_body(
    broker: RunningBroker,
) -> None:
    async with httpx.AsyncClient(timeout=10) as http:
        response = await http.post(broker.url + "/token", content=b"a=" + b"x" * MB, headers=FORM)
    assert response.status_code == 413


async def test_a_page_form_over_the_limit_is_a_page_in_the_persons_language(
    broker: RunningBroker,
) -> None:
    headers = {**FORM, "Accept-Language": "sv"}
    async with httpx.AsyncClient(timeout=10) as http:
        response = await http.post(
            broker.url + "/upstream/saml/acs", content=Upload(MB).chunks(), headers=headers
        )
    assert response.status_code == 413
    assert "Begäran var för stor" in response.text


async def test_multipart_is_refused(broker: RunningBroker) -> None:
    files = {"upload": ("a.txt", b"hello", "text/plain")}
    async with httpx.AsyncClient(timeout=10) as http:
        token = await http.post(broker.url + "/token", data={"a": "b"}, files=files)
        page = await http.post(broker.url + "/login/role", data={"a": "b"}, files=files)
    assert token.status_code == 415
    assert token.json()["error"] == "invalid_request"
    assert page.status_code == 415
    assert "text/html" in page.headers["content-type"]


async def test_a_form_of_thousands_of_fields_is_a_clean_400(broker: RunningBroker) -> None:
    body = "&".join(f"f{i}=1" for i in range(5000))  # 33 KB: under the size limit
    async with httpx.AsyncClient(timeout=10) as http:
        token = await http.post(broker.url + "/token", content=body, headers=FORM)
        page = await http.post(broker.url + "/login/role", content=body, headers=FORM)
    assert token.status_code == 400
    assert token.json()["error"] == "invalid_request"
    assert page.status_code == 400
    assert "text/html" in page.headers["content-type"]


def saml_post(xml: bytes, relay_state: str = "no-such-transaction") -> dict[str, str]:
    return {"SAMLResponse": base64.b64encode(xml).decode(), "RelayState": relay_state}


async def test_the_acs_takes_a_large_saml_response_but_not_a_larger_one(
    broker: RunningBroker,
) -> None:
    padding = b"<!--" + b"x" * (300 * 1024) + b"-->"
    large = b'<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol">'
    async with httpx.AsyncClient(timeout=10) as http:
        fits = await http.post(
            broker.url + "/upstream/saml/acs",
            data=saml_post(large + padding + b"</samlp:Response>"),
        )
        too_large = await http.post(
            broker.url + "/upstream/saml/acs", data=saml_post(large + padding * 2)
        )
    assert fits.status_code == 400  # past the size checks: no such login transaction
    assert "Your login has expired" in fits.text or "Kirjautuminen" in fits.text
    assert too_large.status_code == 413


@pytest.mark.parametrize(
    "saml_response",
    [
        "bm90IGJhc2U2NCE=!",  # not base64
        base64.b64encode(b"just text, not XML").decode(),
        base64.b64encode(b"<html><body>a Response</body></html>").decode(),
        "A" * (512 * 1024 + 4),  # base64, but more than a SAMLResponse may be
    ],
    ids=["not-base64", "not-xml", "not-a-response", "too-large"],
)
async def test_the_acs_checks_the_saml_response_before_it_is_stored(
    saml_world: SAMLWorld, browser: httpx.AsyncClient, saml_response: str
) -> None:
    await saml_world.broker.add_client()
    auth = await start(portal_client(saml_world.broker))
    relay_state = query(await to_suomifi(browser, saml_world, auth.url))["RelayState"]
    acs = saml_world.broker.url + "/upstream/saml/acs"
    before = transaction_data(saml_world)
    held = await cross_site_post(acs, {"SAMLResponse": saml_response, "RelayState": relay_state})
    assert held.status_code == 502, held.text
    assert transaction_data(saml_world) == before  # nothing was kept for the continue
    after = await browser.get(saml_world.broker.url + "/upstream/saml/continue")
    assert after.status_code == 400


def transaction_data(world: SAMLWorld) -> list[object]:
    with sqlite3.connect(world.broker.settings.store.sqlite_path) as db:
        return [json.loads(data) for (data,) in db.execute("SELECT data FROM transactions")]
