"""Package data: classes.json, generated from the ECHONET MRA by tools/gen_tables.py."""
