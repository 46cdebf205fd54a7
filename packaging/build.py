"""Build the HisCRM distributable for the platform this runs on (see packaging/README.md).

    .venv/bin/python packaging/build.py [--clean] [--bundle-chromium] [--no-archive]

1. installs PyInstaller into the running interpreter's environment when it is missing or
   outside the range pinned in pyproject.toml's `packaging` extra;
2. runs packaging/hiscrm.spec: a one-folder build in dist/hiscrm/ (macOS: also dist/HisCRM.app);
3. archives it: Linux dist/hiscrm-<version>-linux-<arch>.tar.gz (with a .desktop file and the
   icon), Windows dist/hiscrm-<version>-windows-<arch>.zip, macOS
   dist/HisCRM-<version>-macos-<arch>.zip (the .app, made with ditto).

Chromium is not bundled by default: the frozen app uses Playwright's browser when one is
bundled, else the system's (Debian's /usr/bin/chromium, Chrome), else `browser_executable`
from the settings. --bundle-chromium downloads Playwright's Chromium into the Playwright
package first (needs internet) so the build carries its own browser.
"""
from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tarfile
import tomllib
from importlib import metadata
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SPEC = HERE / "hiscrm.spec"
DIST = ROOT / "dist"
WORK = ROOT / "build"
APP_DIR_NAME = "hiscrm"  # COLLECT name in the spec


def project() -> dict:
    with open(ROOT / "pyproject.toml", "rb") as f:
        return tomllib.load(f)["project"]


def packaging_requirements() -> list[str]:
    return project()["optional-dependencies"]["packaging"]


def ensure_pyinstaller() -> None:
    """Install the `packaging` extra's PyInstaller when it is missing or out of range."""
    requirements = packaging_requirements()
    try:
        installed = metadata.version("pyinstaller")
    except metadata.PackageNotFoundError:
        installed = None
    if installed is not None and _in_range(installed, requirements):
        print(f"build: PyInstaller {installed}")
        return
    print(f"build: installing {' '.join(requirements)} (found {installed or 'none'})")
    subprocess.run([sys.executable, "-m", "pip", "install", *requirements], check=True)


def _in_range(version: str, requirements: list[str]) -> bool:
    try:
        from packaging.requirements import Requirement
    except ImportError:  # no `packaging` library: let pip decide (a no-op when satisfied)
        return False
    for line in requirements:
        req = Requirement(line)
        if req.name.lower() == "pyinstaller":
            return req.specifier.contains(version, prereleases=True)
    return True


def bundle_chromium() -> None:
    """Put Playwright's Chromium inside the Playwright package (PLAYWRIGHT_BROWSERS_PATH=0),
    where the spec collects it and the frozen app looks for it."""
    env = dict(os.environ, PLAYWRIGHT_BROWSERS_PATH="0")
    print("build: downloading Playwright's Chromium into the Playwright package")
    subprocess.run([sys.executable, "-m", "playwright", "install", "chromium"], check=True, env=env)


def run_pyinstaller(clean: bool) -> None:
    cmd = [
        sys.executable, "-m", "PyInstaller", "--noconfirm",
        "--distpath", str(DIST), "--workpath", str(WORK), str(SPEC),
    ]
    if clean:
        cmd.insert(4, "--clean")
    print("build:", " ".join(cmd))
    subprocess.run(cmd, check=True, cwd=ROOT)


def archive(version: str) -> Path:
    arch = platform.machine().lower() or "unknown"
    arch = {"amd64": "x86_64", "arm64": "aarch64"}.get(arch, arch) if sys.platform != "darwin" else arch
    if sys.platform == "darwin":
        app = DIST / "HisCRM.app"
        target = DIST / f"HisCRM-{version}-macos-{arch}.zip"
        target.unlink(missing_ok=True)
        # ditto keeps the bundle's symlinks and extended attributes (zipfile would not)
        subprocess.run(["ditto", "-c", "-k", "--keepParent", str(app), str(target)], check=True)
        return target
    folder = DIST / APP_DIR_NAME
    if sys.platform == "win32":
        base = DIST / f"hiscrm-{version}-windows-{arch}"
        return Path(shutil.make_archive(str(base), "zip", DIST, APP_DIR_NAME))
    # Linux: the folder plus a desktop entry and its icon, as hiscrm/ in the tarball
    shutil.copy2(HERE / "linux" / "hiscrm.desktop", folder / "hiscrm.desktop")
    shutil.copy2(WORK / SPEC.stem / "icons" / "hiscrm.png", folder / "hiscrm.png")
    target = DIST / f"hiscrm-{version}-linux-{arch}.tar.gz"
    with tarfile.open(target, "w:gz") as tar:
        tar.add(folder, arcname=APP_DIR_NAME)  # keeps modes (the executables) and symlinks
    return target


def _size(path: Path) -> str:
    total = path.stat().st_size if path.is_file() else sum(
        p.lstat().st_size for p in path.rglob("*") if p.is_file() or p.is_symlink()
    )
    return f"{total / 1e6:.0f} MB"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clean", action="store_true", help="drop PyInstaller's cache and build/ first")
    parser.add_argument("--bundle-chromium", action="store_true",
                        help="download Playwright's Chromium and ship it in the build (needs internet)")
    parser.add_argument("--no-archive", action="store_true", help="stop after the one-folder build")
    args = parser.parse_args(argv)

    if sys.prefix == sys.base_prefix:
        print("build: warning: not running in a virtual environment; use .venv/bin/python", file=sys.stderr)
    ensure_pyinstaller()
    if args.bundle_chromium:
        bundle_chromium()
    run_pyinstaller(args.clean)
    folder = DIST / APP_DIR_NAME
    print(f"build: {folder} ({_size(folder)})")
    if not args.no_archive:
        target = archive(project()["version"])
        print(f"build: {target} ({_size(target)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
