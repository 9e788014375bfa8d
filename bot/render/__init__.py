"""Rendering: answers as the exact Discord messages (escaping, spoiler tags, attribution, splitting)."""
