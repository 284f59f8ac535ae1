"""Conversations in SQLite: a conversation per (collection, id), its turns (each one JSON
document), and the keys it is found by (its id, and any other an interface gives it, such as
the id of a message that showed one of its answers).

Deleting a conversation deletes its turns and keys with it (foreign keys cascade), so expiry
is one statement over an index on the time each conversation last changed. Times are Unix
seconds (REAL). Every statement is here; ``EmbeddedStorage`` delegates to it
(``ConversationStorage``).
"""

from __future__ import annotations

from index.store import turns
from index.store.embedded.failures import translated
from index.store.embedded.sqlite_tx import Connections
from index.store.protocol import Conversation, Turn

SCHEMA = """
CREATE TABLE IF NOT EXISTS conversations(
    pk INTEGER PRIMARY KEY AUTOINCREMENT, collection TEXT NOT NULL, id TEXT NOT NULL,
    created_at REAL NOT NULL, updated_at REAL NOT NULL, UNIQUE(collection, id));
CREATE INDEX IF NOT EXISTS conversations_idle ON conversations(updated_at);
CREATE TABLE IF NOT EXISTS conversation_turns(
    conversation INTEGER NOT NULL REFERENCES conversations(pk) ON DELETE CASCADE,
    n INTEGER NOT NULL, at REAL NOT NULL, data TEXT NOT NULL,
    PRIMARY KEY(conversation, n)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS conversation_keys(
    collection TEXT NOT NULL, key TEXT NOT NULL,
    conversation INTEGER NOT NULL REFERENCES conversations(pk) ON DELETE CASCADE,
    PRIMARY KEY(collection, key)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS conversation_keys_owner ON conversation_keys(conversation);
"""


class ConversationTables:
    """Every statement about conversations, over the store's connections."""

    def __init__(self, connections: Connections) -> None:
        self.connections = connections

    def get(self, collection: str, key: str) -> Conversation | None:
        """The conversation this key names in the collection, with its turns; None if none."""
        with self.connections.snapshot() as db:
            row = db.execute(
                "SELECT c.pk, c.id, c.updated_at FROM conversation_keys k JOIN conversations c "
                "ON c.pk = k.conversation WHERE k.collection = ? AND k.key = ?",
                (collection, key)).fetchone()
            if row is None:
                return None
            data = [r[0] for r in db.execute(
                "SELECT data FROM conversation_turns WHERE conversation = ? ORDER BY n",
                (row[0],))]
        return turns.conversation(row[1], collection, data, row[2])

    def append(self, collection: str, conversation_id: str, turn: Turn, *,
               max_turns: int) -> None:
        """Add a turn (creating the conversation), keeping only the last ``max_turns``."""
        with self.connections.write() as db:
            db.execute(
                "INSERT INTO conversations(collection, id, created_at, updated_at) "
                "VALUES (?, ?, ?, ?) ON CONFLICT(collection, id) "
                "DO UPDATE SET updated_at = max(updated_at, excluded.updated_at)",
                (collection, conversation_id, turn.at, turn.at))
            pk = db.execute("SELECT pk FROM conversations WHERE collection = ? AND id = ?",
                            (collection, conversation_id)).fetchone()[0]
            db.execute("INSERT OR REPLACE INTO conversation_keys(collection, key, conversation) "
                       "VALUES (?, ?, ?)", (collection, conversation_id, pk))
            n = db.execute("SELECT coalesce(max(n), 0) + 1 FROM conversation_turns "
                           "WHERE conversation = ?", (pk,)).fetchone()[0]
            db.execute("INSERT INTO conversation_turns(conversation, n, at, data) "
                       "VALUES (?, ?, ?, ?)", (pk, n, turn.at, turns.encode(turn)))
            db.execute("DELETE FROM conversation_turns WHERE conversation = ? AND n <= ?",
                       (pk, turns.last_dropped(n, max_turns)))

    def link(self, collection: str, conversation_id: str, key: str) -> None:
        """Let ``key`` name the conversation too (a no-op if the conversation is gone)."""
        with self.connections.write() as db:
            db.execute(
                "INSERT OR REPLACE INTO conversation_keys(collection, key, conversation) "
                "SELECT collection, ?, pk FROM conversations WHERE collection = ? AND id = ?",
                (key, collection, conversation_id))

    def expire(self, before: float) -> int:
        """Delete every conversation last changed before ``before``; how many."""
        with self.connections.write() as db:
            return int(db.execute("DELETE FROM conversations WHERE updated_at < ?",
                                  (before,)).rowcount)


class ConversationStorage:
    """The conversation part of the ``Storage`` protocol for a backend holding
    ``conversation_tables``: each method delegates, and low-level failures leave it as
    ``StorageError`` (``failures``)."""

    conversation_tables: ConversationTables

    @translated("read the conversation")
    def conversation(self, collection: str, key: str) -> Conversation | None:
        """The conversation ``key`` names (its id, or another key linked to it), if any."""
        return self.conversation_tables.get(collection, key)

    @translated("save the conversation", changes=True)
    def append_turn(self, collection: str, conversation_id: str, turn: Turn, *,
                    max_turns: int) -> None:
        """Add a turn, creating the conversation; only the last ``max_turns`` are kept."""
        self.conversation_tables.append(collection, conversation_id, turn, max_turns=max_turns)

    @translated("save the conversation", changes=True)
    def link_conversation(self, collection: str, conversation_id: str, key: str) -> None:
        """Let another key (a message showing one of its answers) name the conversation."""
        self.conversation_tables.link(collection, conversation_id, key)

    @translated("expire old conversations", changes=True)
    def expire_conversations(self, before: float) -> int:
        """Delete conversations idle since before ``before`` (seconds); how many."""
        return self.conversation_tables.expire(before)
