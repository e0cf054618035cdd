"""Device protocols: one package each, every one with an emulator speaking the real protocol."""
