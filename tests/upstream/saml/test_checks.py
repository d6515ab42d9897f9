"""The edges of the SAML checks, with the forge of the attack tests: the configured clock skew
either side of NotBefore and NotOnOrAfter, `allow_unsolicited` both ways, a signed value split by a
comment (CVE-2017-11427) read whole, a replay caught by another connector on the same store, and
no identity code in the log when pysaml2 refuses an assertion.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

import pytest

from broker.errors import UpstreamResponseError
from broker.store.sqlite import SQLiteStore
from broker.upstream.saml.sp import ServiceProvider
from tests.upstream.conftest import Connectors, begin, make_connector, posted
from tests.upstream.saml import saml_attacks as attack
from tests.upstream.saml.saml_attacks import VICTIM
from tests.upstream.saml.saml_forge import HETU, TESSA, Forge

# pysaml2 leaves the temporary files it hands to xmlsec1 open when a signature check fails.
pytestmark = pytest.mark.filterwarnings(
    r"ignore:Exception ignored in. <_io.FileIO name='/tmp/tmp"
    r":pytest.PytestUnraisableExceptionWarning"
)


@pytest.mark.parametrize(
    ("skew", "not_before", "not_on_or_after", "accepted"),
    [
        (60, 30, 300, True),  # NotBefore inside the skew
        (60, 90, 300, False),
        (120, 90, 300, True),
        (60, -300, -30, True),  # NotOnOrAfter passed, inside the skew
        (60, -300, -90, False),
        (120, -300, -90, True),
    ],
)
async def test_the_time_window_allows_the_configured_clock_skew(
    connectors: Connectors,
    forge: Forge,
    skew: int,
    not_before: int,
    not_on_or_after: int,
    accepted: bool,
) -> None:
    connector = connectors.get("suomifi", skew)
    saved, s = await begin(connector)
    answer = forge.genuine(
        replace(s, not_before=s.now + not_before, not_on_or_after=s.now + not_on_or_after)
    )
    if accepted:
        assert (await connector.finish(posted(answer), saved)).subject == TESSA
    else:
        with pytest.raises(UpstreamResponseError, match=r"ToEarly|ResponseLifetimeExceed"):
            await connector.finish(posted(answer), saved)


async def test_an_unsolicited_response_is_accepted_only_where_allowed(
    connectors: Connectors, forge: Forge
) -> None:
    for profile, accepted in (("suomifi", False), ("unsolicited_allowed", True)):
        connector = connectors.get(profile)
        saved, statement = await begin(connector)
        answer = posted(forge.genuine(replace(statement, in_response_to=None)))
        if accepted:
            assert (await connector.finish(answer, saved)).subject == TESSA
        else:
            with pytest.raises(UpstreamResponseError, match="UnsolicitedResponse"):
                await connector.finish(answer, saved)


@pytest.mark.parametrize("splitter", ["<!---->REST", "<!-- x -->REST", "<![CDATA[REST]]>"])
@pytest.mark.parametrize("field", ["name_id", "hetu"])
async def test_a_comment_or_cdata_in_a_signed_value_does_not_cut_it_short(
    connectors: Connectors, forge: Forge, field: str, splitter: str
) -> None:
    """CVE-2017-11427: the IdP signed `VICTIM.evil.example` (a value the attacker chose), the
    attacker splits it after VICTIM. The signature still holds (exclusive c14n drops comments),
    and the broker must read the whole value, not the first text node."""
    signed_value = f"{VICTIM}.evil.example"
    connector = connectors.get("assertion_signed", subject=HETU if field == "hetu" else None)
    saved, s = await begin(connector)
    if field == "hetu":
        s = replace(s, attributes={HETU: signed_value})
    else:
        s = replace(s, name_id=signed_value)
    build = attack.split_value(signed_value, len(VICTIM), splitter)
    identity = await connector.finish(posted(build(forge, s)), saved)
    assert identity.subject == signed_value


async def test_a_replayed_assertion_is_refused_by_another_connector_on_the_same_store(
    sp: ServiceProvider, metadata: Path, forge: Forge, tmp_path: Path
) -> None:
    """Two broker processes share the store: each has its own connector and store connection."""
    stores = [SQLiteStore(tmp_path / "broker.db") for _ in range(2)]
    for store in stores:
        await store.open()
    try:
        first, second = (
            make_connector(sp, metadata, store.replay.remember_jti, "suomifi") for store in stores
        )
        saved, statement = await begin(first)
        answer = posted(forge.genuine(statement))
        assert (await first.finish(answer, saved)).subject == TESSA
        with pytest.raises(UpstreamResponseError, match="replayed"):
            await second.finish(answer, saved)
    finally:
        for store in stores:
            await store.close()


async def test_refusals_log_no_identity_code(
    connectors: Connectors, forge: Forge, caplog: pytest.LogCaptureFixture
) -> None:
    """pysaml2 logs a refused assertion whole at ERROR (the decrypted document, identity code
    and all); the connector keeps its logger quiet and names the refusal itself."""
    caplog.set_level(logging.DEBUG, logger="broker")
    caplog.set_level(logging.INFO)
    unsolicited = attack.spoiled(lambda s: replace(s, in_response_to=None))
    for build, profile in (
        (attack.duplicate_id("advice"), "assertion_signed"),  # pysaml2 logs the document
        (attack.xsw4_evil_wraps_signed, "assertion_signed"),
        (unsolicited, "suomifi"),
    ):
        connector = connectors.get(profile)
        saved, statement = await begin(connector)
        with pytest.raises(UpstreamResponseError):
            await connector.finish(posted(build(forge, statement)), saved)
    assert caplog.records  # the log was captured
    assert TESSA not in caplog.text and VICTIM not in caplog.text


async def test_an_empty_first_value_of_the_subject_attribute_is_passed_over(
    connectors: Connectors, forge: Forge
) -> None:
    """The identity code is the subject (Suomi.fi's NameID is transient): an IdP that sends an
    empty AttributeValue before it must not make the transient NameID the subject."""
    connector = connectors.get("suomifi")
    saved, s = await begin(connector)
    template = forge._signature_template(s.assertion_id, None)
    unsigned = attack.after(forge.assertion(s, signed=False), "</saml:Issuer>", template)
    value = f'<saml:AttributeValue xsi:type="xs:string">{TESSA}'
    two_values = unsigned.replace(value, '<saml:AttributeValue xsi:type="xs:string"/>' + value)
    assertion = forge.sign(two_values, s.assertion_id)
    answer = forge.response(s, forge.encrypted(assertion))
    assert (await connector.finish(posted(answer), saved)).subject == TESSA
