"""Entered results: validate workbooks, CSV and keyed passes, and hand them to the store."""
