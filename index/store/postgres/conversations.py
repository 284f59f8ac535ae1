"""Conversations in PostgreSQL: the statements of the embedded store's
``conversation_tables`` for this backend (same behaviour; turns stored as the same JSON
documents, ``index.store.turns``). Keyed by collection first.

Appending a turn takes the conversation's row first (its upsert), so processes appending to
one conversation at once number their turns one after the other. Conversations are read and
written on the primary: the next question of a conversation needs the turn just written.
"""

from __future__ import annotations

from index.store import turns
from index.store.postgres.connections import Connections, translated
from index.store.protocol import Conversation, Turn


class PostgresConversations:
    """The conversation part of the ``Storage`` protocol."""

    db: Connections

    @translated("read the conversation")
    def conversation(self, collection: str, key: str) -> Conversation | None:
        """The conversation ``key`` names (its id, or another key linked to it), if any."""
        with self.db.primary.connection() as db, db.transaction():
            row = db.execute(
                "SELECT c.id, c.updated_at FROM conversation_keys k JOIN conversations c ON "
                "c.collection = k.collection AND c.id = k.conversation_id "
                "WHERE k.collection = %s AND k.key = %s", (collection, key)).fetchone()
            if row is None:
                return None
            data = [r[0] for r in db.execute(
                "SELECT data FROM conversation_turns WHERE collection = %s AND "
                "conversation_id = %s ORDER BY n", (collection, row[0]))]
        return turns.conversation(row[0], collection, data, row[1])

    @translated("save the conversation", changes=True)
    def append_turn(self, collection: str, conversation_id: str, turn: Turn, *,
                    max_turns: int) -> None:
        """Add a turn, creating the conversation; only the last ``max_turns`` are kept."""
        with self.db.write() as db:
            db.execute(
                "INSERT INTO conversations(collection, id, created_at, updated_at) VALUES "
                "(%s, %s, %s, %s) ON CONFLICT (collection, id) DO UPDATE SET updated_at = "
                "greatest(conversations.updated_at, excluded.updated_at)",
                (collection, conversation_id, turn.at, turn.at))
            db.execute(
                "INSERT INTO conversation_keys(collection, key, conversation_id) VALUES "
                "(%s, %s, %s) ON CONFLICT (collection, key) DO UPDATE SET conversation_id = "
                "excluded.conversation_id", (collection, conversation_id, conversation_id))
            row = db.execute(
                "INSERT INTO conversation_turns(collection, conversation_id, n, at, data) "
                "SELECT %s, %s, coalesce(max(n), 0) + 1, %s, %s FROM conversation_turns "
                "WHERE collection = %s AND conversation_id = %s RETURNING n",
                (collection, conversation_id, turn.at, turns.encode(turn), collection,
                 conversation_id)).fetchone()
            assert row is not None
            db.execute("DELETE FROM conversation_turns WHERE collection = %s AND "
                       "conversation_id = %s AND n <= %s",
                       (collection, conversation_id, turns.last_dropped(int(row[0]), max_turns)))

    @translated("save the conversation", changes=True)
    def link_conversation(self, collection: str, conversation_id: str, key: str) -> None:
        """Let another key (a message showing one of its answers) name the conversation."""
        with self.db.write() as db:
            db.execute(
                "INSERT INTO conversation_keys(collection, key, conversation_id) "
                "SELECT collection, %s, id FROM conversations WHERE collection = %s AND id = %s "
                "ON CONFLICT (collection, key) DO UPDATE SET conversation_id = "
                "excluded.conversation_id", (key, collection, conversation_id))

    @translated("expire old conversations", changes=True)
    def expire_conversations(self, before: float) -> int:
        """Delete conversations idle since before ``before`` (seconds); how many."""
        with self.db.write() as db:
            return int(db.execute("DELETE FROM conversations WHERE updated_at < %s",
                                  (before,)).rowcount)
