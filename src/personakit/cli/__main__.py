"""``python -m personakit.cli``: the ``personakit`` command without the console script."""

from __future__ import annotations

import sys

from personakit.cli._main import main

sys.exit(main())
