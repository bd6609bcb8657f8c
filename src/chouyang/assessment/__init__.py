"""The whole assessment: scheme (scheme.toml), checklist facts, scoring, composite and consequences. Pure."""
