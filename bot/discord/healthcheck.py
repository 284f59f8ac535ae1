"""`python -m bot.discord.healthcheck`: asks the running bot's /healthz (at
CITEBOT_METRICS_ADDRESS) and exits 0 when it is healthy, 1 with the reason otherwise. The
Docker image's HEALTHCHECK runs it; it imports only the settings, so that a check every 30 s
stays cheap."""

from __future__ import annotations

import sys
import urllib.error
import urllib.request

from pydantic import ValidationError
from pydantic_settings import SettingsError

from config.settings import Settings

TIMEOUT_S = 5.0
WILDCARDS = {"0.0.0.0": "127.0.0.1", "::": "::1"}  # listening everywhere: ask over loopback


def health_url(host: str, port: int) -> str:
    """Where /healthz of a bot listening at (host, port) is asked."""
    host = WILDCARDS.get(host, host)
    return f"http://{f'[{host}]' if ':' in host else host}:{port}/healthz"


def check(settings: Settings) -> tuple[bool, str]:
    """(healthy, what the bot said or why it could not be asked)."""
    endpoint = settings.metrics_endpoint
    if endpoint is None or endpoint[1] == 0:
        return False, ("CITEBOT_METRICS_ADDRESS does not give a port, so there is no /healthz "
                       "to ask; set it, e.g. CITEBOT_METRICS_ADDRESS=127.0.0.1:9108.")
    url = health_url(*endpoint)
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response:
            return True, response.read().decode("utf-8", "replace").strip()
    except urllib.error.HTTPError as exc:
        said = exc.read().decode("utf-8", "replace").strip()
        return False, said or f"/healthz answered {exc.code}"
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        return False, (f"nothing answered at {url} ({reason}); is `citebot run` running with "
                       "this CITEBOT_METRICS_ADDRESS?")


def main() -> int:
    try:
        settings = Settings()
    except (ValidationError, SettingsError) as exc:
        print(f"citebot: {Settings.describe(exc)}", file=sys.stderr)
        return 1
    healthy, said = check(settings)
    print(said, file=sys.stdout if healthy else sys.stderr)
    return 0 if healthy else 1


if __name__ == "__main__":
    sys.exit(main())
