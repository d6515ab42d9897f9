"""A MOCK organisation OpenID Provider that plays every connected organisation at once.

One issuer per organisation (`{base_url}/hus`, `{base_url}/oys`, ...), each with its own RS256
key, test users from `mock_idps/test_users.yaml`, an IdP session, and test faults for the broker's
negative tests. It imports nothing from `broker`: it exists to prove that the broker interoperates
with an independent OP. See `README.md` in this directory.
"""

from mock_idps.oidc_idp.app import create_app
from mock_idps.oidc_idp.config import Client, ConfigError
from mock_idps.oidc_idp.faults import Fault

__all__ = ["Client", "ConfigError", "Fault", "create_app"]
