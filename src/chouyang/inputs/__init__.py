"""The round's inputs: reading text tables (CSV in any Chinese encoding, XLSX) and the frame, teams and register they hold."""
