"""``python -m degranulation``: the command line."""

from degranulation.cli import main

raise SystemExit(main())
