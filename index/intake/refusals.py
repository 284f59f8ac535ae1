"""Whether a feed was refused by this server's settings rather than by its own doing.

A feed whose own address uses a port outside CITEBOT_FETCH_ALLOW_PORTS, or whose host is in a
private or loopback range outside CITEBOT_FETCH_ALLOW_NETWORKS, is refused until an operator
changes a setting (say, a cron job run without the variables the bot has): that is not the
feed's fault, so it is reported and tried again later, never counted toward pausing. A refusal
no setting can lift (a redirect inside, a metadata address, another scheme) is the feed's.
The fetcher says which it is (``BlockedURLError.allowed_by`` and ``redirected``): nothing is
looked up again here.
"""

from __future__ import annotations

from index.errors import BlockedURLError


def refusing_setting(exc: BaseException) -> str | None:
    """The setting (its name) that refuses the feed's own address and could allow it; None
    when ``exc`` is no such refusal (another failure, a redirect, an address never fetched)."""
    if not isinstance(exc, BlockedURLError) or exc.redirected or not exc.allowed_by:
        return None
    return exc.allowed_by.partition("=")[0]


def advice(reason: str, setting: str) -> str:
    """The refusal's reason, then what the operator can do."""
    return (f"{reason.rstrip('.')}. A setting refuses it, not the feed: allow it in {setting} "
            "and the next poll works.")
