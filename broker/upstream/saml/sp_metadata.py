"""What the SP metadata says about the service, beyond what pysaml2 writes from its settings:
each RequestedAttribute's FriendlyName and isRequired, the AttributeConsumingService's ServiceName
in every language, and an mdui:UIInfo DisplayName (SAML V2.0 Metadata Extensions for Login and
Discovery User Interface) in every language, as Suomi.fi's operator expects them.

pysaml2 names a requested attribute only by Name and NameFormat, all optional, and a service in
one language: `describe_service` completes the EntityDescriptor it built, before it is signed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from broker.upstream.registry import RequestedAttribute
from broker.upstream.saml.pysaml2 import md, mdui

__all__ = ["attribute_names", "describe_service"]


def attribute_names(requested: Sequence[str | RequestedAttribute]) -> list[str]:
    return [item if isinstance(item, str) else item.name for item in requested]


def describe_service(
    descriptor: Any,
    requested: Sequence[str | RequestedAttribute],
    service_names: Mapping[str, str] | None,
) -> None:
    """Complete the SPSSODescriptor of `descriptor` (a pysaml2 EntityDescriptor) in place."""
    sso = descriptor.spsso_descriptor
    specs = {item.name: item for item in requested if isinstance(item, RequestedAttribute)}
    for service in sso.attribute_consuming_service:
        for element in service.requested_attribute:
            if spec := specs.get(element.name):
                element.friendly_name = spec.friendly_name
                element.is_required = "true" if spec.required else "false"
        if service_names:
            service.service_name = [
                md.ServiceName(text=text, lang=lang) for lang, text in service_names.items()
            ]
    if service_names:
        if sso.extensions is None:
            sso.extensions = md.Extensions()
        names = [mdui.DisplayName(text=text, lang=lang) for lang, text in service_names.items()]
        sso.extensions.add_extension_element(mdui.UIInfo(display_name=names))
