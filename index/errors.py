"""Domain errors of citebot's core.

Interfaces (the command-line tool, the Discord bot) translate these into messages a person can
act on; anything else is unexpected and is logged once by the interface's global handler.

    CitebotError
    ├── ArticleError                  an article could not be added
    │   ├── FetchError                a URL could not be fetched
    │   │   ├── BlockedURLError       scheme, port or address is not allowed (SSRF guard)
    │   │   ├── FetchTimeoutError     the server was too slow
    │   │   └── HTTPStatusError       the server answered with an error status
    │   ├── TooLargeError             the document is over the size limit
    │   ├── UnsupportedContentError   not HTML, plain text or Markdown
    │   └── ExtractionError           no usable article text could be extracted
    ├── FeedError                     no feed at that address, or the feed cannot be read
    ├── LimitReachedError             a collection's quota (feeds, articles a day) is used up
    ├── NotFoundError                 no such article (or feed) in this collection
    ├── InvalidNameError              a collection name or conversation id breaks its rule
    ├── ShardTakenError               another process on this store already serves that shard
    ├── IndexMismatchError            the vector index was built with another model
    ├── MissingDependencyError        a package citebot needs is not installed
    └── StorageError                  the data directory could not be read or written
        ├── DamagedStoreError         data the store held is missing or damaged; nothing changed
        ├── DataRefusedError          the database refused a value (too long, invalid): no outage
        └── SchemaError               the database's schema is newer than this citebot, or busy
"""

from __future__ import annotations


class CitebotError(Exception):
    """Base of every error citebot reports to a person."""


class ArticleError(CitebotError):
    """An article could not be added."""


class ShardTakenError(CitebotError):
    """Another citebot process on the same store already serves one of this process's shards."""


class FetchError(ArticleError):
    """A URL could not be fetched."""


class BlockedURLError(FetchError):
    """The URL's scheme, port or address is not allowed."""

    def __init__(self, message: str, *, allowed_by: str | None = None,
                 redirected: bool = False) -> None:
        super().__init__(message)
        #: the setting that would allow it, as ``CITEBOT_NAME=value``: for the operator (the
        #: command line says it); a member on Discord gets the message alone
        self.allowed_by = allowed_by
        #: whether what was refused is where the link redirected, not the link itself
        self.redirected = redirected


class FetchTimeoutError(FetchError):
    """The server did not answer in time."""


class HTTPStatusError(FetchError):
    """The server answered with an error status."""

    def __init__(self, message: str, *, status: int | None = None,
                 retry_after: float | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after  # seconds, when the server said (429, 503)


class TooLargeError(ArticleError):
    """The document is larger than the configured limit."""


class UnsupportedContentError(ArticleError):
    """The document is not HTML, plain text or Markdown."""


class ExtractionError(ArticleError):
    """No usable article text could be extracted."""


class FeedError(CitebotError):
    """No feed at that address, or the feed cannot be read."""


class LimitReachedError(CitebotError):
    """A collection's quota (feeds, new articles a day) is used up."""


class NotFoundError(CitebotError):
    """No such article (or feed) in this collection."""


class InvalidNameError(CitebotError):
    """A collection name or a conversation id breaks its rule (index/names.py)."""


class IndexMismatchError(CitebotError):
    """The vector index was built with another embedding model."""


class MissingDependencyError(CitebotError):
    """A package citebot needs is not installed."""


class StorageError(CitebotError):
    """The data directory could not be read or written."""


class DamagedStoreError(StorageError):
    """Data the store held is missing or damaged; citebot refused to go on and changed nothing."""


class DataRefusedError(StorageError):
    """The database refused a value as too long or invalid; the server is fine, nothing changed."""


class SchemaError(StorageError):
    """The database's schema is newer than this citebot understands (or cannot be migrated)."""
