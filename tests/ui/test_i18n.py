"""Translations and themes: the console reads in Chinese when asked, every UI string has its
translation, and the theme follows the setting."""
from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QLocale, QTranslator
from PySide6.QtGui import QPalette

import resources
from app.engine.settings import Settings
from app.ui.i18n import resolve_language
from app.ui.main_window import MainWindow
from app.ui.theme import apply_theme, current_theme

ROOT = Path(__file__).resolve().parents[2]
LUPDATE = Path(sys.executable).parent / "pyside6-lupdate"


def test_system_language_follows_the_locale():
    assert resolve_language("system", QLocale("zh_CN")) == "zh_CN"
    assert resolve_language("system", QLocale("zh_TW")) == "zh_CN"  # the Chinese we have
    assert resolve_language("system", QLocale("de_DE")) == "en"
    assert resolve_language("en", QLocale("zh_CN")) == "en"


def test_main_window_switches_to_chinese_and_back_live(language, qtbot, tmp_path):
    window = MainWindow(tmp_path)
    qtbot.addWidget(window)
    assert language("zh_CN") == "zh_CN"
    assert window.windowTitle() == "HisCRM 控制台"
    assert window.accounts_action.text() == "账号管理…"
    assert window.add_account_action.text() == "添加账号…"
    assert window.settings_action.text() == "设置…"
    assert window.mark_all_read_action.text() == "全部标为已读"
    assert window.quit_action.text() == "退出"
    assert window.file_menu.title() == "文件(&F)"
    language("en")
    assert window.accounts_action.text() == "Accounts…"
    assert window.file_menu.title() == "&File"


def test_english_plurals(language):
    language("en")
    translate = QCoreApplication.translate
    assert translate("Tray", "%n new message(s)", "", 1) == "1 new message"
    assert translate("Tray", "%n new message(s)", "", 4) == "4 new messages"
    language("zh_CN")
    assert translate("Tray", "%n new message(s)", "", 4) == "4 条新消息"


def test_every_ui_string_has_a_chinese_translation(tmp_path):
    """The committed .ts lists every string the UI code marks for translation (lupdate was
    re-run), each one is translated, and the compiled .qm carries them all (lrelease too)."""
    fresh = tmp_path / "fresh.ts"
    sources = sorted(str(p) for p in (ROOT / "app" / "ui").rglob("*.py"))
    subprocess.run([str(LUPDATE), *sources, "-ts", str(fresh)], check=True, capture_output=True, timeout=60)
    needed = _messages(fresh)
    committed = _messages(Path(resources.resource_path("translations", "hiscrm_zh_CN.ts")))
    missing = sorted(set(needed) - set(committed))
    assert not missing, f"run lupdate and translate: {missing[:10]}"
    untranslated = sorted(key for key in needed if not committed[key])
    assert not untranslated, f"not translated yet: {untranslated[:10]}"

    translator = QTranslator()
    assert translator.load(str(resources.resource_path("translations", "hiscrm_zh_CN.qm")))
    stale = [key for key in needed if not translator.translate(key[0], key[1], None, 1 if "%n" in key[1] else -1)]
    assert not stale, f"run lrelease: {stale[:10]}"


def _messages(ts_file: Path) -> dict[tuple[str, str], str]:
    """(context, source) -> translation ('' when unfinished) of a .ts file."""
    found = {}
    for context in ET.parse(ts_file).getroot().iter("context"):
        name = context.findtext("name")
        for message in context.iter("message"):
            translation = message.find("translation")
            if translation.get("type") in ("vanished", "obsolete"):
                continue
            done = translation.get("type") != "unfinished"
            text = "".join(translation.itertext()).strip()
            found[(name, message.findtext("source"))] = text if done else ""
    return found


def test_theme_follows_the_setting(language, qapp):
    assert apply_theme(qapp, Settings(theme="dark")) == "dark"
    assert current_theme() == "dark"
    assert qapp.palette().color(QPalette.ColorRole.Window).lightness() < 80
    assert "QLabel[role=\"error\"]" in qapp.styleSheet()
    assert apply_theme(qapp, Settings(theme="light")) == "light"
    assert qapp.palette().color(QPalette.ColorRole.Window).lightness() > 200
    # "system" asks the desktop; offscreen Qt reports no dark preference.
    assert apply_theme(qapp, Settings(theme="system")) == "light"
