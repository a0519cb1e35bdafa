"""English and 简体中文: the .ts covers every string, the app compiles a missing .qm, falls back cleanly."""
from __future__ import annotations

import xml.etree.ElementTree as ET
from importlib.resources import files

import pytest
from PySide6.QtCore import QCoreApplication, QLocale

from ._desktop_fixtures import desktop_env  # noqa: F401
from ota_desktop import i18n
from ota_desktop.ui.status import record_status_text, task_status_text

pytestmark = pytest.mark.qt_log_level_fail("WARNING")

TS = files("ota_desktop.resources") / "translations" / "ota_desktop_zh_CN.ts"


def test_chinese_ts_translates_every_message():
    root = ET.fromstring(TS.read_bytes())
    messages = list(root.iter("message"))
    assert len(messages) > 300
    untranslated = [m.findtext("source") for m in messages
                    if m.find("translation").get("type") in ("unfinished", "vanished", "obsolete")
                    or not ("".join(m.find("translation").itertext())).strip()]
    assert untranslated == []


@pytest.fixture
def uninstall(qapp):
    yield
    for t in qapp.findChildren(__import__("PySide6.QtCore", fromlist=["QTranslator"]).QTranslator):
        qapp.removeTranslator(t)
        t.deleteLater()
    QLocale.setDefault(QLocale("en_US"))


def test_chinese_is_compiled_at_startup_and_used(qapp, uninstall, tmp_path):
    qm = i18n.find_qm("zh_CN")  # no .qm shipped in a checkout: compiled into the cache dir
    assert qm is not None and qm.exists()
    assert i18n.install(qapp, "zh_CN") == "zh_CN"
    # the spec's Chinese names of the record statuses
    assert [record_status_text(c) for c in (101, 201, 202, 301, 401, 501, 601, 701)] == [
        "待确认", "待推送", "待推送（设备离线）", "已推送", "升级中", "升级成功", "升级失败", "已取消"]
    assert task_status_text(3) == "已完成"
    assert QCoreApplication.translate("LiveTaskView", "%n device(s)", "", 3) == "3 台设备"
    assert i18n.find_qm("zh_CN") == qm  # cached: compiled once


def test_english_needs_no_translator(qapp, uninstall):
    assert i18n.install(qapp, "en") == "en"
    assert record_status_text(501) == "Succeeded"


def test_falls_back_to_english_without_lrelease(qapp, uninstall, monkeypatch):
    monkeypatch.setattr(i18n, "lrelease_program", lambda: None)
    assert i18n.find_qm("zh_CN") is None  # nothing shipped, nothing cached, nothing to compile with
    assert i18n.install(qapp, "zh_CN") == "en"
    assert record_status_text(501) == "Succeeded"


def test_system_locale_is_followed(qapp, uninstall, monkeypatch):
    monkeypatch.setattr(QLocale, "system", staticmethod(lambda: QLocale("zh_CN")))
    assert i18n.install(qapp, "system") == "zh_CN"
