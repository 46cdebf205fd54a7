"""Screenshots of the console as an operator sees it, for the README and for review.

    .venv/bin/python scripts/screenshots.py              # docs/screenshots/*.png
    .venv/bin/python scripts/screenshots.py --out /tmp/shots --languages en

Each language runs the real console (`app.ui.app.console`) in a fresh, throwaway home: the
first run sets up the sandbox demo workspace (two accounts logged in through Chromium), the
script plays the audience (a few comments and DMs through the sandbox's control API), answers
one comment from the chat pane and waits for the reply to be confirmed, then saves:

- `main-<lang>.png`      the three panes with live traffic and a confirmed reply;
- `dark-<lang>.png`      the same window in the dark theme;
- `login-<lang>.png`     the QR login dialog of a newly added account;
- `accounts-<lang>.png`  the accounts dialog: identities, avatars (or their placeholder), states;
- `settings-<lang>.png`  the settings dialog, the embedded server switched on;
- `attention-<lang>.png` a logged-out account: the warning above the composer, and a reply that
  failed, marked in the topic list.

Without a display it starts itself again under `xvfb-run`, so the pictures come from a real X
server with the fonts an operator has (CJK and colour emoji from the Debian packages that
scripts/bootstrap.sh installs).
"""
from __future__ import annotations

import argparse
import asyncio
import inspect
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parents[1]
LANGUAGES = ("zh_CN", "en")
SCREEN = "1440x900x24"
AUDIENCE = {
    "comments": [
        ("小鹿乱撞", "这个教程太实用了，收藏了！请问用的是什么剪辑软件？🎬"),
        ("Tom Baker", "Great tips, thanks! Which camera do you use?"),
        ("奶茶不加糖", "第三步没看懂，能再讲一遍吗 🙏"),
    ],
    "dms": [
        ("王小明", "你好，想问一下商务合作怎么联系？"),
        ("Lucy", "Hi! Is the preset pack still on sale? 😊"),
    ],
}
REPLY = "谢谢支持！用的是剪映专业版 ✂️ Thanks for watching!"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    parser.add_argument("--languages", default=",".join(LANGUAGES))
    parser.add_argument("--one", help=argparse.SUPPRESS)  # internal: one language, this process
    args = parser.parse_args()
    if args.one:
        return shoot(args.one, args.out)
    if not os.environ.get("DISPLAY") and shutil.which("xvfb-run"):
        command = ["xvfb-run", "-a", "-s", f"-screen 0 {SCREEN}", sys.executable, *sys.argv]
        return subprocess.call(command)
    args.out.mkdir(parents=True, exist_ok=True)
    status = 0
    for language in args.languages.split(","):
        # One process per language: a fresh Qt application, translator and engine each.
        code = subprocess.call([sys.executable, __file__, "--out", str(args.out), "--one", language])
        print(f"{language}: {'ok' if code == 0 else f'failed ({code})'}")
        status = status or code
    return status


def shoot(language: str, out: Path) -> int:
    """Run the console in a temporary home and save its pictures; 0 on success."""
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("QT_QPA_PLATFORM", "xcb" if os.environ.get("DISPLAY") else "offscreen")
    import qasync
    from PySide6.QtWidgets import QApplication

    from app.engine.logs import setup_logging
    from app.engine.paths import app_paths
    from app.engine.settings import Settings
    from app.ui import app as console_app
    from app.ui.collector import MainThreadCollector

    with tempfile.TemporaryDirectory(prefix="hiscrm-shots-") as home:
        paths = app_paths(home).ensure()
        setup_logging(paths.log_dir, verbose=False)
        settings = Settings(language=language, theme="light")
        settings.platforms["sandbox"] = {"demo_traffic": False}  # the script is the audience: same pictures each run
        qt = QApplication(sys.argv)
        console_app.apply_look(qt, settings)
        MainThreadCollector(qt).start()
        with asyncio.Runner(loop_factory=qasync.QEventLoop) as runner:
            return runner.run(_session(qt, paths, settings, out, language))


async def _session(qt: Any, paths: Any, settings: Any, out: Path, language: str) -> int:
    from app.ui import app as console_app
    from app.ui.main_window import MainWindow

    window = MainWindow(paths.config_dir)
    console = asyncio.ensure_future(console_app.console(qt, paths, settings, window=window))
    try:
        await _direct(window, settings, out, language, console)
        return 0
    except Exception as exc:  # a picture that cannot be taken is reported, not hidden
        print(f"screenshots ({language}): {exc}", file=sys.stderr)
        return 1
    finally:
        window.quit_requested.emit()
        await asyncio.wait_for(console, 60)


