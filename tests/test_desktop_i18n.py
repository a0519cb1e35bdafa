"""English and 简体中文: the .ts covers every string, the app compiles a missing .qm, falls back cleanly."""
from __future__ import annotations

import xml.etree.ElementTree as ET
from importlib.resources import files

import pytest
from PySide6.QtCore import QCoreApplication, QLocale

from ota_desktop import i18n
from ota_desktop.core.api_client import ApiError
from ota_desktop.ui.forms import api_error_text, backend_error_text
from ota_desktop.ui.status import code_text, record_status_text, step_text, task_status_text
from ota_protocol.codes import TEXT, ErrorCode, IsDiff, TaskStatus, TaskType

from ._desktop_fixtures import *  # noqa: F403 - the fixtures: pytest finds them in the module by name

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


def test_every_protocol_code_has_a_chinese_text(qapp, uninstall):
    """ota_protocol's code texts are translated in context "ota_protocol", each one."""
    assert i18n.install(qapp, "zh_CN") == "zh_CN"
    missing = [(code, english) for code, english in TEXT.items()
               if QCoreApplication.translate("ota_protocol", english) in ("", english)]
    assert missing == []
    assert code_text(ErrorCode.NOT_FOUND) == "未找到" and step_text(-2) == "下载失败"


def test_backend_errors_show_the_codes_text_with_the_message_as_detail(qapp, uninstall):
    error = ApiError(ErrorCode.NOT_FOUND, "firmware 12 not found", 404)
    assert api_error_text(error) == "Not found: firmware 12 not found"
    assert i18n.install(qapp, "zh_CN") == "zh_CN"
    assert api_error_text(error) == backend_error_text(error) == "未找到: firmware 12 not found"
    assert backend_error_text(ApiError(ErrorCode.RETRY_NOT_ALLOWED, "")) == "不允许重试"
    assert backend_error_text(ApiError(123, "odd")) == "odd"  # an unknown code: the message alone
    assert api_error_text(ApiError(123, "odd")) == "odd（错误码 123）"



def test_codes_of_different_enums_with_one_value_keep_their_own_texts():
    assert TEXT[TaskStatus.NOT_STARTED] == "Not started" and TEXT[TaskStatus.UPGRADING] == "Upgrading"
    assert TEXT[TaskType.ALL] == "All devices" and TEXT[IsDiff.WHOLE] == "Whole package"
    assert 1 not in TEXT and len({(type(c), c.value) for c in TEXT}) == len(TEXT) == 38


def test_each_task_status_has_its_own_text(qapp, uninstall):
    assert [task_status_text(s) for s in TaskStatus] == ["Not started", "Upgrading", "Done", "Cancelled", "Aborted"]
    assert i18n.install(qapp, "zh_CN") == "zh_CN"
    assert [task_status_text(s) for s in TaskStatus] == ["未升级", "升级中", "已完成", "已取消", "已中止"]


def test_qt_file_dialog_is_chinese_too(qapp, uninstall):
    """Qt's own texts come from PySide6's qtbase_zh_CN.qm; the two labels Qt 6 renamed
    ("&Look in:", "Files of &type:") and its catalog lacks are filled in by the app."""
    from PySide6.QtWidgets import QFileDialog, QLabel

    assert i18n.install(qapp, "zh_CN") == "zh_CN"
    dlg = QFileDialog(None, "x")
    dlg.setOption(QFileDialog.Option.DontUseNativeDialog)
    labels = {w.objectName(): w.text() for w in dlg.findChildren(QLabel)}
    assert labels["lookInLabel"] == "查找范围(&L)："
    assert labels["fileTypeLabel"] == "文件类型(&T)："
    assert labels["fileNameLabel"] == "文件名称(&N)："  # from Qt's own catalog
    assert QCoreApplication.translate("Nowhere", "in no catalog") == "in no catalog"  # not ""
    dlg.deleteLater()


def test_every_chinese_text_of_the_app_is_in_the_catalog(qapp, uninstall):
    """New texts of the tables, the About box, the crash dialog and the keyring choice."""
    assert i18n.install(qapp, "zh_CN") == "zh_CN"
    from ota_desktop.__main__ import KEYRING_HELP

    for context, text in [("TableActions", "&Copy rows"), ("TableActions", "Delete…"),
                          ("MainWindow", "Last error:"), ("MainWindow", "Restart now"),
                          ("MainWindow", "Secrets are kept for this session only (no OS keyring): they are "
                                         "forgotten when OTA Desktop quits."),
                          ("main", KEYRING_HELP)]:
        assert QCoreApplication.translate(context, text) != text, text
