"""`sote-broker idps list|check` through the real CLI (`main`), against real servers: the mock
organisation OIDC IdP and the mock Suomi.fi on uvicorn, and broken variants of them (a port
nobody listens on, a wrong issuer, metadata expired or about to, a signature by the wrong key,
an expired signing certificate)."""

from __future__ import annotations

import datetime
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from cryptography.hazmat.primitives.asymmetric import rsa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from broker.cli import main
from mock_idps.saml_common.keys import KeyPair, load_or_create_pair
from tests.certificates import self_signed, write_pair
from tests.servers import bound_socket, serve
from tests.upstream.saml import metadata_forge as md
from tests.worlds import MOCK_IDP_SECRET, idp_configs_for

SUOMIFI_KEY = "suomifi-mock-idp"
DAY = 86400


@dataclass
class IdPWorld:
    config: Path
    configs: Path
    oidc_url: str
    suomifi_url: str
    forged_url: str
    keys: Path
    forged: dict[str, str]
    """What the forged-metadata server serves at /<name>."""


def saml_idp(idp_id: str, saml: dict[str, object]) -> dict[str, object]:
    return {
        "id": idp_id,
        "route": "organisation",
        "group": "hyvinvointialueet",
        "protocol": "saml",
        "names": {"fi": idp_id, "sv": idp_id, "en": idp_id},
        "saml": saml,
    }


def oidc_idp(idp_id: str, issuer: str, discovery_url: str | None = None) -> dict[str, object]:
    oidc: dict[str, object] = {
        "issuer": issuer,
        "client_id": "sote-broker",
        "client_secret": {"value": MOCK_IDP_SECRET},
        "timeout_seconds": 2,
    }
    if discovery_url:
        oidc["discovery_url"] = discovery_url
    return {
        "id": idp_id,
        "route": "organisation",
        "group": "hyvinvointialueet",
        "protocol": "oidc",
        "names": {"fi": idp_id, "sv": idp_id, "en": idp_id},
        "oidc": oidc,
    }


def write(configs: Path, idp: dict[str, object]) -> None:
    (configs / f"{idp['id']}.yaml").write_text(yaml.safe_dump(idp))


