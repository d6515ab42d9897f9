"""idp_configs/: the committed files load, and bad files stop start-up naming file and key."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from broker.errors import ConfigError
from broker.upstream.idp_files import load_registry
from broker.upstream.registry import HIGH_ASSURANCE
from mock_idps.saml_common.keys import load_or_create_pair

REPO_CONFIGS = Path(__file__).parents[2] / "idp_configs"
SEED_ORGANISATIONS = {"hus", "pshva", "oys", "pirha", "tyks", "lshp", "soite", "pajjatha"}


@pytest.fixture
def configs(tmp_path: Path) -> Path:
    target = tmp_path / "idp_configs"
    shutil.copytree(REPO_CONFIGS, target)
    return target


def https_configs(configs: Path) -> Path:
    """`configs` with the mocks' http URLs made https, as production wants."""
    for path in configs.glob("*.yaml"):
        path.write_text(path.read_text().replace("http://127.0.0.1", "https://127.0.0.1"))
    return configs


def signed_metadata_configs(configs: Path) -> Path:
    """`https_configs` with a metadata signing certificate (made now, next to the IdP files) for
    every SAML IdP whose metadata comes from a URL, as production wants."""
    https_configs(configs)
    load_or_create_pair(configs, "metadata-signer-TEST-ONLY")
    for path in configs.glob("*.yaml"):
        text = path.read_text()
        if "  metadata_url:" in text:
            text = text.replace(
                "saml:\n", "saml:\n  metadata_signing_certificates: metadata-signer-TEST-ONLY.crt\n"
            )
            path.write_text(text)
    return configs


def test_committed_configs_hold_the_seed_organisations_in_two_groups(configs: Path) -> None:
    registry = load_registry(signed_metadata_configs(configs), development=False)
    organisations = [i for i in registry.idps() if i.route == "organisation"]
    assert {i.id for i in organisations} == SEED_ORGANISATIONS
    assert [i.id for i in registry.idps() if i.route == "personal"] == ["suomifi"]
    groups = {i.group for i in organisations}
    assert groups == {"yliopistosairaanhoitopiirit", "hyvinvointialueet"}
    professional = registry.role("professional")
    assert professional is not None
    assert professional.names.fi == "Olen ammattilainen"
    for idp in organisations:
        assert idp.names.fi and idp.names.sv and idp.names.en
        if idp.oidc is not None:
            assert idp.oidc.client_secret.env  # never inline in the committed files
    on_saml = {i.id: i.group for i in organisations if i.saml is not None}
    assert on_saml == {
        "oys": "yliopistosairaanhoitopiirit",
        "tyks": "yliopistosairaanhoitopiirit",
        "soite": "hyvinvointialueet",
    }
    for org_id in on_saml:
        idp = registry.idp(org_id)
        assert idp is not None and idp.saml_settings.name_id_format == "persistent"
    suomifi = registry.idp("suomifi")
    assert suomifi is not None and suomifi.saml_settings.name_id_format == "transient"


def test_email_domain_finds_the_organisation() -> None:
    registry = load_registry(REPO_CONFIGS, development=True)
    found = registry.idp_for_email("Maija.Meikalainen@HUS.fi")
    assert found is not None and found.id == "hus"
    assert registry.idp_for_email("someone@gmail.com") is None
    assert registry.idp_for_email("not-an-address") is None


def test_file_name_must_match_id(configs: Path) -> None:
    (configs / "hus.yaml").rename(configs / "helsinki.yaml")
    with pytest.raises(ConfigError, match=r"helsinki\.yaml: id"):
        load_registry(configs, development=True)


def test_bad_value_names_file_and_key(configs: Path) -> None:
    text = (configs / "tyks.yaml").read_text().replace("protocol: saml", "protocol: carrier-pigeon")
    (configs / "tyks.yaml").write_text(text)
    with pytest.raises(ConfigError) as refused:
        load_registry(configs, development=True)
    assert "tyks.yaml" in str(refused.value)
    assert "protocol" in str(refused.value)


