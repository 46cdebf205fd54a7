"""The check in tests/browser_mark.py: a test that starts Chromium without
`@pytest.mark.browser` fails and says so; a marked one passes (run in a pytest of its own)."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.browser

PROBE = '''
import pytest
from app.engine.pool.browser import BrowserHost

pytest_plugins = ["tests.browser_mark"]


async def start_chromium():
    host = BrowserHost()
    await host.browser()
    await host.stop()


async def test_unmarked():
    await start_chromium()


@pytest.mark.browser
async def test_marked():
    await start_chromium()


async def test_without_a_browser():
    pass
'''


def test_a_test_that_starts_chromium_without_the_mark_fails(tmp_path):
    probe = tmp_path / "test_probe.py"
    probe.write_text(PROBE)
    (tmp_path / "pytest.ini").write_text("[pytest]\nasyncio_mode = auto\nmarkers =\n    browser: drives real Chromium\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rA", str(probe)],
                            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    out = result.stdout
    assert result.returncode == 1, out
    assert "test_probe.py::test_unmarked starts Chromium but is not marked @pytest.mark.browser" in out
    assert "PASSED test_probe.py::test_marked" in out and "PASSED test_probe.py::test_without_a_browser" in out
    assert "FAILED test_probe.py::test_unmarked" in out and "1 failed, 2 passed" in out
