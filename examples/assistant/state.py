"""The assistant's state in one JSON file that survives restarts.

Every save writes a temporary file in the same directory, fsyncs it, and os.replace()s it over
the old one (atomic on POSIX and Windows), so a crash or kill mid-write leaves either the old
state or the new one, never a torn file."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

VERSION = 1


class StateError(RuntimeError):
    """A state file that cannot be read or written; the message says which and what to do."""


def empty_state() -> dict:
    return {"version": VERSION, "next_id": 1, "timers": [], "alarms": [], "reminders": [], "lists": {},
            "home": {}, "music": {"playing": False, "genre": None, "artist": None, "room": None, "volume": 50}}


def load(path: Path) -> dict:
    path = Path(path)
    for stale in path.parent.glob(f".{path.name}.*.tmp"):  # left by a process killed mid-write
        stale.unlink(missing_ok=True)
    if not path.exists():
        return empty_state()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise StateError(f"{path}: cannot read the assistant state ({exc}); move it away to start afresh") from None
    if not isinstance(data, dict) or data.get("version") != VERSION:
        raise StateError(f"{path}: not an assistant state file of version {VERSION}; move it away to start afresh")
    return {**empty_state(), **data}


def save(path: Path, state: dict) -> None:
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(state, f, indent=1, sort_keys=True)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        _fsync_dir(path.parent)
    except OSError as exc:
        raise StateError(f"{path}: cannot write the assistant state ({exc.strerror or exc})") from None


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return  # Windows cannot open directories; os.replace is still atomic there
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