def test_every_committed_idp_says_whether_it_is_trusted_for_the_identity_code(
    configs: Path,
) -> None:
    """Explicitly, in each file (not by the default), and only Suomi.fi is, at loa3/high."""
    for path in configs.glob("*.yaml"):
        if path.name != "journey.yaml":
            assert "\ntrust_identity_code: " in path.read_text(), path.name
    registry = load_registry(configs, development=True)
    assert [i.id for i in registry.idps() if i.trust_identity_code] == ["suomifi"]
    suomifi = registry.idp("suomifi")
    assert suomifi is not None and suomifi.identity_code_acr == HIGH_ASSURANCE


def test_trust_in_an_identity_code_that_is_not_mapped_stops_start_up(configs: Path) -> None:
    text = (configs / "hus.yaml").read_text()
    (configs / "hus.yaml").write_text(
        text.replace("trust_identity_code: false", "trust_identity_code: true")
    )
    with pytest.raises(
        ConfigError, match=r"hus\.yaml(.|\n)*trust_identity_code: true needs claims\.hetu"
    ):
        load_registry(configs, development=True)


def test_unknown_group_reference_is_refused(configs: Path) -> None:
    text = (
        (configs / "oys.yaml")
        .read_text()
        .replace("group: yliopistosairaanhoitopiirit", "group: nowhere")
    )
    (configs / "oys.yaml").write_text(text)
    with pytest.raises(ConfigError, match="unknown group"):
        load_registry(configs, development=True)


def test_inline_secret_is_refused_in_production(configs: Path) -> None:
    text = (
        (configs / "hus.yaml")
        .read_text()
        .replace("env: SOTE_BROKER_IDP_HUS_SECRET", "value: inline-secret")
    )
    (configs / "hus.yaml").write_text(text)
    assert load_registry(configs, development=True).idp("hus") is not None
    with pytest.raises(ConfigError, match="inline"):
        load_registry(configs, development=False)


def test_missing_secret_environment_variable_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SOTE_BROKER_IDP_HUS_SECRET", raising=False)
    idp = load_registry(REPO_CONFIGS, development=True).idp("hus")
    assert idp is not None
    with pytest.raises(ConfigError, match="SOTE_BROKER_IDP_HUS_SECRET"):
        idp.oidc.client_secret.resolve()


def test_relative_secret_file_is_read_next_to_the_idp_files(configs: Path) -> None:
    (configs / "hus.secret").write_text("from-a-file\n")
    text = (
        (configs / "hus.yaml")
        .read_text()
        .replace("env: SOTE_BROKER_IDP_HUS_SECRET", "file: hus.secret")
    )
    (configs / "hus.yaml").write_text(text)
    idp = load_registry(signed_metadata_configs(configs), development=False).idp("hus")
    assert idp is not None
    assert idp.oidc.client_secret.resolve() == "from-a-file"


def test_saml_idp_config_needs_its_own_section(configs: Path) -> None:
    (configs / "suomifi.yaml").write_text(
        "id: suomifi\nroute: personal\nprotocol: saml\n"
        "names: {fi: Suomi.fi, sv: Suomi.fi, en: Suomi.fi}\n"
        "saml:\n  metadata_file: suomifi-metadata.xml\n"
    )
    registry = load_registry(configs, development=True)
    idp = registry.idp("suomifi")
    assert idp is not None and idp.saml is not None
    assert idp.saml.metadata_file == configs / "suomifi-metadata.xml"  # next to the IdP files
    (configs / "suomifi.yaml").write_text(
        "id: suomifi\nroute: personal\nprotocol: saml\n"
        "names: {fi: Suomi.fi, sv: Suomi.fi, en: Suomi.fi}\n"
    )
    with pytest.raises(ConfigError, match="saml section"):
        load_registry(configs, development=True)


def test_requested_attributes_are_names_or_described(configs: Path) -> None:
    path = configs / "suomifi.yaml"
    text = path.read_text().replace(
        '    - {name: "urn:oid:2.5.4.3", friendly_name: cn}', '    - "urn:oid:2.5.4.3"'
    )
    path.write_text(text)
    saml = load_registry(configs, development=True).idp("suomifi")
    assert saml is not None
    wanted = {a.name: a for a in saml.saml_settings.requested_attributes}
    assert (wanted["urn:oid:2.5.4.3"].friendly_name, wanted["urn:oid:2.5.4.3"].required) == (
        None,
        False,
    )
    hetu = wanted["urn:oid:1.2.246.21"]
    assert (hetu.friendly_name, hetu.required) == ("nationalIdentificationNumber", True)
    path.write_text(text.replace("required: true", "required: true, mandatory: yes"))
    with pytest.raises(ConfigError, match=r"(?s)suomifi\.yaml.*requested_attributes.0.mandatory"):
        load_registry(configs, development=True)


