"""The opt-in HTTP endpoint of `citebot run` (CITEBOT_METRICS_ADDRESS): ``/healthz`` for a
supervisor (Docker's HEALTHCHECK, Kubernetes) and ``/metrics`` for Prometheus.

``/healthz`` answers 200 ``ok`` when the gateway is connected, the store answers a read and
the worker pool is not stuck, and 503 with one line per problem otherwise (JSON with
``?format=json``). It is served on the bot's own event loop: a loop that is blocked does not
answer at all, which a health check with a timeout counts as unhealthy too.
"""

from __future__ import annotations

import asyncio
import json
import logging

from aiohttp import web

from bot.discord.host import Host
from bot.discord.metrics import CONTENT_TYPE
from index.errors import CitebotError

log = logging.getLogger(__name__)

STORE_TIMEOUT_S = 5.0  # a read of the store that takes longer counts as a store not answering


class EndpointError(CitebotError):
    """The health and metrics endpoint cannot listen at the address configured."""


async def problems(bot: Host) -> list[str]:
    """What keeps the bot from serving, one sentence each; empty when healthy."""
    if bot.closing:
        return ["citebot is shutting down"]
    found = []
    if not bot.gateway_up():
        found.append("the Discord gateway is not connected")
    try:
        await asyncio.wait_for(bot.worker.quick(bot.core.get_meta, "health"), STORE_TIMEOUT_S)
    except TimeoutError:
        found.append(f"the store did not answer a read within {STORE_TIMEOUT_S:.0f} s")
    except Exception as exc:  # any failure of the read is the answer sought here
        found.append(f"the store cannot be read ({type(exc).__name__}: {exc})")
    waited = bot.worker.stuck_for(bot.settings.health_stuck_s)
    if waited is not None:
        found.append(f"the worker is stuck: a core call has waited {waited:.0f} s for a "
                     f"thread and none finished meanwhile")
    return found


class HealthServer:
    """``/healthz`` and ``/metrics`` for one bot, on the address its settings give."""

    def __init__(self, bot: Host, host: str, port: int) -> None:
        self.bot = bot
        self.host = host
        self.port = port  # the port bound, once started (the settings may ask for any: 0)
        app = web.Application()
        app.router.add_get("/healthz", self.healthz)
        app.router.add_get("/metrics", self.metrics)
        self._runner = web.AppRunner(app, access_log=None)

    async def start(self) -> None:
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        try:
            await site.start()
        except OSError as exc:
            await self._runner.cleanup()
            raise EndpointError(
                f"cannot serve health and metrics at {self.host}:{self.port} "
                f"({exc.strerror or exc}); free that port or change CITEBOT_METRICS_ADDRESS"
            ) from exc
        self.port = self._runner.addresses[0][1]
        log.info("serving /healthz and /metrics at http://%s:%d", self.host, self.port)

    async def stop(self) -> None:
        if self._runner.server is not None:  # started and not stopped yet
            await self._runner.cleanup()

    async def healthz(self, request: web.Request) -> web.Response:
        found = await problems(self.bot)
        status = 503 if found else 200
        if request.query.get("format") == "json":
            body = json.dumps({"healthy": not found, "problems": found})
            return web.Response(status=status, text=body, content_type="application/json")
        text = "\n".join(found) if found else "ok"
        return web.Response(status=status, text=text + "\n")

    async def metrics(self, request: web.Request) -> web.Response:
        body = self.bot.metrics.exposition()
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})
