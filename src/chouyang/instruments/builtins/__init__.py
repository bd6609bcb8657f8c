"""Built-in instrument definitions (TOML), shipped as package data."""
