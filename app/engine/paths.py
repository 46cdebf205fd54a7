"""Where HisCRM keeps its files, and who may read them.

The platform's standard user directories (platformdirs) by default; the environment variable
HISCRM_HOME puts everything (config, data, logs) under one folder instead, which the tests and
portable installs use.

Everything HisCRM writes is private to the user (POSIX): every comment, DM, session key and
database password in it belongs to the operator's customers, not to the other accounts of the
machine. `ensure()` creates the folders 0700, tightens folders and files an older version left
0755/0644, and sets the process umask to 077 so every file created afterwards (the database
and the WAL/SHM files SQLite creates beside it, logs and their rotations, settings, the
sandbox world, backups, browser profiles) is 0600 from its first byte. Windows keeps its
per-user profile ACLs; nothing is changed there.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import platformdirs

from .errors import FolderError, describe_os_error

APP_NAME = "HisCRM"
PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600
POSIX = os.name == "posix"


@dataclass(frozen=True)
class AppPaths:
    config_dir: Path
    data_dir: Path
    log_dir: Path
    home: Path | None = None  # the HISCRM_HOME folder, when everything is under one

    @property
    def settings_file(self) -> Path:
        return self.config_dir / "settings.json"

    @property
    def backup_dir(self) -> Path:
        return self.data_dir / "backups"

    @property
    def default_database_url(self) -> str:
        return f"sqlite:///{(self.data_dir / 'hiscrm.db').as_posix()}"

    def ensure(self) -> "AppPaths":
        """Create the folders (private), make what exists private; FolderError says which
        folder cannot be made and why."""
        if POSIX:
            os.umask(0o077)
        folders = [self.config_dir, self.data_dir, self.log_dir]
        if self.home is not None:
            folders.insert(0, self.home)
        for folder in folders:
            try:
                folder.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
            except OSError as exc:
                raise FolderError(f"cannot create the folder {folder}: {describe_os_error(exc)}") from exc
        if POSIX:
            if self.home is not None:  # only the folder: a home may hold the operator's own files
                _chmod_if_needed(self.home, PRIVATE_DIR)
            for folder in (self.config_dir, self.data_dir, self.log_dir, self.backup_dir):
                make_private(folder)
        return self


def make_private(folder: Path) -> None:
    """Folder 0700 and the files directly in it 0600 (POSIX; what is not ours is left).
    Deeper files (browser profiles) are out of reach once their folder is 0700."""
    if not POSIX or not folder.is_dir():
        return
    _chmod_if_needed(folder, PRIVATE_DIR)
    try:
        entries = list(os.scandir(folder))
    except PermissionError:
        return
    for entry in entries:
        if entry.is_file(follow_symlinks=False):
            _chmod_if_needed(Path(entry.path), PRIVATE_FILE)


def make_private_file(path: Path) -> None:
    """One file 0600 (POSIX), e.g. one written by a library that ignores the umask."""
    if POSIX:
        _chmod_if_needed(path, PRIVATE_FILE)


def _chmod_if_needed(path: Path, mode: int) -> None:
    try:
        if (path.stat().st_mode & 0o777) != mode:
            os.chmod(path, mode)
    except OSError:  # not ours (a shared folder), or a read-only file system: left as it is
        pass


def app_paths(home: str | os.PathLike[str] | None = None) -> AppPaths:
    """Resolve the directories: an explicit home, else $HISCRM_HOME, else platformdirs."""
    home = home or os.environ.get("HISCRM_HOME")
    if home:
        base = Path(home).expanduser().resolve()
        return AppPaths(base / "config", base / "data", base / "logs", home=base)
    dirs = platformdirs.PlatformDirs(APP_NAME, appauthor=False)
    return AppPaths(Path(dirs.user_config_dir), Path(dirs.user_data_dir), Path(dirs.user_log_dir))
