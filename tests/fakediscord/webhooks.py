"""Interaction callbacks and interaction webhooks (followups, @original), as Discord runs them.

Rules enforced, each of which a real bot can trip over:
- one callback per interaction (400, code 40060), within `ack_deadline` seconds (404, 10062);
- the callback type must suit the interaction (no type 7 for a slash command, ...);
- followups need an acknowledged interaction (404, 10015);
- the first followup after a type 5 defer fills the "thinking" original instead of adding one.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from aiohttp import web

from .limits import choice_errors, message_errors
from .records import EPHEMERAL, LOADING, InteractionRecord, MessageRecord, OutboundRequest
from .rest import API_PREFIX, FILES, RECORD, error, invalid_body, json_response, no_content

if TYPE_CHECKING:
    from .server import FakeDiscord

PING, COMMAND, COMPONENT, AUTOCOMPLETE, MODAL_SUBMIT = 1, 2, 3, 4, 5
MESSAGE, DEFERRED, DEFERRED_UPDATE, UPDATE, CHOICES, MODAL = 4, 5, 6, 7, 8, 9

#: Which callback types each interaction type accepts.
ALLOWED_CALLBACKS = {
    COMMAND: {MESSAGE, DEFERRED, MODAL},
    COMPONENT: {MESSAGE, DEFERRED, DEFERRED_UPDATE, UPDATE, MODAL},
    AUTOCOMPLETE: {CHOICES},
    MODAL_SUBMIT: {MESSAGE, DEFERRED, DEFERRED_UPDATE, UPDATE},
}


class Webhooks:
    def __init__(self, fake: FakeDiscord) -> None:
        self.fake = fake

    def routes(self) -> list[web.RouteDef]:
        p = API_PREFIX
        msg = p + "/webhooks/{app}/{token}/messages/{message}"
        return [
            web.post(p + "/interactions/{id}/{token}/callback", self.callback),
            web.post(p + "/webhooks/{app}/{token}", self.execute),
            web.get(msg, self.get_message),
            web.patch(msg, self.edit_message),
            web.delete(msg, self.delete_message),
        ]

    # -- callback ---------------------------------------------------------------------------

    async def callback(self, request: web.Request) -> web.Response:
        fake = self.fake
        record: OutboundRequest = request[RECORD]
        record.kind = "callback"
        rec = fake.interactions.get(int(request.match_info["id"]))
        if rec is None or rec.token != request.match_info["token"]:
            return error(404, 10062, "Unknown interaction")
        if rec.callback_type is not None:
            return error(400, 40060, "Interaction has already been acknowledged.")
        late = (
            fake.ack_deadline is not None and time.monotonic() - rec.injected_at > fake.ack_deadline
        )
        if late:
            return error(404, 10062, "Unknown interaction")
        body = record.body or {}
        ctype, data = body.get("type"), body.get("data") or {}
        problem = self._callback_errors(rec, ctype, data, len(request[FILES]))
        if problem is not None:
            return problem
        rec.callback_type, rec.callback_body, rec.acked_at = ctype, body, time.monotonic()
        message = await self._apply_callback(rec, ctype, data, request[FILES])
        rec.mark_responded()
        if request.query.get("with_response") not in ("1", "true", "True"):
            return no_content()
        return json_response(self._callback_response(rec, ctype, message))

    def _callback_errors(
        self, rec: InteractionRecord, ctype: Any, data: dict[str, Any], files: int
    ) -> web.Response | None:
        if ctype not in ALLOWED_CALLBACKS.get(rec.type, set()):
            return error(400, 50035, f"Invalid Form Body: callback type {ctype} for {rec.type}")
        if not self.fake.validate:
            return None
        if ctype in (MESSAGE, UPDATE):
            errors = message_errors(data, edit=ctype == UPDATE, files=files)
        elif ctype == CHOICES:
            errors = choice_errors(data)
        elif ctype == MODAL:
            errors = [] if data.get("custom_id") and data.get("title") else ["custom_id, title"]
        else:
            errors = []
        return invalid_body(errors) if errors else None

    async def _apply_callback(
        self, rec: InteractionRecord, ctype: int, data: dict[str, Any], files: list[Any]
    ) -> MessageRecord | None:
        fake = self.fake
        if ctype == MESSAGE:
            rec.original = await fake.create_message(
                rec.channel_id, data, interaction=rec, files=files
            )
            return rec.original
        if ctype == DEFERRED:
            flags = LOADING | (int(data.get("flags", 0)) & EPHEMERAL)
            rec.original = await fake.create_message(
                rec.channel_id, {"content": "", "flags": flags}, interaction=rec
            )
            return rec.original
        if ctype == UPDATE and rec.target is not None:
            await fake.edit_message(rec.target, data, files=files)
            rec.original = rec.target
            return rec.target
        if ctype == CHOICES:
            rec.choices = list(data.get("choices", []))
        elif ctype == MODAL:
            rec.modal = data
        return None

    def _callback_response(
        self, rec: InteractionRecord, ctype: int, message: MessageRecord | None
    ) -> dict[str, Any]:
        interaction: dict[str, Any] = {"id": str(rec.id), "type": rec.type}
        resource: dict[str, Any] = {"type": ctype}
        if message is not None:
            interaction["response_message_id"] = str(message.id)
            interaction["response_message_loading"] = message.loading
            interaction["response_message_ephemeral"] = message.ephemeral
            resource["message"] = message.payload
        return {"interaction": interaction, "resource": resource}

    # -- followups and @original ------------------------------------------------------------

    def _interaction(self, request: web.Request) -> InteractionRecord | None:
        if request.match_info["app"] != str(self.fake.application_id):
            return None
        rec = self.fake.interaction_by_token(request.match_info["token"])
        return rec if rec is not None and rec.callback_type is not None else None

    async def execute(self, request: web.Request) -> web.Response:
        record: OutboundRequest = request[RECORD]
        record.kind = "followup"
        rec = self._interaction(request)
        if rec is None:
            return error(404, 10015, "Unknown Webhook")
        body, files = record.body or {}, request[FILES]
        errors = message_errors(body, files=len(files)) if self.fake.validate else []
        if errors:
            return invalid_body(errors)
        original = rec.original
        if rec.callback_type == DEFERRED and original is not None and original.loading:
            await self.fake.edit_message(original, body, files=files, finish_loading=True)
            message = original
        else:
            message = await self.fake.create_message(
                rec.channel_id, body, interaction=rec, files=files
            )
            rec.followups.append(message)
        rec.mark_responded()
        if request.query.get("wait") not in ("1", "true", "True"):
            return no_content()
        return json_response(message.payload)

    def _target(self, rec: InteractionRecord, which: str) -> MessageRecord | None:
        if which == "@original":
            if rec.original is None and rec.callback_type == DEFERRED_UPDATE:
                rec.original = rec.target
            return rec.original
        found = [m for m in [rec.original, *rec.followups] if m is not None and m.id == int(which)]
        return found[0] if found else None

    async def get_message(self, request: web.Request) -> web.Response:
        rec = self._interaction(request)
        msg = None if rec is None else self._target(rec, request.match_info["message"])
        if msg is None or msg.deleted_at is not None:
            return error(404, 10008, "Unknown Message")
        return json_response(msg.payload)

    async def edit_message(self, request: web.Request) -> web.Response:
        record: OutboundRequest = request[RECORD]
        record.kind = "webhook_edit"
        rec = self._interaction(request)
        msg = None if rec is None else self._target(rec, request.match_info["message"])
        if rec is None or msg is None or msg.deleted_at is not None:
            return error(404, 10008, "Unknown Message")
        body, files = record.body or {}, request[FILES]
        errors = message_errors(body, edit=True) if self.fake.validate else []
        if errors:
            return invalid_body(errors)
        await self.fake.edit_message(msg, body, files=files, finish_loading=True)
        rec.mark_responded()
        return json_response(msg.payload)

    async def delete_message(self, request: web.Request) -> web.Response:
        request[RECORD].kind = "delete"
        rec = self._interaction(request)
        msg = None if rec is None else self._target(rec, request.match_info["message"])
        if rec is None or msg is None or msg.deleted_at is not None:
            return error(404, 10008, "Unknown Message")
        await self.fake.delete_message(msg)
        rec.notifier.notify()
        return no_content()
