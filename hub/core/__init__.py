"""The hub's core: shadows, device registry, command dispatch, history."""
