"""Developer tools (table generation from the ECHONET MRA)."""
