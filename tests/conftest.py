"""Shared test setup. Being here puts tests/ on sys.path, so suites can share helper modules
such as `mdns_netns`."""
