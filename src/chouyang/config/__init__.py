"""Configuration read from TOML: the round's rules (rules.toml)."""
