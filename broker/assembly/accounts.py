"""The account stage of the journey: accounts, e-mail codes, link notices, the catalogue."""

from __future__ import annotations

from collections.abc import Callable

from broker.accounts.catalogue import load_catalogue
from broker.accounts.email_codes import CODE_TTL, EmailCodes
from broker.accounts.link_notice import LinkNotices
from broker.accounts.mail import SMTPMailSender
from broker.accounts.service import Accounts
from broker.clock import Clock
from broker.journey.registration import AccountStage
from broker.rate_limits import RateLimiter
from broker.settings import Settings
from broker.store.base import Store
from broker.ui import Renderer
from broker.upstream.registry import Registry


async def account_stage(
    settings: Settings,
    store: Store,
    clock: Clock,
    renderer: Renderer,
    limiter: RateLimiter,
    key: bytes,
    registry: Callable[[], Registry],
) -> AccountStage:
    """Accounts, the e-mail codes (a bounded number to one address) and link notices (over
    SMTP, in the person's language) and the catalogue of partner organisations (seeded from the
    bundled one on first start)."""

    def compose(code: str, language: str) -> tuple[str, str]:
        minutes = int(CODE_TTL // 60)
        return (
            renderer.text(language, "mail.code.subject", code=code),
            renderer.text(language, "mail.code.body", code=code, minutes=minutes),
        )

    def compose_linked(idp_id: str, language: str, when: str) -> tuple[str, str]:
        idp = registry().idp(idp_id)
        route = idp.names.get(language) if idp is not None else idp_id
        return (
            renderer.text(language, "mail.linked.subject"),
            renderer.text(language, "mail.linked.body", route=route, when=when),
        )

    async def throttle(email: str) -> None:
        await limiter.hit("email_code_address", email, settings.limits.email_codes_per_address)

    sender = SMTPMailSender(settings.smtp)
    codes = EmailCodes(store.accounts, sender, compose, clock, key, throttle=throttle)
    notices = LinkNotices(sender, compose_linked)
    catalogue = await load_catalogue(store.accounts, clock.now())
    return AccountStage(Accounts(store.accounts, clock, notices), codes, catalogue)
