"""Where HisCRM keeps its files.

The platform's standard user directories (platformdirs) by default; the environment variable
HISCRM_HOME puts everything (config, data, logs) under one folder instead, which the tests and
portable installs use.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import platformdirs

APP_NAME = "HisCRM"


@dataclass(frozen=True)
class AppPaths:
    config_dir: Path
    data_dir: Path
    log_dir: Path

    @property
    def settings_file(self) -> Path:
        return self.config_dir / "settings.json"

    @property
    def default_database_url(self) -> str:
        return f"sqlite:///{(self.data_dir / 'hiscrm.db').as_posix()}"

    def ensure(self) -> "AppPaths":
        for d in (self.config_dir, self.data_dir, self.log_dir):
            d.mkdir(parents=True, exist_ok=True)
        return self


def app_paths(home: str | os.PathLike[str] | None = None) -> AppPaths:
    """Resolve the directories: an explicit home, else $HISCRM_HOME, else platformdirs."""
    home = home or os.environ.get("HISCRM_HOME")
    if home:
        base = Path(home).expanduser().resolve()
        return AppPaths(base / "config", base / "data", base / "logs")
    dirs = platformdirs.PlatformDirs(APP_NAME, appauthor=False)
    return AppPaths(Path(dirs.user_config_dir), Path(dirs.user_data_dir), Path(dirs.user_log_dir))
