"""The platform's suite runs each example plugin's own tests as its author runs them
(``pytest`` in the example's directory): its package importable from its directory, the
kernel's throw-away databases made on the suite's PostgreSQL. Each example stays a
standalone project: this file is not part of any of them."""

import os
import sys
from pathlib import Path

for project in sorted(path.parent for path in Path(__file__).parent.glob("*/pyproject.toml")):
    if str(project) not in sys.path:
        sys.path.insert(0, str(project))

os.environ.setdefault(
    "TICKETING_TEST_DATABASE_URL",
    os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@localhost:5432/postgres"),
)
