"""Write a set of files together (the md, csv and html leaderboards of a run; the files ``publish`` regenerates).

Each file is written in full to a temporary file in its own folder and fsynced; only when every one is
written are they renamed over their targets (``os.replace``, atomic per file), one right after another.
A failure or a kill while writing leaves every target as it was (and no temporary behind); the only
window for a mixed set is between the renames, which do no I/O of their own.
"""
from __future__ import annotations

import errno
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path

from .data.io import file_mode


def _fsync_dir(folder: Path) -> None:
    """Make the renames durable (best effort: not every platform can open a folder)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_together(files: Mapping[Path, str | bytes]) -> None:
    """Write every ``path -> text or bytes`` of ``files`` (text as UTF-8), all or none replaced.

    An ``OSError`` names the target path it concerns (``exc.filename``), not a temporary file.
    """
    temps: list[tuple[str, Path]] = []
    try:
        for target, data in files.items():
            path = Path(target)
            try:
                if path.is_dir():
                    raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(path))
                path.parent.mkdir(parents=True, exist_ok=True)
                fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
                temps.append((tmp, path))
                os.fchmod(fd, file_mode())
                with os.fdopen(fd, "wb") as fh:
                    fh.write(data.encode("utf-8") if isinstance(data, str) else data)
                    fh.flush()
                    os.fsync(fh.fileno())
            except OSError as exc:
                if exc.filename == str(path):
                    raise
                raise OSError(exc.errno, exc.strerror or str(exc), str(path)) from exc
        for tmp, path in temps:
            try:
                os.replace(tmp, path)
            except OSError as exc:
                raise OSError(exc.errno, exc.strerror or str(exc), str(path)) from exc
    except BaseException:
        for tmp, _ in temps:
            try:
                os.unlink(tmp)
            except OSError:
                pass  # already renamed, or never created
        raise
    for folder in dict.fromkeys(path.parent for _, path in temps):
        _fsync_dir(folder)
