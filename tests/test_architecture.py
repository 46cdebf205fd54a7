"""The engine, the platforms and the remote worker never import Qt: they run headless (serve, worker, tests)."""
import subprocess
import sys


def test_engine_and_platforms_import_without_qt():
    code = (
        "import sys, app.engine.engine, app.engine.platform, app.engine.records, app.cli\n"
        "import app.platforms.sandbox, app.worker.link\n"
        "bad = [m for m in sys.modules if m.startswith(('PySide6', 'shiboken6', 'app.ui'))]\n"
        "assert not bad, bad\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


def test_the_ui_calls_engine_services_instead_of_reaching_into_the_pool():
    """The UI asks the engine (wake_account, restart_account, pool_status, messages_around):
    a pool it reached into would be the local one even for an account a remote worker holds."""
    import re
    from pathlib import Path

    ui = Path(__file__).resolve().parents[1] / "app" / "ui"
    reaching = re.compile(r"(?<!app\.)engine\.pool\b|MessageCursor")  # importing its types is fine
    offenders = [
        f"{path.relative_to(ui)}: {match.group()}"
        for path in sorted(ui.rglob("*.py"))
        for match in reaching.finditer(path.read_text(encoding="utf-8"))
    ]
    assert not offenders, offenders