def expired_pair(directory: Path) -> KeyPair:
    """A signing key pair whose certificate ended yesterday."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = datetime.datetime.now(datetime.UTC)
    certificate = self_signed(
        key,
        "expired IdP TEST-ONLY",
        not_before=now - datetime.timedelta(days=30),
        not_after=now - datetime.timedelta(days=1),
    )
    return write_pair(directory, "expired", key, certificate)


@pytest.fixture
def idp_world(tmp_path: Path, mock_idp_keys: Path) -> Iterator[IdPWorld]:
    from mock_idps.oidc_idp import create_app as create_oidc
    from mock_idps.suomifi_idp import create_app as create_suomifi

    oidc_sock, suomifi_sock, forged_sock = bound_socket(), bound_socket(), bound_socket()
    oidc_base = f"http://127.0.0.1:{oidc_sock.getsockname()[1]}"
    suomifi_base = f"http://127.0.0.1:{suomifi_sock.getsockname()[1]}"
    forged: dict[str, str] = {}

    async def forged_metadata(request: Request) -> Response:
        return Response(forged[request.path_params["name"]], media_type="application/xml")

    forged_app = Starlette(routes=[Route("/{name}", forged_metadata)])
    configs = tmp_path / "idp_configs"
    idp_configs_for(oidc_base, configs)
    config = tmp_path / "settings.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "mode": "development",
                "issuer": "http://127.0.0.1:9",
                "idp_configs": str(configs),
                "store": {"sqlite_path": str(tmp_path / "broker.db")},
                "keys": {"directory": str(tmp_path / "keys")},
                "saml_sp": {"key_directory": str(tmp_path / "saml-keys")},
                "secret_file": str(tmp_path / "secret"),
                "subject_key_file": str(tmp_path / "subject-key"),
            }
        )
    )
    suomifi = create_suomifi(suomifi_base, key_dir=mock_idp_keys / "suomifi")
    with (
        serve(create_oidc(oidc_base, key_dir=mock_idp_keys), oidc_sock) as oidc_url,
        serve(suomifi, suomifi_sock) as suomifi_url,
        serve(forged_app, forged_sock) as forged_url,
    ):
        yield IdPWorld(config, configs, oidc_url, suomifi_url, forged_url, mock_idp_keys, forged)


def run(world: IdPWorld, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(["--config", str(world.config), "idps", *args])
    out, err = capsys.readouterr()
    return code, out + err


def lines_by_idp(output: str) -> dict[str, list[str]]:
    return {line.split("\t")[0]: line.split("\t") for line in output.splitlines() if "\t" in line}


def suomifi_signer(world: IdPWorld) -> KeyPair:
    return load_or_create_pair(world.keys / "suomifi", f"{SUOMIFI_KEY}-metadata-TEST-ONLY")


def test_every_reachable_oidc_idp_checks_ok_and_the_exit_code_is_zero(
    idp_world: IdPWorld, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = run(idp_world, capsys, "check")
    found = lines_by_idp(out)
    assert set(found) == {"hus", "lshp", "pajjatha", "pirha", "pshva"}
    assert all(line[1] == "ok" for line in found.values()), out
    assert "signing key" in found["hus"][2]
    assert code == 0
    assert MOCK_IDP_SECRET not in out


def test_an_unreachable_idp_and_a_wrong_issuer_are_errors_in_plain_words_and_exit_one(
    idp_world: IdPWorld, capsys: pytest.CaptureFixture[str]
) -> None:
    closed = bound_socket()  # bound, never listening: connection refused
    down = f"http://127.0.0.1:{closed.getsockname()[1]}/down"
    write(idp_world.configs, oidc_idp("down", down))
    hus_discovery = idp_world.oidc_url + "/hus/.well-known/openid-configuration"
    write(idp_world.configs, oidc_idp("wrongiss", "https://impostor.example/hus", hus_discovery))
    try:
        code, out = run(idp_world, capsys, "check")
    finally:
        closed.close()
    found = lines_by_idp(out)
    assert found["down"][1:] == [
        "error",
        f"discovery document at {down}/.well-known/openid-configuration: unreachable "
        "(cannot connect)",
    ]
    assert found["wrongiss"][1] == "error"
    assert "issuer 'http://127.0.0.1:" in found["wrongiss"][2]
    assert "is not the configured 'https://impostor.example/hus'" in found["wrongiss"][2]
    assert found["hus"][1] == "ok"
    assert code == 1
    assert MOCK_IDP_SECRET not in out


def test_check_takes_idp_ids_and_refuses_an_unknown_one(
    idp_world: IdPWorld, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = run(idp_world, capsys, "check", "hus")
    assert list(lines_by_idp(out)) == ["hus"]
    assert code == 0
    code, out = run(idp_world, capsys, "check", "hus", "nosuch")
    assert code == 2
    assert "no IdP nosuch (known: hus, lshp, pajjatha, pirha, pshva)" in out


def test_saml_metadata_soon_to_expire_is_a_warning_and_signed_metadata_is_checked(
    idp_world: IdPWorld, capsys: pytest.CaptureFixture[str]
) -> None:
    """The mock Suomi.fi signs its metadata and says it is valid for a day: a warning within
    the default 7 days (exit 0), ok within half a day."""
    signer = suomifi_signer(idp_world)
    write(
        idp_world.configs,
        saml_idp(
            "suomi",
            {
                "metadata_url": idp_world.suomifi_url + "/metadata",
                "entity_id": idp_world.suomifi_url + "/idp",
                "metadata_signing_certificates": [str(signer.cert_file)],
            },
        ),
    )
    code, out = run(idp_world, capsys, "check", "suomi")
    status, reason = lines_by_idp(out)["suomi"][1:]
    assert status == "warning"
    assert re.fullmatch(r"metadata validUntil \S+ \S+ UTC is in 1\.0 days", reason), reason
    assert code == 0
    code, out = run(idp_world, capsys, "check", "suomi", "--warn-days", "0.5")
    assert lines_by_idp(out)["suomi"][1:] == ["ok", "metadata valid"]
    assert code == 0


def test_metadata_signed_by_another_key_is_an_error(
    idp_world: IdPWorld, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """The real mock's signed metadata, checked against a certificate that did not sign it."""
    other = load_or_create_pair(tmp_path / "other", "other-TEST-ONLY")
    write(
        idp_world.configs,
        saml_idp(
            "suomi",
            {
                "metadata_url": idp_world.suomifi_url + "/metadata",
                "metadata_signing_certificates": [str(other.cert_file)],
            },
        ),
    )
    code, out = run(idp_world, capsys, "check", "suomi")
    assert lines_by_idp(out)["suomi"][1:] == [
        "error",
        f"metadata from {idp_world.suomifi_url}/metadata: metadata signature: not valid by "
        "any configured certificate",
    ]
    assert code == 1


