"""The console's language: Qt translations from resources/translations.

English is the source language (the strings in the code; hiscrm_en.qm adds only its plural
forms); Simplified Chinese comes from hiscrm_zh_CN.qm plus Qt's own qtbase_zh_CN.qm for the
standard buttons and dialogs. Language "system" follows the desktop's locale. Installing a
translator makes Qt send every widget a LanguageChange event, so windows that retranslate in
changeEvent switch language live.

Updating the translations after changing UI strings (tests/ui/test_i18n.py checks this was done):
    .venv/bin/pyside6-lupdate $(find app/ui -name '*.py') -ts resources/translations/hiscrm_zh_CN.ts
    .venv/bin/pyside6-lupdate -pluralonly $(find app/ui -name '*.py') -ts resources/translations/hiscrm_en.ts
    (translate the new entries, e.g. in .venv/bin/pyside6-linguist)
    .venv/bin/pyside6-lrelease resources/translations/hiscrm_zh_CN.ts resources/translations/hiscrm_en.ts
"""
from __future__ import annotations

import logging
from typing import Literal

from PySide6.QtCore import QCoreApplication, QLibraryInfo, QLocale, QTranslator

import resources
from app.engine.settings import Settings

log = logging.getLogger(__name__)

Language = Literal["zh_CN", "en"]
_installed: list[QTranslator] = []  # kept referenced: Qt does not own installed translators


def resolve_language(choice: str, system: QLocale | None = None) -> Language:
    """The language to show for a settings value; "system" asks the locale."""
    if choice in ("zh_CN", "en"):
        return choice  # type: ignore[return-value]
    locale = system or QLocale.system()
    return "zh_CN" if locale.language() == QLocale.Language.Chinese else "en"


def install_translator(app: QCoreApplication, settings: Settings) -> Language:
    """Show the application in settings.language from now on; returns the language in effect."""
    language = resolve_language(settings.language)
    for translator in _installed:
        app.removeTranslator(translator)
    _installed.clear()
    QLocale.setDefault(QLocale("en_US" if language == "en" else language))
    # hiscrm_en.qm holds only the English plural forms ("1 new message", "2 new messages").
    ours = QTranslator(app)
    if ours.load(str(resources.resource_path("translations", f"hiscrm_{language}.qm"))):
        _installed.append(ours)
    else:
        log.warning("translation hiscrm_%s.qm missing or unreadable", language)
    if language != "en":
        qt = QTranslator(app)  # Qt's own strings: standard buttons, file dialogs
        if qt.load(f"qtbase_{language}", QLibraryInfo.path(QLibraryInfo.LibraryPath.TranslationsPath)):
            _installed.append(qt)
    for translator in _installed:
        app.installTranslator(translator)
    return language
