"""homehub's LAN daemon: device model, shadows, store, rules, API, discovery, relay link and CLI."""

__version__ = "0.1.0"