async def _direct(window: Any, settings: Any, out: Path, language: str, console: asyncio.Future) -> None:
    """Play the operator and the audience, saving a picture at each step."""
    await _until(lambda: settings.first_run_done, "the demo workspace", timeout=120, console=console)
    engine = window.engine
    control = engine.platforms.get("sandbox").control
    accounts = [a for a in await engine.accounts.list() if a.platform == "sandbox"]
    creator = accounts[0].display_name
    for author, text in AUDIENCE["comments"]:
        await control.inject_comment(author, text, creator=creator)
    for author, text in AUDIENCE["dms"]:
        await control.inject_dm(author, text, creator=creator)
    first_comment = AUDIENCE["comments"][0][1]
    hits: list[Any] = []
    await _until(lambda: _found(engine, accounts[0].id, first_comment, hits), "the audience's comment",
                 console=console)
    # Open its thread the way Ctrl+K search does, then answer it from the chat pane. Xvfb has
    # no window manager to activate the window, and only an active window marks messages read.
    window.activateWindow()
    window.jump_to(hits[0])
    chat = window.chat
    await _until(lambda: _message(chat, first_comment) is not None, "the comment thread", console=console)
    chat.send(REPLY, _message(chat, first_comment).id)
    await _until(lambda: _reply_status(chat, REPLY) == "confirmed", "the confirmed reply", timeout=90, console=console)
    await _settle()
    _save(window, out / f"main-{language}.png")

    from app.ui.theme import apply_theme

    settings.theme = "dark"
    apply_theme(_qt_app(), settings)
    await _settle()
    _save(window, out / f"dark-{language}.png")
    settings.theme = "light"
    apply_theme(_qt_app(), settings)

    new_id = await engine.accounts.create("sandbox", "新店铺 New shop" if language == "zh_CN" else "New shop")
    login = window.open_dialog("login", new_id)
    await _until(lambda: login.state == "qr_ready", "the login QR code", timeout=60, console=console)
    await _settle()
    _save(login, out / f"login-{language}.png")
    login.reject()

    accounts_dialog = window.open_dialog("accounts")
    await _settle()
    _save(accounts_dialog, out / f"accounts-{language}.png")
    accounts_dialog.reject()

    engine.settings_service.update(server={**settings.server.model_dump(), "enabled": True, "port": 0})
    await _until(lambda: engine.server_status.running, "the embedded server", console=console)
    dialog = window.open_dialog("settings")
    await _settle()
    _save(dialog, out / f"settings-{language}.png")
    dialog.reject()

    # The second account logs out; a reply sent from it fails, and both show.
    other = accounts[1]
    await engine.accounts.logout(other.id)
    window.open_channel(other.id)
    pane = window.topics_pane  # the operator opens the account's newest topic (none opens by itself)
    await _until(lambda: pane.model is not None and pane.model.rowCount() > 0
                 and pane.model.item(0).ref.account_id == other.id, "the logged-out account's topics",
                 console=console)
    pane.move(1)
    await _until(lambda: chat.topic is not None and chat.topic.ref.account_id == other.id
                 and chat.reply_box.account_banner.isVisible(), "the logged-out account's topic", console=console)
    failing = "好的，马上安排 👍 On it!"
    chat.send(failing, None)
    await _until(lambda: _reply_status(chat, failing) == "failed", "the failed reply", timeout=60, console=console)
    await _settle()
    _save(window, out / f"attention-{language}.png")


# ---- Helpers ---------------------------------------------------------------------------------
def _qt_app() -> Any:
    from PySide6.QtWidgets import QApplication

    return QApplication.instance()


async def _until(check: Callable[[], Any], what: str, *, timeout: float = 30,
                 console: asyncio.Future | None = None) -> None:
    """Wait until `check()` (a value or an awaitable) is true."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if await result if inspect.isawaitable(result) else result:
            return
        if console is not None and console.done():
            raise RuntimeError(f"the console ended while waiting for {what}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


async def _settle(seconds: float = 0.8) -> None:
    """Let debounced updates, animations and the window manager finish before a picture."""
    await asyncio.sleep(seconds)


async def _found(engine: Any, account_id: str, text: str, hits: list[Any]) -> bool:
    """Whether `text` has been stored; its search hits go into `hits`."""
    hits[:] = [h for h in (await engine.views.search(text, account_id=account_id)).items if h.message.text == text]
    return bool(hits)


def _message(chat: Any, text: str) -> Any:
    from app.ui.models.keyed import ObjectRole

    model = chat.model
    if model is None:  # the jump is still fetching the topic
        return None
    for row in range(model.rowCount()):
        message = model.index(row, 0).data(ObjectRole)
        if message is not None and message.text == text:
            return message
    return None


def _reply_status(chat: Any, text: str) -> str | None:
    message = _message(chat, text)
    return message.reply_status if message is not None else None


def _save(widget: Any, path: Path) -> None:
    widget.raise_()
    if not widget.grab().save(str(path)):
        raise RuntimeError(f"could not write {path}")
    print(f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")


if __name__ == "__main__":
    sys.exit(main())
