"""Keep hypothesis' cache out of the repository (there is no `.hypothesis/` in .gitignore)."""

import os
import tempfile
from pathlib import Path

os.environ.setdefault(
    "HYPOTHESIS_STORAGE_DIRECTORY", str(Path(tempfile.gettempdir()) / "crosswind-hypothesis")
)
