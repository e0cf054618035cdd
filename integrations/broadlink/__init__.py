"""Broadlink RM IR blasters: packet codec, emulator, async client and the hub integration."""
