"""Small data files that ship with the library (found next to this file, however the package is imported)."""
from pathlib import Path

DIR = Path(__file__).resolve().parent


def asset(name: str) -> Path:
    return DIR / name
