"""The Discord app (`citebot run`): the launcher (`app`), the client (`client`), its commands
(`cogs/`) and everything they render, send and run on the way."""
