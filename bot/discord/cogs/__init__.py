"""The bot's commands, one extension per area: asking, the article library, administration.

Each command validates, defers, makes one core call on the worker pool, renders and replies;
errors go to the bot's one handler (`CitebotBot.report_error`).
"""
