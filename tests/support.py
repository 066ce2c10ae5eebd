"""Small helpers the tests share."""

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def write(path: Path, text: str) -> Path:
    """Write a UTF-8 file, creating its folders."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path
