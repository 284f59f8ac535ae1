"""News that comes in by itself: feed subscriptions polled politely, and links posted in
watched channels, turned into articles through the same fetcher, extraction, limits and
deduplication as an article added by hand.

``politeness`` (one request at a time per host, a global bound, intervals, jitter, backoff),
``entries`` (a feed entry or a posted link to an article: deduplication by GUID, canonical URL
and content; quotas; the intake log) and ``poller`` (subscribing, polling one feed, polling
every due feed, retention). The core calls ``FeedPoller``; nothing here knows Discord.
"""
