"""Run `chouyang demo OUT` with a fixed round secret, so that two runs compare byte for byte.

The round secret (the HMAC key of the QR codes) is random per round, so the forms' QR codes and
layout records of two demo runs always differ.  To show that a change moves no output, run this
with the old code and with the new one, then `python benchmarks/compare_rounds.py OLD NEW`:

    PYTHONPATH=old/src python benchmarks/demo_fixed_secret.py /tmp/old
    PYTHONPATH=src python benchmarks/demo_fixed_secret.py /tmp/new

Never use a fixed secret for a real round: anyone who knows it can forge pages.
"""

from __future__ import annotations

import secrets
import sys

secrets.token_hex = lambda nbytes=32: "5a" * nbytes  # the benchmark's fixed key, never a real round's

from chouyang.cli import main  # noqa: E402  (after the patch: the CLI must see the fixed secret)

if __name__ == "__main__":
    sys.argv = ["chouyang", "demo", *sys.argv[1:]]
    main()
