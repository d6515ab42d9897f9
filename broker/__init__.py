"""sote-broker: an async OIDC/SAML identity broker for Finnish social and health-care portals."""

__version__ = "0.1.0"
