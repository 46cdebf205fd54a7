"""One running HisCRM per home: an OS file lock held for the life of the process.

Two processes on one home would each run a browser pool on the same accounts, and each treat
the other's replies in flight (`sending`) as leftovers of a crash and send them again. So the
console and `hiscrm serve` take this lock before anything writes, and a second start stops
with the process id of the one that holds it.

The lock is the operating system's (flock on POSIX, a byte-range lock on Windows): it goes
with the process, also when the process is killed, so a stale lock file never blocks the next
start. The holder writes its pid into the file for the message; nobody trusts the pid for
anything else. (The `filelock` package was not used: it truncates the lock file on every
attempt, so a second start would wipe the holder's pid before failing.)
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

from .errors import StartupError

LOCK_FILE = "hiscrm.lock"
_WINDOWS_LOCK_OFFSET = 1 << 20  # Windows locks are mandatory: lock a byte past the pid, not the pid


class HomeInUse(StartupError):
    """Another process holds the home's lock."""

    def __init__(self, path: Path, pid: int | None) -> None:
        self.path = path
        self.pid = pid
        holder = f"process {pid}" if pid else "another process"
        super().__init__(f"HisCRM is already running on this data folder ({holder} holds {path}); "
                         "use that one, or stop it first")


class HomeLock:
    """The lock on one home's data folder; `acquire` raises HomeInUse when it is taken."""

    def __init__(self, data_dir: Path) -> None:
        self.path = Path(data_dir) / LOCK_FILE
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> "HomeLock":
        if self._fd is not None:
            return self
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            _lock(fd)
        except OSError:
            pid = _read_pid(fd)
            os.close(fd)
            raise HomeInUse(self.path, pid) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        os.fsync(fd)
        self._fd = fd
        return self

    def release(self) -> None:
        """Give the lock up (the process is ending; the OS would do it anyway)."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            os.ftruncate(fd, 0)
        except OSError:
            pass
        os.close(fd)  # closing the descriptor releases the lock


if sys.platform == "win32":
    import msvcrt

    def _lock(fd: int) -> None:
        os.lseek(fd, _WINDOWS_LOCK_OFFSET, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        os.lseek(fd, 0, os.SEEK_SET)

else:
    import fcntl

    def _lock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)


def _read_pid(fd: int) -> int | None:
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        return int(os.read(fd, 32).decode().strip() or 0) or None
    except (OSError, ValueError):
        return None
