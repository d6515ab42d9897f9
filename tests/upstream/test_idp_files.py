"""Reading `idp_configs/` from small files made here: a broken file stops start-up with the
exact message an operator reads (file, key, what was wanted), and the production checks."""

from __future__ import annotations

from pathlib import Path

import pytest

from broker.errors import ConfigError
from broker.upstream.idp_files import load_registry
from mock_idps.saml_common.keys import load_or_create_pair

JOURNEY = """\
roles:
  - id: professional
    names: {fi: Ammattilainen, sv: Yrkesperson, en: Professional}
    routes: [personal]
routes:
  - id: personal
    kind: personal
    names: {fi: Henkilö, sv: Person, en: Person}
    idps: [suomifi]
"""
SUOMIFI = """\
id: suomifi
route: personal
protocol: saml
names: {fi: Suomi.fi, sv: Suomi.fi, en: Suomi.fi}
saml:
  metadata_url: https://idp.example/metadata
"""
HUS = """\
id: hus
route: organisation
protocol: oidc
names: {fi: HUS, sv: HUS, en: HUS}
oidc:
  issuer: https://hus.example
  client_id: broker
  client_secret: {env: HUS_SECRET}
"""


@pytest.fixture
def configs(tmp_path: Path) -> Path:
    target = tmp_path / "idp_configs"
    target.mkdir()
    (target / "journey.yaml").write_text(JOURNEY, encoding="utf-8")
    (target / "suomifi.yaml").write_text(SUOMIFI, encoding="utf-8")
    (target / "hus.yaml").write_text(HUS, encoding="utf-8")
    (target / "notes.txt").write_text("not an IdP: ignored", encoding="utf-8")
    return target


def refusal(configs: Path, *, development: bool = True) -> str:
    with pytest.raises(ConfigError) as refused:
        load_registry(configs, development=development)
    return str(refused.value)


def test_each_yaml_file_but_the_journey_is_one_idp(configs: Path) -> None:
    registry = load_registry(configs, development=True)
    assert [i.id for i in registry.idps()] == ["hus", "suomifi"]  # by file name
    assert [r.id for r in registry.journey.roles] == ["professional"]


def test_the_files_are_read_as_utf8(configs: Path) -> None:
    text = HUS.replace("fi: HUS,", "fi: Pohjois-Pohjanmaan hyvinvointialue Pöhö,")
    (configs / "hus.yaml").write_bytes(text.encode("utf-8"))
    hus = load_registry(configs, development=True).idp("hus")
    assert hus is not None and hus.names.fi == "Pohjois-Pohjanmaan hyvinvointialue Pöhö"


def test_a_missing_journey_is_named(configs: Path) -> None:
    (configs / "journey.yaml").unlink()
    assert refusal(configs) == (
        f"{configs / 'journey.yaml'}: cannot read (No such file or directory)"
    )


def test_a_file_that_is_not_yaml_is_named(configs: Path) -> None:
    (configs / "hus.yaml").write_text("id: [hus\n", encoding="utf-8")
    message = refusal(configs)
    assert message.startswith(f"{configs / 'hus.yaml'}: not valid YAML (")
    assert "line 2" in message


def test_each_invalid_key_is_listed_on_its_own_line(configs: Path) -> None:
    text = HUS.replace("protocol: oidc", "protocol: pigeon").replace("  client_id: broker\n", "")
    (configs / "hus.yaml").write_text(text + "colour: blue\n", encoding="utf-8")
    lines = refusal(configs).split("\n")
    assert lines[0] == f"{configs / 'hus.yaml'}: invalid configuration"
    assert lines[1:] == [
        "  protocol: Input should be 'oidc' or 'saml'",
        "  oidc.client_id: Field required",
        "  colour: Extra inputs are not permitted",
    ]


def test_a_file_that_is_not_a_mapping_is_refused_at_the_top_level(configs: Path) -> None:
    (configs / "hus.yaml").write_text("- hus\n", encoding="utf-8")
    assert refusal(configs) == (
        f"{configs / 'hus.yaml'}: invalid configuration\n"
        "  (top level): Input should be a valid dictionary or instance of IdP"
    )


def test_the_id_must_be_the_file_name(configs: Path) -> None:
    (configs / "hus.yaml").rename(configs / "helsinki.yaml")
    assert refusal(configs) == (
        f"{configs / 'helsinki.yaml'}: id: expected 'helsinki' (the file name), got 'hus'"
    )


