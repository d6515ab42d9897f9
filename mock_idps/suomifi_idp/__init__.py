"""A MOCK Suomi.fi e-Identification IdP (SAML 2.0, pysaml2) for the broker's tests and demos.

Signed AuthnRequests from SPs whose metadata it was given; a picker of identification method and
test person (`mock_idps/suomifi_persons.yaml`); signed, encrypted Responses with Suomi.fi's
attribute OIDs and LoA classes; test faults. It imports nothing from `broker`. See `README.md`.
"""

from mock_idps.saml_common.entity import MetadataError
from mock_idps.saml_common.faults import Fault
from mock_idps.suomifi_idp.app import create_app
from mock_idps.suomifi_idp.methods import LOA2, LOA3, Method
from mock_idps.suomifi_idp.persons import PersonsError

__all__ = ["LOA2", "LOA3", "Fault", "MetadataError", "Method", "PersonsError", "create_app"]