def test_production_refuses_a_metadata_url_without_signing_certificates(configs: Path) -> None:
    """The committed files point at the mocks, unsigned: fine in development only."""
    assert load_registry(configs, development=True).idp("suomifi") is not None
    with pytest.raises(ConfigError, match=r"\.yaml: saml\.metadata_signing_certificates: requ"):
        load_registry(https_configs(configs), development=False)


def test_an_unsigned_metadata_file_is_allowed_in_production(configs: Path) -> None:
    signed_metadata_configs(configs)
    path = configs / "suomifi.yaml"
    text = path.read_text()
    text = text.replace("  metadata_signing_certificates: metadata-signer-TEST-ONLY.crt\n", "")
    path.write_text(
        text.replace("metadata_url: https://127.0.0.1:8003/metadata", "metadata_file: x")
    )
    idp = load_registry(configs, development=False).idp("suomifi")
    assert idp is not None and idp.saml_settings.metadata_signing_certificates == ()


def test_signing_certificates_are_read_next_to_the_idp_files(configs: Path) -> None:
    load_or_create_pair(configs, "old-TEST-ONLY")
    load_or_create_pair(configs / "keys", "new-TEST-ONLY")
    path = configs / "suomifi.yaml"
    certificates = "[old-TEST-ONLY.crt, keys/new-TEST-ONLY.crt]"
    path.write_text(
        path.read_text().replace(
            "saml:\n", f"saml:\n  metadata_signing_certificates: {certificates}\n"
        )
    )
    idp = load_registry(configs, development=True).idp("suomifi")
    assert idp is not None
    assert idp.saml_settings.metadata_signing_certificates == (
        configs / "old-TEST-ONLY.crt",
        configs / "keys" / "new-TEST-ONLY.crt",
    )


@pytest.mark.parametrize(
    ("content", "problem"), [(None, "cannot read"), ("not a certificate", "not a PEM certificate")]
)
def test_a_bad_signing_certificate_stops_start_up(
    configs: Path, content: str | None, problem: str
) -> None:
    if content is not None:
        (configs / "signer.crt").write_text(content)
    path = configs / "suomifi.yaml"
    path.write_text(
        path.read_text().replace("saml:\n", "saml:\n  metadata_signing_certificates: signer.crt\n")
    )
    with pytest.raises(ConfigError) as refused:
        load_registry(configs, development=True)
    message = str(refused.value)
    assert "suomifi.yaml: saml.metadata_signing_certificates.0" in message and problem in message


@pytest.mark.parametrize(
    ("file", "key", "plain"),
    [
        ("hus.yaml", "oidc.issuer", "issuer: http://idp.example.org/hus"),
        ("hus.yaml", "oidc.discovery_url", "discovery_url: http://idp.example.org/hus/.wk"),
        ("oys.yaml", "saml.metadata_url", "metadata_url: http://idp.example.org/oys/metadata"),
        ("suomifi.yaml", "saml.metadata_url", "metadata_url: file:///etc/passwd"),
    ],
)
def test_production_refuses_plain_http_upstream_urls(
    configs: Path, file: str, key: str, plain: str
) -> None:
    """Whoever is on the path of plain http would serve the keys the broker trusts."""
    signed_metadata_configs(configs)
    path = configs / file
    name = plain.split(":")[0]
    lines = [
        line for line in path.read_text().splitlines() if not line.strip().startswith(name + ":")
    ]
    section = "oidc:" if key.startswith("oidc") else "saml:"
    text = "\n".join(lines).replace(section, f"{section}\n  {plain}", 1) + "\n"
    path.write_text(text)
    assert load_registry(configs, development=True).idp(path.stem) is not None
    with pytest.raises(ConfigError) as refused:
        load_registry(configs, development=False)
    assert f"{path}: {key}: must be an https URL" in str(refused.value)
