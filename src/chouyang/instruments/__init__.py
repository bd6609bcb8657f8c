"""Instruments as data: the definition model, the expression language, built-in definitions, XLSForm."""
