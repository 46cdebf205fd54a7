"""The engine and the platforms never import Qt: they run headless (serve, worker, tests)."""
import subprocess
import sys


def test_engine_and_platforms_import_without_qt():
    code = (
        "import sys, app.engine.engine, app.engine.platform, app.engine.records, app.cli\n"
        "import app.platforms.sandbox\n"
        "bad = [m for m in sys.modules if m.startswith(('PySide6', 'shiboken6', 'app.ui'))]\n"
        "assert not bad, bad\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
