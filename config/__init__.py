"""Configuration (pydantic-settings)."""

from config.settings import BUNDLED_MODEL, Settings

__all__ = ["BUNDLED_MODEL", "Settings"]