def test_an_inline_secret_is_for_development_only(configs: Path) -> None:
    (configs / "hus.yaml").write_text(HUS.replace("{env: HUS_SECRET}", "{value: s}"), "utf-8")
    hus = load_registry(configs, development=True).idp("hus")
    assert hus is not None and hus.oidc_settings.client_secret.resolve() == "s"
    (configs / "suomifi.yaml").write_text(
        SUOMIFI.replace("metadata_url: https://idp.example/metadata", "metadata_file: m.xml")
    )
    assert refusal(configs, development=False) == (
        f"{configs / 'hus.yaml'}: oidc.client_secret: no inline values in production"
    )


def test_production_wants_a_signing_certificate_for_metadata_from_a_url(configs: Path) -> None:
    assert load_registry(configs, development=True).idp("suomifi") is not None
    assert refusal(configs, development=False) == (
        f"{configs / 'suomifi.yaml'}: saml.metadata_signing_certificates: required in "
        "production with saml.metadata_url (the certificate that signs the IdP's metadata)"
    )


def test_production_accepts_signed_https_configuration(configs: Path) -> None:
    load_or_create_pair(configs, "signer-TEST-ONLY")
    (configs / "suomifi.yaml").write_text(
        SUOMIFI + "  metadata_signing_certificates: signer-TEST-ONLY.crt\n", encoding="utf-8"
    )
    registry = load_registry(configs, development=False)
    suomifi = registry.idp("suomifi")
    assert suomifi is not None
    assert suomifi.saml_settings.metadata_signing_certificates == (
        configs / "signer-TEST-ONLY.crt",
    )


@pytest.mark.parametrize(
    ("old", "new", "key"),
    [
        ("issuer: https://hus.example", "issuer: http://hus.example", "oidc.issuer"),
        (
            "client_id: broker",
            "client_id: broker\n  discovery_url: http://hus.example/d",
            "oidc.discovery_url",
        ),
    ],
)
def test_production_refuses_plain_http_oidc_urls(
    configs: Path, old: str, new: str, key: str
) -> None:
    (configs / "suomifi.yaml").write_text(
        SUOMIFI.replace("metadata_url: https://idp.example/metadata", "metadata_file: m.xml")
    )
    (configs / "hus.yaml").write_text(HUS.replace(old, new), encoding="utf-8")
    assert load_registry(configs, development=True).idp("hus") is not None
    url = new.rpartition(": ")[2]
    assert refusal(configs, development=False) == (
        f"{configs / 'hus.yaml'}: {key}: must be an https URL in production, not {url!r}"
    )


def test_paths_are_read_next_to_the_idp_files_unless_absolute(
    configs: Path, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "elsewhere"
    load_or_create_pair(elsewhere, "signer-TEST-ONLY")
    load_or_create_pair(configs, "near-TEST-ONLY")
    (configs / "suomifi.yaml").write_text(
        SUOMIFI.replace("metadata_url: https://idp.example/metadata", "metadata_file: m.xml")
        + f"  metadata_signing_certificates: [{elsewhere}/signer-TEST-ONLY.crt,"
        " near-TEST-ONLY.crt]\n",
        encoding="utf-8",
    )
    secret = tmp_path / "hus.secret"
    secret.write_text("absolute\n")
    (configs / "hus.yaml").write_text(HUS.replace("{env: HUS_SECRET}", f"{{file: {secret}}}"))
    registry = load_registry(configs, development=True)
    saml = registry.idp("suomifi")
    assert saml is not None
    assert saml.saml_settings.metadata_file == configs / "m.xml"
    assert saml.saml_settings.metadata_signing_certificates == (
        elsewhere / "signer-TEST-ONLY.crt",
        configs / "near-TEST-ONLY.crt",
    )
    hus = registry.idp("hus")
    assert hus is not None and hus.oidc_settings.client_secret.file == secret
    absolute = tmp_path / "abs.xml"
    (configs / "suomifi.yaml").write_text(
        SUOMIFI.replace("metadata_url: https://idp.example/metadata", f"metadata_file: {absolute}")
    )
    saml = load_registry(configs, development=True).idp("suomifi")
    assert saml is not None and saml.saml_settings.metadata_file == absolute


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (None, "cannot read {path} (No such file or directory)"),
        ("not a certificate", "{path} is not a PEM certificate"),
    ],
)
def test_a_bad_signing_certificate_is_named_by_its_place(
    configs: Path, content: str | None, problem: str
) -> None:
    load_or_create_pair(configs, "good-TEST-ONLY")
    bad = configs / "signer.crt"
    if content is not None:
        bad.write_text(content)
    (configs / "suomifi.yaml").write_text(
        SUOMIFI + "  metadata_signing_certificates: [good-TEST-ONLY.crt, signer.crt]\n"
    )
    assert refusal(configs) == (
        f"{configs / 'suomifi.yaml'}: saml.metadata_signing_certificates.1: "
        + problem.format(path=bad)
    )