def test_tampered_signed_metadata_is_an_error(
    idp_world: IdPWorld, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    signer = load_or_create_pair(tmp_path / "signer", "forged-signer-TEST-ONLY")
    template = md.entity(
        "https://idp.forged.example",
        "https://idp.forged.example/sso",
        [signer],
        valid_until=time.time() + 30 * DAY,
    )
    signed = md.signed(template, signer)
    idp_world.forged["tampered"] = signed.replace(
        "https://idp.forged.example/sso", "https://evil.example/sso"
    )
    write(
        idp_world.configs,
        saml_idp(
            "tampered",
            {
                "metadata_url": idp_world.forged_url + "/tampered",
                "metadata_signing_certificates": [str(signer.cert_file)],
            },
        ),
    )
    code, out = run(idp_world, capsys, "check", "tampered")
    status, reason = lines_by_idp(out)["tampered"][1:]
    assert (status, code) == ("error", 1)
    assert reason.endswith("metadata signature: not valid by any configured certificate")


def test_expired_metadata_and_an_expired_signing_certificate_are_errors(
    idp_world: IdPWorld, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    fresh = load_or_create_pair(tmp_path / "fresh", "fresh-TEST-ONLY")
    past = md.unsigned(
        md.entity(
            "https://a.example", "https://a.example/sso", [fresh], valid_until=time.time() - DAY
        )
    )
    (idp_world.configs / "expired.xml").write_text(past)
    write(idp_world.configs, saml_idp("expired", {"metadata_file": "expired.xml"}))
    old_key = md.unsigned(
        md.entity(
            "https://b.example",
            "https://b.example/sso",
            [expired_pair(tmp_path)],
            valid_until=time.time() + 30 * DAY,
        )
    )
    idp_world.forged["oldkey"] = old_key
    write(idp_world.configs, saml_idp("oldkey", {"metadata_url": idp_world.forged_url + "/oldkey"}))
    code, out = run(idp_world, capsys, "check", "expired", "oldkey")
    found = lines_by_idp(out)
    assert found["expired"][1] == "error"
    assert re.fullmatch(r"metadata validUntil \S+ \S+ UTC has passed", found["expired"][2])
    assert found["oldkey"][1] == "error"
    assert re.fullmatch(r"signing certificate \S+ \S+ UTC has passed", found["oldkey"][2])
    assert code == 1


def test_list_shows_each_idp_and_the_saml_metadata_dates(
    idp_world: IdPWorld, capsys: pytest.CaptureFixture[str]
) -> None:
    write(
        idp_world.configs,
        saml_idp("suomi", {"metadata_url": idp_world.suomifi_url + "/metadata"}),
    )
    code, out = run(idp_world, capsys, "list")
    found = lines_by_idp(out)
    assert code == 0
    assert found["hus"] == [
        "hus",
        "oidc",
        "yliopistosairaanhoitopiirit",
        "automatic",
        idp_world.oidc_url + "/hus/.well-known/openid-configuration",
        "-",
        "-",
    ]
    suomi = found["suomi"]
    assert suomi[:5] == [
        "suomi",
        "saml",
        "hyvinvointialueet",
        "automatic",
        idp_world.suomifi_url + "/metadata",
    ]
    until = datetime.datetime.fromisoformat(suomi[5]).timestamp()
    assert time.time() + DAY - 300 < until <= time.time() + DAY
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", suomi[6])
    assert MOCK_IDP_SECRET not in out
