"""`python -m services.cli` (the `mtdvat` command)."""

from __future__ import annotations

from services.cli.commands import main

if __name__ == "__main__":
    main()
