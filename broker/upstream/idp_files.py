"""Reading `idp_configs/`: `journey.yaml` and one file per IdP into a `Registry`, with the checks
a file gets before it may serve (https in production, signed metadata, readable certificates,
paths relative to the file). A bad file stops start-up (or a reload) with a ConfigError naming
the file, the key and what was wanted."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from cryptography import x509
from pydantic import ValidationError

from broker.errors import ConfigError
from broker.upstream.registry import JOURNEY_FILE, IdP, JourneyConfig, Registry, SAMLUpstream
from broker.urls import is_https


def load_registry(directory: Path, *, development: bool) -> Registry:
    journey = _load(directory / JOURNEY_FILE, JourneyConfig)
    idps: dict[str, IdP] = {}
    for path in sorted(directory.glob("*.yaml")):
        if path.name == JOURNEY_FILE:
            continue
        idp = _load(path, IdP)
        if idp.id != path.stem:
            raise ConfigError(f"{path}: id: expected {path.stem!r} (the file name), got {idp.id!r}")
        if not development and idp.oidc and idp.oidc.client_secret.value is not None:
            raise ConfigError(f"{path}: oidc.client_secret: no inline values in production")
        if not development and idp.saml is not None:
            _refuse_unsigned_metadata_url(path, idp.saml)
        if not development:
            _refuse_plain_http(path, idp)
        idp = _relative_to(idp, directory)
        if idp.saml is not None:
            _check_certificates(path, idp.saml.metadata_signing_certificates)
        idps[idp.id] = idp
    return Registry(journey, idps)


def _refuse_unsigned_metadata_url(path: Path, saml: SAMLUpstream) -> None:
    """Production: metadata fetched from a URL must be signed by a configured certificate
    (whoever answers that URL, or sits between, would otherwise choose the keys the broker
    trusts). A metadata_file may go unsigned: the deployment put it there."""
    if saml.metadata_url is not None and not saml.metadata_signing_certificates:
        raise ConfigError(
            f"{path}: saml.metadata_signing_certificates: required in production with "
            "saml.metadata_url (the certificate that signs the IdP's metadata)"
        )


def _refuse_plain_http(path: Path, idp: IdP) -> None:
    """Production: the broker fetches keys and answers from these URLs server to server, so
    each is https (no loopback exception): whoever is on the path of plain http would otherwise
    serve their own keys. Endpoints found in OIDC discovery are checked when it is fetched."""
    urls = {
        "oidc.issuer": idp.oidc.issuer if idp.oidc else None,
        "oidc.discovery_url": idp.oidc.discovery_url if idp.oidc else None,
        "saml.metadata_url": idp.saml.metadata_url if idp.saml else None,
    }
    for key, url in urls.items():
        if url is not None and not is_https(url):
            raise ConfigError(f"{path}: {key}: must be an https URL in production, not {url!r}")


def _check_certificates(path: Path, certificates: tuple[Path, ...]) -> None:
    """Each metadata signing certificate is a readable PEM X.509 certificate, now rather than
    at the first refresh."""
    for index, certificate in enumerate(certificates):
        key = f"saml.metadata_signing_certificates.{index}"
        try:
            x509.load_pem_x509_certificate(certificate.read_bytes())
        except OSError as exc:
            raise ConfigError(f"{path}: {key}: cannot read {certificate} ({exc.strerror})") from exc
        except ValueError as exc:
            raise ConfigError(f"{path}: {key}: {certificate} is not a PEM certificate") from exc


def _relative_to(idp: IdP, directory: Path) -> IdP:
    """A relative secret, metadata file or certificate is next to the IdP files, not in the
    working directory."""
    if idp.saml is not None:
        saml = idp.saml
        metadata = saml.metadata_file
        certificates = saml.metadata_signing_certificates
        moved_saml = saml.model_copy(
            update={
                "metadata_file": None if metadata is None else _next_to(metadata, directory),
                "metadata_signing_certificates": tuple(
                    _next_to(c, directory) for c in certificates
                ),
            }
        )
        return idp.model_copy(update={"saml": moved_saml})
    if idp.oidc is None:
        return idp
    secret = idp.oidc.client_secret
    if secret.file is None or secret.file.is_absolute():
        return idp
    moved = secret.model_copy(update={"file": directory / secret.file})
    return idp.model_copy(update={"oidc": idp.oidc.model_copy(update={"client_secret": moved})})


def _next_to(path: Path, directory: Path) -> Path:
    return path if path.is_absolute() else directory / path


def _load(path: Path, model: type[Any]) -> Any:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror})") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({exc})") from exc
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        lines = [f"{path}: invalid configuration"]
        for err in exc.errors():
            key = ".".join(str(p) for p in err["loc"]) or "(top level)"
            lines.append(f"  {key}: {err['msg']}")
        raise ConfigError("\n".join(lines)) from exc
