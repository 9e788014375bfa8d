"""The Discord front end: a `commands.Bot` subclass, one cog per audience, and `run_bot`.

Everything here is a thin layer over `bot.engine.Engine`: the engine composes the exact messages
(escaped, spoiler-tagged, split to fit), and this package decides who may do what, where answers
go, and how Discord's interaction rules (defer, follow-ups, ephemeral notices) are respected.
"""
