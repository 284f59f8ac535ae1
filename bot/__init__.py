"""citebot's interfaces: the command line (`bot.cli`) and the Discord app (`bot.discord`), and
`render_text`, an answer as text, which both show."""
