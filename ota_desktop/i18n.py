"""Translations: English sources, 简体中文 from resources/translations/ota_desktop_zh_CN.ts.

The compiled ``.qm`` files are build outputs (scripts/build_translations.py). When the
package has none, the app compiles the ``.ts`` with pyside6-lrelease into its cache
directory at start-up; when that is impossible too it falls back to English.
"""
from __future__ import annotations

import hashlib
import logging
import os
import shutil
import subprocess
import sys
from importlib.resources import as_file, files
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QLibraryInfo, QLocale, QStandardPaths, QTranslator


def QT_TRANSLATE_NOOP(context: str, source: str) -> str:  # noqa: N802 - the name lupdate looks for
    """Mark ``source`` for translation in ``context`` and return it unchanged, as Qt's does
    (PySide6's stubs type the result as ``object``; lupdate finds the calls by this name)."""
    return source


log = logging.getLogger(__name__)

DOMAIN = "ota_desktop"
SUPPORTED = ("en", "zh_CN")


def resolve_language(setting: str, system: QLocale | None = None) -> str:
    """The UI language for a setting ("system", "en", "zh_CN")."""
    if setting in SUPPORTED:
        return setting
    name = (system or QLocale.system()).name()
    return "zh_CN" if name.startswith("zh") else "en"


def lrelease_program() -> str | None:
    exe = shutil.which("pyside6-lrelease")
    if exe:
        return exe
    try:
        import PySide6

        candidate = Path(PySide6.__file__).parent / "lrelease"
        if candidate.exists():
            return str(candidate)
    except ImportError:  # pragma: no cover - PySide6 is a hard dependency
        pass
    cand = Path(sys.executable).parent / "pyside6-lrelease"
    return str(cand) if cand.exists() else None


def compile_ts(ts: Path, qm: Path) -> bool:
    program = lrelease_program()
    if program is None:
        return False
    qm.parent.mkdir(parents=True, exist_ok=True)
    try:
        subprocess.run([program, "-silent", str(ts), "-qm", str(qm)], check=True, timeout=60,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    except (OSError, subprocess.SubprocessError) as exc:
        log.warning("could not compile %s: %s", ts.name, exc)
        return False
    return qm.exists()


def find_qm(language: str) -> Path | None:
    """The .qm for ``language``: shipped with the package, or compiled into the cache."""
    base = files("ota_desktop.resources") / "translations"
    shipped = base / f"{DOMAIN}_{language}.qm"
    source = base / f"{DOMAIN}_{language}.ts"
    if shipped.is_file():
        with as_file(shipped) as path:
            return Path(path)
    if not source.is_file():
        return None
    data = source.read_bytes()
    cache = Path(QStandardPaths.writableLocation(QStandardPaths.StandardLocation.CacheLocation) or
                 os.path.expanduser("~/.cache/ota-desktop")) / "translations"
    qm = cache / f"{DOMAIN}_{language}-{hashlib.sha256(data).hexdigest()[:12]}.qm"
    if qm.exists():
        return qm
    with as_file(source) as ts:
        return qm if compile_ts(Path(ts), qm) else None


def qt_translation_dirs() -> list[str]:
    """Where Qt's own translations (qtbase_*.qm: file dialogs, standard buttons) are: Qt's
    configured folder (PySide6/Qt/translations in a wheel), then PySide6's folder as found
    next to the module (a frozen bundle may move Qt's)."""
    dirs = [QLibraryInfo.path(QLibraryInfo.LibraryPath.TranslationsPath)]
    try:
        import PySide6

        base = Path(PySide6.__file__).parent
        dirs += [str(base / "Qt" / "translations"), str(base / "translations")]
    except ImportError:  # pragma: no cover - PySide6 is a hard dependency
        pass
    return [d for d in dict.fromkeys(dirs) if d and os.path.isdir(d)]


#: Qt's own texts that its catalog for a language lacks: Qt 6 labels the file dialog's fields
#: "&Look in:" and "Files of &type:", while qtbase_zh_CN.qm only has the older "Look in:" and
#: "Files of type:", so a Chinese file dialog showed those two in English
QT_GAPS: dict[str, dict[tuple[str, str], str]] = {
    "zh_CN": {
        ("QFileDialog", "&Look in:"): "查找范围(&L)：",
        ("QFileDialog", "Files of &type:"): "文件类型(&T)：",
    },
}


class QtGapsTranslator(QTranslator):
    """Translations of a few Qt texts missing from Qt's catalog (see QT_GAPS); installed
    first, so it is asked last, after the app's and Qt's catalogs."""

    def __init__(self, texts: dict[tuple[str, str], str], parent: QCoreApplication | None = None) -> None:
        super().__init__(parent)
        self.texts = texts

    def translate(self, context: str, source: str, disambiguation: str | None = None, n: int = -1) -> str | None:
        return self.texts.get((context, source))  # None: a null QString, the next translator is asked

    def isEmpty(self) -> bool:  # noqa: N802
        return not self.texts


def load_qt_translator(app: QCoreApplication, language: str) -> QTranslator | None:
    """Qt's own texts ("Look in:", "Files of type:", "Cancel") in ``language``."""
    for folder in qt_translation_dirs():
        for catalog in ("qtbase", "qt"):
            qt = QTranslator(app)
            if qt.load(QLocale(language), catalog, "_", folder):
                return qt
            qt.deleteLater()
    log.warning("Qt's own translations for %s not found; its dialogs stay in English", language)
    return None


def install(app: QCoreApplication, setting: str) -> str:
    """Install the translators for the chosen language (the app's and Qt's own, each when
    found); returns the language in use."""
    language = resolve_language(setting)
    QLocale.setDefault(QLocale(language))
    if language == "en":
        return language
    translators = []
    qm = find_qm(language)
    if qm is None:
        log.warning("no translation for %s available; using English", language)
    else:
        own = QTranslator(app)
        if own.load(str(qm)):
            translators.append(own)
    if not translators:
        QLocale.setDefault(QLocale("en"))
        return "en"  # the app's texts in English: Qt's own (file dialog) in English too
    qt = load_qt_translator(app, language)
    if qt is not None:
        translators.append(qt)
    if language in QT_GAPS:
        translators.insert(0, QtGapsTranslator(QT_GAPS[language], app))
    for t in translators:
        app.installTranslator(t)
    return language
