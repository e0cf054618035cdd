"""ECHONET Lite."""
