"""The OpenID Provider that portals talk to."""
