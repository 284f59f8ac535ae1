"""The command line (`citebot`): `app` lists the commands and runs the one asked for; each
other module of this package registers and runs its own (`context` is what they share)."""

from bot.cli.app import main as main
