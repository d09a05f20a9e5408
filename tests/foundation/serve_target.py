"""`outdial serve` as the kill matrix runs it (tests/foundation/test_kill_matrix.py): the real CLI in this
process, with the import crash hook of tests/imports/crash_worker.py installed first when CRASH_AT is set
("insert": stop inside the import's open transaction, rows written). Not a test module."""

from __future__ import annotations

import os
import sys

from imports import crash_worker
from outdial.cli import main

if __name__ == "__main__":
    if os.environ.get("CRASH_AT"):
        crash_worker.install(os.environ["CRASH_AT"])
    sys.argv = ["outdial", "serve", *sys.argv[1:]]
    main()
