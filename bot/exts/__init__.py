"""The bot's features, one extension each: questions, messages (DMs and mentions), moderation."""
