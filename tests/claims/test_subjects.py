"""Pairwise subjects (OpenID Connect Core §8.1): HMAC-SHA256 under the broker's subject key over
the label "pairwise", the portal's sector and the local subject, NUL-separated; 160 bits in
lower-case base32. Written out here as the spec of the value portals store."""

from __future__ import annotations

import base64
import hashlib
import hmac

from broker.claims.subjects import ClientSubjects, sector_of
from broker.store.records import ClientRecord

KEY = b"k" * 32


def portal(redirect_uri: str, **fields: object) -> ClientRecord:
    return ClientRecord(
        client_id="portal",
        client_name="Portal",
        redirect_uris=(redirect_uri,),
        token_endpoint_auth_method="none",
        **fields,  # type: ignore[arg-type]
    )


def pairwise(sector: str, local: str) -> str:
    message = "\x00".join(("pairwise", sector, local)).encode()
    digest = hmac.new(KEY, message, hashlib.sha256).digest()
    return base64.b32encode(digest[:20]).decode("ascii").lower()


def test_a_pairwise_sub_is_the_keyed_hash_of_the_sector_and_the_local_subject() -> None:
    subjects = ClientSubjects(KEY)
    sub = subjects.for_client("account-1", portal("https://portal.example/callback"))
    assert sub == pairwise("portal.example", "account-1")
    assert len(sub) == 32 and sub == sub.lower()
    configured = portal("https://a.example/cb", sector_identifier="sector.example")
    assert subjects.for_client("account-1", configured) == pairwise("sector.example", "account-1")


def test_a_public_sub_is_the_local_subject() -> None:
    public = portal("https://portal.example/cb", subject_type="public")
    assert ClientSubjects(KEY).for_client("account-1", public) == "account-1"


def test_the_sector_of_a_redirect_uri_without_a_host_is_empty() -> None:
    assert sector_of(portal("com.example.app:/callback")) == ""
    assert sector_of(portal("https://Portal.Example:8443/cb")) == "portal.example"
