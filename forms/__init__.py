"""Form layout definitions (data, not code), installed as the package `chouyang.formdefs`: the checklist's (checklist.toml)."""
