"""MOCK organisation SAML 2.0 IdPs (pysaml2) that play the organisations on SAML at once.

One IdP entity per organisation (`{base_url}/{org}/idp`, metadata at `{base_url}/{org}/metadata`),
each with its own key, test users (`mock_idps/org_saml_users.yaml`), IdP session, attribute names
(AD FS claim types or `urn:oid:` names), signing (Response or Assertion) and encryption; persistent
NameIDs, PasswordProtectedTransport, ForceAuthn, test faults. It imports nothing from `broker`.
See `README.md` in this directory.
"""

from mock_idps.org_saml_idp.app import create_app
from mock_idps.org_saml_idp.config import ConfigError
from mock_idps.saml_common.entity import MetadataError
from mock_idps.saml_common.faults import Fault

__all__ = ["ConfigError", "Fault", "MetadataError", "create_app"]
