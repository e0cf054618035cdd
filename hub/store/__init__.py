"""SQLite persistence (aiosqlite, WAL) with versioned migrations."""

from hub.store.db import Database

__all__ = ["Database"]
