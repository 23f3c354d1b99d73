from __future__ import annotations

from stancewire.cli import main

raise SystemExit(main())
