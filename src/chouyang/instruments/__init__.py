"""Instruments as data: definitions, their expression language and the built-in instruments."""
