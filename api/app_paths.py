"""Where the display's files are."""

from pathlib import Path

STATIC_DIR = Path(__file__).parent / "static"
