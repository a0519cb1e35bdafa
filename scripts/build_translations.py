#!/usr/bin/env python3
"""Build the UI translations.

    scripts/build_translations.py            compile resources/translations/*.ts into .qm (pyside6-lrelease)
    scripts/build_translations.py --update   first refresh the .ts sources from the code (pyside6-lupdate)

The .qm files are build outputs (git-ignored). The app compiles a missing one at start-up
into its cache directory, so running this is only needed for packaging.
"""
from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ROOT / "ota_desktop"
TRANSLATIONS = ROOT / "resources" / "translations"
LANGUAGES = ("zh_CN",)
PROTOCOL_CONTEXT = "ota_protocol"  # the context of ota_protocol.codes.TEXT (ota_desktop/ui/status.py)


def tool(name: str) -> str:
    found = shutil.which(f"pyside6-{name}") or str(Path(sys.executable).parent / f"pyside6-{name}")
    if not Path(found).exists():
        sys.exit(f"pyside6-{name} not found: install PySide6-Essentials in this environment")
    return found


def protocol_texts(folder: Path) -> Path:
    """ota_protocol's code texts (codes.TEXT) as QT_TRANSLATE_NOOP calls for lupdate: the desktop
    translates them at run time (context "ota_protocol"), so no literal in its sources names them."""
    sys.path.insert(0, str(ROOT))
    from ota_protocol.codes import TEXT

    path = folder / "ota_protocol_texts.py"
    path.write_text("".join(f"QT_TRANSLATE_NOOP({json.dumps(PROTOCOL_CONTEXT)}, {json.dumps(text)})\n"
                            for text in dict.fromkeys(TEXT.values())), encoding="utf-8")
    return path


def update() -> None:
    files = sorted(str(p.relative_to(ROOT)) for p in SOURCES.rglob("*.py"))
    with tempfile.TemporaryDirectory() as tmp:
        files.append(str(protocol_texts(Path(tmp))))
        for lang in LANGUAGES:
            ts = TRANSLATIONS / f"ota_desktop_{lang}.ts"
            subprocess.run([tool("lupdate"), "-no-obsolete", "-locations", "none", "-target-language", lang, *files,
                            "-ts", str(ts)], check=True, cwd=ROOT)


def release() -> list[Path]:
    out = []
    for ts in sorted(TRANSLATIONS.glob("*.ts")):
        qm = ts.with_suffix(".qm")
        subprocess.run([tool("lrelease"), "-silent", str(ts), "-qm", str(qm)], check=True)
        out.append(qm)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--update", action="store_true", help="refresh the .ts files from the sources first")
    args = parser.parse_args()
    if args.update:
        update()
    for qm in release():
        print(qm.relative_to(ROOT))
    return 0


if __name__ == "__main__":
    sys.exit(main())
