"""Start-up in one place: what the web app (`broker.app`) and the CLI build the broker from.

`store` opens what both need (the store, the signing keys, the IdP registry); `broker` puts a
whole serving broker together (`assemble`); `idps`, `saml` and `accounts` build its parts.
"""

from broker.assembly.broker import Assembled, assemble
from broker.assembly.store import load_idps, make_store, open_keyring

__all__ = ["Assembled", "assemble", "load_idps", "make_store", "open_keyring"]
