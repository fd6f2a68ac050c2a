"""What the poster tests need outside Python: pdftoppm (Debian's poppler-utils; `make test` installs it)."""

from __future__ import annotations

import os
import shutil

import pytest


@pytest.fixture(scope="session")
def pdftoppm() -> str:
    path = shutil.which("pdftoppm")
    if path is None:
        message = "pdftoppm is missing: install poppler-utils (make test does, as root on Debian)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path
