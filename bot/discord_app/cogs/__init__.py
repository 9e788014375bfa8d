"""One cog per audience: fans (`ask`), moderators (`spoilers`), admins (`admin`), everyone (`status`)."""
