"""Turning what DuckDB, SQLite and the OS raise into one line a person can act on: the file, what is wrong, what to do.

DuckDB raises ``IOException`` for a full disk, a damaged file and a lock held
by another process alike (and a plain ``duckdb.Error`` for a block whose
checksum does not match), so the kind is read from the message. The original
message is kept in parentheses: it names the exact file and operation.
"""

from __future__ import annotations

import errno
import sqlite3
from pathlib import Path

_FULL = ("No space left on device", "Disk quota exceeded", "database or disk is full")
_DAMAGED = (
    "Corrupt database file",
    "not a valid DuckDB database file",
    "Could not read enough bytes",
    "checksum",
    "file is not a database",
    "database disk image is malformed",
)
_LOCKED = ("Could not set lock on file", "Conflicting lock")
FREE_SPACE_HINT = "free space on that disk (or point [storage.embedded] path / --data-dir at another one)"


def one_line(exc: BaseException) -> str:
    """The exception's message on one line."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:400]


def is_disk_full(exc: BaseException) -> bool:
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    if isinstance(exc, sqlite3.Error) and getattr(exc, "sqlite_errorname", "") == "SQLITE_FULL":
        return True
    return any(s in str(exc) for s in _FULL)


def is_damaged(exc: BaseException) -> bool:
    if isinstance(exc, sqlite3.Error) and getattr(exc, "sqlite_errorname", "") in ("SQLITE_CORRUPT", "SQLITE_NOTADB"):
        return True
    return any(s in str(exc) for s in _DAMAGED)


def is_locked(exc: BaseException) -> bool:
    return any(s in str(exc) for s in _LOCKED)


def disk_full(what: str, path: Path, exc: BaseException) -> str:
    return f"no space left on device: cannot write {what} {path} ({one_line(exc)})"


def damaged(what: str, path: Path, exc: BaseException, *, also: str = "") -> str:
    return (
        f"{what} {path} is damaged ({one_line(exc)}):"
        f" restore it from a backup, or move it{also} aside to start a new one"
    )


def cannot_open(what: str, path: Path, exc: BaseException, *, also: str = "") -> str:
    """The start-up line for a file that would not open (``also``: companion files to move along, e.g. its WAL)."""
    if is_locked(exc):
        return (
            f"cannot open {what} {path}: another process has it open ({one_line(exc)}). DuckDB allows one process"
            " per file while it is written: run collectors and API in one process (shopfloor run), or use the"
            " InfluxDB backend"
        )
    if is_disk_full(exc):
        return f"{disk_full(what, path, exc)}: {FREE_SPACE_HINT}, then start again"
    if is_damaged(exc):
        return damaged(what, path, exc, also=also)
    return f"cannot open {what} {path}: {one_line(exc)}"
