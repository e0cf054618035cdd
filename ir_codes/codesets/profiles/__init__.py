"""Packaged code-set profiles (YAML data files, read by ir_codes.codesets)."""
