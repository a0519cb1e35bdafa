#!/usr/bin/env python3
"""Render the README screenshots, in English and 简体中文, into docs/screenshots/<lang>/.

    scripts/screenshots.py [--out docs/screenshots] [--lang en zh_CN]

Everything shown is real: the app starts its embedded backend (and Mosquitto) in a
throw-away data directory, simulated devices (ota-devsim's Fleet) connect to it, firmware
and the task are made through the forms, and the live table is caught mid-rollout.
Needs a display-less Qt (QT_QPA_PLATFORM=offscreen is set) and, for Chinese, a CJK font
(e.g. Debian's fonts-wqy-microhei).
"""
from __future__ import annotations

import argparse
import csv
import itertools
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SIZE = (1280, 800)
DEVICES = 60
LAPTOP = (1366, 768)  # the export summary is shown this wide (and at least this tall)
CSV_ROWS = 12  # the CSV export's first rows shown
REASON_WIDTH = 320  # the CSV's reason column wraps at this width


def spin(app, until, timeout: float = 60.0, what: object = "") -> None:  # noqa: ANN001
    """Run the Qt event loop (no sleeping: uploads and the stream go at full speed) until ``until()``."""
    from PySide6.QtCore import QEventLoop, QTimer

    deadline = time.monotonic() + timeout
    loop = QEventLoop()
    timer = QTimer(interval=10)
    timer.timeout.connect(lambda: loop.quit() if until() or time.monotonic() > deadline else None)
    if not until():
        timer.start()
        loop.exec()
        timer.stop()
    if not until():
        raise SystemExit(f"screenshots: timed out waiting for {what() if callable(what) else what}")


def save(widget, out: Path, name: str) -> None:  # noqa: ANN001
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{name}.png"
    if not widget.grab().save(str(path)):
        raise SystemExit(f"screenshots: could not write {path}")
    print(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)


def summary_browser(html: str):  # noqa: ANN201
    """The task's HTML summary in a QTextBrowser LAPTOP wide (no web engine here), as tall as the
    page (at least LAPTOP tall) so none of it is cut off; its inline <svg> chart is rendered to an
    image (QSvgRenderer) and shown as an <img>, for the screenshot only (the backend's HTML is
    unchanged)."""
    from PySide6.QtCore import QByteArray, Qt, QUrl
    from PySide6.QtGui import QImage, QPainter, QTextDocument
    from PySide6.QtSvg import QSvgRenderer
    from PySide6.QtWidgets import QApplication, QTextBrowser

    browser = QTextBrowser()
    svg = re.search(r"<svg\b.*?</svg>", html, re.S)
    if svg is not None:
        renderer = QSvgRenderer(QByteArray(svg.group(0).encode()))
        size = renderer.defaultSize()
        image = QImage(size, QImage.Format.Format_ARGB32)
        image.fill(Qt.GlobalColor.white)
        painter = QPainter(image)
        renderer.render(painter)
        painter.end()
        browser.document().addResource(QTextDocument.ResourceType.ImageResource, QUrl("chart.png"), image)
        html = (html[:svg.start()] + f'<p><img src="chart.png" width="{size.width()}" height="{size.height()}"></p>'
                + html[svg.end():])
    browser.setHtml(html)
    browser.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)  # sized to the page below
    browser.resize(*LAPTOP)
    browser.show()
    QApplication.processEvents()
    extra = browser.height() - browser.viewport().height()
    browser.resize(LAPTOP[0], max(LAPTOP[1], round(browser.document().size().height()) + extra))
    return browser


def csv_table(path: Path, rows: int = CSV_ROWS):  # noqa: ANN201
    """The CSV export's header and first ``rows`` rows in a table, as wide as its content."""
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QAbstractItemView, QLabel, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget

    with open(path, encoding="utf-8-sig", newline="") as fh:
        data = list(itertools.islice(csv.reader(fh), rows + 1))
    if not data:
        raise SystemExit(f"screenshots: {path} is empty")
    widget = QWidget()
    lay = QVBoxLayout(widget)
    lay.addWidget(QLabel(f"<b>{path.name}</b>"))
    table = QTableWidget(len(data) - 1, len(data[0]))
    table.setHorizontalHeaderLabels(data[0])
    table.verticalHeader().hide()
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setAlternatingRowColors(True)
    for r, row in enumerate(data[1:]):
        for c, value in enumerate(row):
            table.setItem(r, c, QTableWidgetItem(value))
    table.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # no current-cell frame in the shot
    table.resizeColumnsToContents()
    if "reason" in data[0] and table.columnWidth(data[0].index("reason")) > REASON_WIDTH:
        table.setColumnWidth(data[0].index("reason"), REASON_WIDTH)  # long reasons wrap, in full
    table.resizeRowsToContents()
    frame = 2 * table.frameWidth()
    table.setFixedSize(table.horizontalHeader().length() + frame,
                       table.horizontalHeader().height() + table.verticalHeader().length() + frame)
    lay.addWidget(table)
    widget.adjustSize()
    return widget


def capsule_shots(app, window, client, call, work: Path, out: Path, lang: str) -> None:  # noqa: ANN001
    """Release capsules (issue 15) on this installation: the trusted publishers, a gateway
    firmware exported as a capsule with a task template, the same capsule refused (its publisher
    is not trusted yet), then checked and imported as a station would (the firmware deleted
    first), and its task draft."""
    import hashlib

    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from ota_desktop.core.dto import NewFirmware

    elsewhere = Ed25519PrivateKey.generate().public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    call(client.trust_publisher(elsewhere, "Engineering, Berlin" if lang == "en" else "研发部（柏林）"))
    files = work / "capsule"
    files.mkdir()
    (files / "gw-image.bin").write_bytes(os.urandom(420_000))
    up = call(client.create_upload_url("gw01", "gw-image.bin"))
    call(client.put_file(up["uploadUri"], str(files / "gw-image.bin")))
    digest = hashlib.md5((files / "gw-image.bin").read_bytes()).hexdigest()
    gw_firmware = call(client.create_firmware(NewFirmware("gw01", "gateway", "2.1.0", desc=(
        "Modbus timeouts fixed" if lang == "en" else "修复 Modbus 超时")), [
        {"name": "gw-image.bin", "filePath": up["filePath"], "signature": digest}]))

    trusted = window.open_trusted_publishers()
    spin(app, lambda: trusted.key is not None and trusted.model.rowCount() == 1, 10, "the trusted publishers")
    app.processEvents()
    save(trusted, out, "capsule_trusted_publishers")
    trusted.close()

    export = window.export_capsule()
    spin(app, lambda: export.firmware_combo.count() > 0, 10, "the firmware to export")
    export.product_combo.setCurrentIndex(export.product_combo.findData("gw01"))
    export.firmware_combo.setCurrentIndex(export.firmware_combo.findData(gw_firmware))
    export.task_box.setChecked(True)
    export.retry_spin.setValue(2)
    export.safe_check.setChecked(True)
    capsule = work / "gw01-2.1.0.otacap"
    export.file_row.edit.setText(str(capsule))
    saved: list = []
    export.exported.connect(saved.append)
    export.export_button.click()
    spin(app, lambda: saved or export.result_label.isVisible(), 60, "the export")
    if not saved:
        raise SystemExit(f"screenshots: the capsule export failed ({export.result_label.text()})")
    app.processEvents()
    save(export, out, "capsule_export")
    export.close()

    imp = window.import_capsule()
    imp.file_row.edit.setText(str(capsule))

    def checked() -> bool:
        return imp.info is not None or imp.refusal_label.isVisible()

    imp.verify(str(capsule))
    spin(app, checked, 60, "the check")
    app.processEvents()
    save(imp, out, "capsule_import_refused")  # this workstation is not trusted by itself yet
    call(client.trust_publisher(call(client.capsule_key()).publicKey,
                                "This workstation" if lang == "en" else "本工作站"))
    call(client.delete_firmware(gw_firmware))  # as on a station that has not got it yet
    imp.verify(str(capsule))
    spin(app, checked, 60, "the check")
    if imp.info is None:
        raise SystemExit(f"screenshots: the capsule was refused ({imp.refusal_label.text()})")
    app.processEvents()
    save(imp, out, "capsule_import")
    imp.import_button.click()
    spin(app, lambda: imp.outcome is not None or imp.refusal_label.isVisible(), 60, "the import")
    app.processEvents()
    save(imp, out, "capsule_imported")
    imp.close()

    drafts = window.open_task_drafts()
    spin(app, lambda: drafts.model.rowCount() == 1, 10, "the task drafts")
    drafts.view.selectRow(0)
    app.processEvents()
    save(drafts, out, "capsule_drafts")
    drafts.close()


def evidence_shots(app, window, work: Path, out: Path, firmware_id: int, task_id: int) -> None:  # noqa: ANN001
    """The rollout's results as signed evidence, exported, imported back (this workstation is
    trusted by then) and shown per release with the device rows."""
    export = window.export_evidence()
    spin(app, lambda: export.firmware_combo.count() > 0, 10, "the firmware")
    export.firmware_combo.setCurrentIndex(export.firmware_combo.findData(firmware_id))
    spin(app, lambda: export.task_combo.findData(task_id) >= 0, 10, "the tasks")
    export.task_combo.setCurrentIndex(max(0, export.task_combo.findData(task_id)))
    evidence = work / "rollout.otaevidence"
    export.file_row.edit.setText(str(evidence))
    saved: list = []
    export.exported.connect(saved.append)
    export.export_button.click()
    spin(app, lambda: saved or export.result_label.isVisible(), 60, "the evidence export")
    app.processEvents()
    save(export, out, "capsule_evidence_export")
    export.close()
    imp = window.import_evidence()
    imp.file_row.edit.setText(str(evidence))
    imp.import_file(str(evidence))
    spin(app, lambda: imp.outcome is not None or imp.refusal_label.isVisible(), 60, "the evidence import")
    app.processEvents()
    save(imp, out, "capsule_evidence_import")
    imp.close()
    releases = window.open_release_evidence()
    spin(app, lambda: releases.stations_model.rowCount() >= 1, 10, "the release evidence")
    releases.stations_view.selectRow(0)
    spin(app, lambda: releases.devices_model.rowCount() > 0, 10, "the evidence's devices")
    app.processEvents()
    save(releases, out, "capsule_release_evidence")
    releases.close()


def render(lang: str, out: Path, only_capsules: bool = False) -> None:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    work = Path(tempfile.mkdtemp(prefix="ota-shots-"))
    for var in ("HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME"):
        os.environ[var] = str(work / var.lower())
        Path(os.environ[var]).mkdir(parents=True, exist_ok=True)

    from PySide6.QtCore import QCoreApplication, QSettings
    from PySide6.QtWidgets import QApplication

    from devsim import Credential, Fleet, SimOptions
    from ota_desktop.__main__ import APPLICATION, ORGANIZATION, configure_app
    from ota_desktop.app_events import AppEvents
    from ota_desktop.connection import BackendConnection
    from ota_desktop.core.api_client import ApiClient
    from ota_desktop.core.dto import RecordStatus
    from ota_desktop.secrets import SecretStore
    from ota_desktop.settings import Settings
    from ota_desktop.ui.main_window import MainWindow
    from ota_desktop.ui.task_dialog import DEFAULT_SIZE

    QCoreApplication.setOrganizationName(ORGANIZATION)
    QCoreApplication.setApplicationName(APPLICATION)
    app = QApplication([sys.argv[0]])
    settings = Settings(QSettings(str(work / "settings.ini"), QSettings.Format.IniFormat))
    settings.language = lang
    settings.data_dir = str(work / "backend")
    if configure_app(app, settings) != lang:
        raise SystemExit(f"screenshots: the {lang} translation could not be loaded")
    secrets = SecretStore()
    secrets.use_session_only()  # never touch the real keyring
    events, client = AppEvents(), ApiClient()
    conn = BackendConnection(settings, secrets, client, events)
    window = MainWindow(client, events, settings, secrets, conn)
    window.resize(*SIZE)
    window.show()
    fleets: list = []

    def call(api_call):  # noqa: ANN001, ANN202
        box: list = []
        api_call.then(box.append, lambda e: box.append(RuntimeError(e.msg)))
        spin(app, lambda: box, 30, "the backend")
        if isinstance(box[0], Exception):
            raise SystemExit(f"screenshots: {box[0]}")
        return box[0]

    try:
        conn.start()
        spin(app, lambda: conn.state in ("ready", "failed"), 90, "the backend to start")
        if conn.state != "ready":
            raise SystemExit("screenshots: the backend did not start")
        call(client.create_product("Smart thermostat" if lang == "en" else "智能温控器", "thermo01"))
        call(client.create_product("Edge gateway" if lang == "en" else "边缘网关", "gw01"))
        csv = "deviceName,version\n" + "".join(
            f"thermo-{i:03d},{'0.8.0' if i % 7 == 0 else '0.9.0'}\n" for i in range(1, DEVICES + 1))
        devices = call(client.import_devices_csv("thermo01", csv))
        creds = [Credential(d.productID, d.deviceName, d.deviceSecret) for d in devices]
        offline = {c.device_name for c in creds[-4:]}  # never connect: "queued, device offline"
        online = [c for c in creds if c.device_name not in offline]
        mix = {"succeed": 88, "fail-download": 6, "fail-flash": 6}
        for part, flash in ((online[0::2], 2.5), (online[1::2], 9.0)):
            for version in ("0.8.0", "0.9.0"):
                group = [c for c in part if (devices[creds.index(c)].version == version)]
                if group:
                    fleets.append(Fleet(group, version=version, mqtt_url=conn.process.mqtt_url,
                                        base_url=client.base_url, mix=mix, seed=len(fleets),
                                        options=SimOptions(flash_seconds=flash, progress_steps=(20, 45, 70))))
        for f in fleets:
            f.start()
        spin(app, lambda: all(f.all_connected_at is not None for f in fleets), 60, "the simulated devices")
        window.refresh()
        spin(app, lambda: window.products_page.select_product("thermo01"), 30, "the products")
        spin(app, lambda: window.products_page.devices_model.rowCount() == DEVICES, 30,
             lambda: f"the device list ({window.products_page.products_model.rowCount()} products, "
                     f"{window.products_page.current_product()}, {window.statusBar().currentMessage()})")
        app.processEvents()
        save(window, out, "main-window")

        # -- a first firmware, through the form (small files)
        files = work / "files"
        files.mkdir()
        (files / "thermo-app.bin").write_bytes(os.urandom(180_000))
        (files / "thermo-ui.zip").write_bytes(os.urandom(40_000))
        big = files / "thermo-full-image.bin"
        with open(big, "wb") as fh:  # sparse: big enough to catch mid-upload, costs no disk
            fh.truncate(768 << 20)
        small = [str(files / "thermo-app.bin"), str(files / "thermo-ui.zip")]

        def firmware_dialog():  # noqa: ANN202
            before = getattr(window.firmware_page, "dialog", None)  # set once a form opened
            window.firmware_page.new_firmware()
            spin(app, lambda: getattr(window.firmware_page, "dialog", None) is not before, 10, "the firmware form")
            dlg = window.firmware_page.dialog
            dlg.product_combo.setCurrentIndex(dlg.product_combo.findData("thermo01"))
            return dlg

        dlg = firmware_dialog()
        dlg.add_files(small)
        spin(app, lambda: dlg.files_model.rowCount() == 2, 10, "files")
        dlg.name_edit.setText("thermostat")
        dlg.version_edit.setText("1.0.0")
        dlg.desc_edit.setPlainText("Scheduling fixes" if lang == "en" else "修复定时功能")
        created: list = []
        dlg.created.connect(created.append)
        dlg.create_button.click()
        spin(app, lambda: created, 60, "firmware 1.0.0")
        firmware_id = created[0].firmwareID

        # -- release capsules: export, check, import, drafts, trusted publishers
        capsule_shots(app, window, client, call, work, out, lang)
        if only_capsules:
            return

        # -- the new-firmware form caught mid-upload
        dlg = firmware_dialog()
        dlg.add_files([str(big), *small])
        spin(app, lambda: dlg.files_model.rowCount() == 3, 10, "files")
        dlg.name_edit.setText("thermostat")
        dlg.version_edit.setText("1.1.0")
        dlg.diff_combo.setCurrentIndex(0)
        dlg.sign_combo.setCurrentIndex(1)
        dlg.desc_edit.setPlainText("Full image with the new UI" if lang == "en" else "含新界面的完整镜像")
        dlg.resize(860, 640)
        shot: list = []

        def on_progress(sent: int, total: int) -> None:
            if not shot and total and 0.3 < sent / total < 0.7:
                shot.append(True)
                save(dlg, out, "new-firmware-uploading")
                dlg.uploader.cancel()

        dlg.uploader.overall_progress.connect(on_progress)
        dlg.create_button.click()
        spin(app, lambda: shot, 60, lambda: f"the upload to be half-way ({dlg.stage_label.text()} "
                                            f"{dlg.errors.errors()} {dlg.overall_bar.value()})")
        dlg.reject()

        # -- the new-task form, filled in
        before = getattr(window.tasks_page, "dialog", None)  # set once a form opened
        window.tasks_page.new_task(firmware_id)
        spin(app, lambda: getattr(window.tasks_page, "dialog", None) is not before, 10, "the task form")
        tdlg = window.tasks_page.dialog
        spin(app, lambda: tdlg.versions_list.count() == 2 and tdlg.picker.model.rowCount() == DEVICES, 10,
             "versions and devices")
        for i in range(tdlg.versions_list.count()):
            tdlg.versions_list.item(i).setCheckState(tdlg.versions_list.item(i).checkState().Checked)
        tdlg.retry_spin.setValue(2)
        tdlg.retry_interval_spin.setValue(5)
        tdlg.timeout_spin.setValue(30)
        tdlg.rate_spin.setValue(40)
        tdlg.gray_spin.setValue(100)
        tdlg.targeted_radio.setChecked(True)
        tdlg.picker.paste_edit.setPlainText("thermo-001\nthermo-002, thermo-004\nthermo-007")
        tdlg.picker.paste_button.click()
        tdlg.picker.search_edit.setText("thermo-00")
        tdlg.resize(*DEFAULT_SIZE)  # what the dialog opens at: it fits a 1366x768 laptop
        app.processEvents()
        save(tdlg, out, "new-task")
        tdlg.picker.search_edit.clear()
        tdlg.picker.paste_edit.clear()
        tdlg.picker.model.clear_checked()
        tdlg.all_radio.setChecked(True)  # the rollout itself covers every device

        # -- the same form with the safe-rollout preset and its preview (task/preview)
        tdlg.retry_spin.setValue(0)  # a failure is final at once: the waves move on, the abort rule sees it
        editor = tdlg.rollout_editor
        editor.preset_button.click()
        tdlg.preview()
        spin(app, lambda: tdlg.preview_data is not None, 20, "the preview")
        app.processEvents()
        bar = tdlg.scroll_area.verticalScrollBar()
        bar.setValue(bar.maximum())
        app.processEvents()
        save(tdlg, out, "new-task-rollout")
        # what the task then runs: waves of 10 %, 30 % and the rest, each released when the one
        # before is done; abort when 10 % of at least 30 finished devices failed
        editor._wave_rows[0].size_spin.setValue(10)
        editor._wave_rows[1].size_spin.setValue(30)
        editor.advance_spin.setValue(0)
        editor._rule_rows[0].min_spin.setValue(30)
        made: list = []
        tdlg.created.connect(made.append)
        tdlg.create_button.click()
        spin(app, lambda: made, 30, "the task")

        # -- the live table, mid-rollout
        uid = made[0]["taskUid"]
        spin(app, lambda: uid in window.live_views, 10, "the live view")
        live = window.live_views[uid]

        def mid_rollout() -> bool:
            c = live.model.status_counts()
            return (c.get(RecordStatus.SUCCEEDED, 0) >= 10 and c.get(RecordStatus.UPGRADING, 0) >= 5
                    and c.get(RecordStatus.FAILED, 0) >= 1)

        spin(app, mid_rollout, 120, "the rollout to be half-way")
        spin(app, lambda: live.waves_data is not None and live.waves_data.currentWave >= 2, 30, "the second wave")
        live.view.sortByColumn(live.model.STATUS, live.view.horizontalHeader().sortIndicatorOrder().DescendingOrder)
        app.processEvents()
        save(window, out, "live-rollout")

        # -- the same task stopped by its abort rule (when the simulated failures reach it)
        try:
            spin(app, lambda: live.task.status == 5 and live.reason_label.isVisible(), 180, "the abort rule")
        except SystemExit as exc:
            print(f"screenshots: live-aborted left out ({exc})")
        else:  # the queued records it cancelled, and the waves, shown too
            try:
                queued = (RecordStatus.QUEUED, RecordStatus.QUEUED_OFFLINE, RecordStatus.QUEUED_RETRY)
                spin(app, lambda: not any(live.model.status_counts().get(s, 0) for s in queued), 15,
                     "the cancelled records")
            except SystemExit:
                pass
            later = time.monotonic() + 1.0  # the waves' coalesced refresh (live_view.WAVES_REFRESH_MS)
            spin(app, lambda: time.monotonic() > later, 5, "")
            app.processEvents()
            save(window, out, "live-aborted")

        # -- the tasks list: each task's progress (succeeded / failed / pending)
        window.tabs.setCurrentWidget(window.tasks_page)
        window.tasks_page.reload()
        spin(app, lambda: window.tasks_page.model.rowCount() >= 1 and any(
            window.tasks_page.model.counts.values()), 30, "the tasks list")
        window.tasks_page.view.selectRow(0)
        app.processEvents()
        save(window, out, "tasks")

        # -- the task's results, exported by the live view: the CSV's first rows, the HTML summary
        exported: list = []
        live.exported.connect(exported.append)
        for fmt in ("csv", "html"):
            exported.clear()
            live.export_to(str(work / f"{live._file_stem()}.{fmt}"), fmt)
            spin(app, lambda: exported, 30, f"the {fmt} export")
            if not exported[0]:
                raise SystemExit(f"screenshots: the {fmt} export failed ({live.action_label.text()})")
            path = Path(exported[0])
            shown = csv_table(path) if fmt == "csv" else summary_browser(path.read_text(encoding="utf-8"))
            shown.show()
            app.processEvents()
            save(shown, out, "export-csv" if fmt == "csv" else "export-summary")
            shown.close()

        # -- a device through two tasks: it failed in the rollout above; repaired (its next
        # attempt succeeds), a second task, targeted at it alone, upgrades it
        from devsim.behaviour import Behaviour
        from ota_desktop.core.dto import NewTask

        records = call(client.task_records(uid))
        failed = [r for r in records if r.status == RecordStatus.FAILED and r.deviceName not in offline]
        if not failed:
            raise SystemExit("screenshots: no failed device for the history")
        name = failed[0].deviceName
        device = next(f.devices[name] for f in fleets if name in f.devices)
        repaired = device.behaviour.with_once()
        device.behaviour = repaired if repaired.once else Behaviour.parse("succeed")
        second = call(client.create_task(NewTask(firmwareID=firmware_id, type=2, deviceList=[name],
                                                 timeoutMinutes=30)))
        deadline = time.monotonic() + 90
        while True:
            recs = call(client.task_records(second["taskUid"]))
            if recs and recs[0].status in (RecordStatus.SUCCEEDED, RecordStatus.FAILED):
                break
            if time.monotonic() > deadline:
                raise SystemExit(f"screenshots: the second task did not finish ({recs})")
            later = time.monotonic() + 0.5
            spin(app, lambda t=later: time.monotonic() > t, 5, "")
        window.tabs.setCurrentWidget(window.products_page)
        page = window.products_page
        from ota_desktop.ui.models.base import ROW_ROLE

        def row_of_device() -> int:
            return next(r for r in range(page.devices_proxy.rowCount())
                        if page.devices_proxy.index(r, 0).data(ROW_ROLE).deviceName == name)

        try:  # the list follows the device's new version (device events, applied in batches)
            spin(app, lambda: page.devices_proxy.index(row_of_device(), 0).data(ROW_ROLE).version == recs[0].targetVersion,
                 10, "")
        except SystemExit:
            pass
        row = row_of_device()
        page.devices_view.selectRow(row)
        page.devices_view.scrollTo(page.devices_proxy.index(row, 0))
        page.history_button.click()
        hdlg = page.history_dialog
        spin(app, lambda: hdlg.call is not None and hdlg.call.done and hdlg.model.rowCount() > 0, 30,
             "the device's history")
        app.processEvents()
        save(hdlg, out, "device-history")
        hdlg.close()

        # -- the rollout's results as signed evidence, back at the origin
        evidence_shots(app, window, work, out, firmware_id, made[0]["taskID"])
    finally:
        for f in fleets:
            f.stop()
        conn.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    parser.add_argument("--lang", nargs="+", default=["en", "zh_CN"], choices=["en", "zh_CN"])
    parser.add_argument("--one", help=argparse.SUPPRESS)
    parser.add_argument("--only-capsules", action="store_true",
                        help="only the release-capsule shots (not the rollout, the exports or the evidence)")
    args = parser.parse_args()
    if args.one:
        render(args.one, args.out / args.one, args.only_capsules)
        return 0
    env = dict(os.environ, QT_QPA_PLATFORM=os.environ.get("QT_QPA_PLATFORM", "offscreen"))
    for lang in args.lang:  # one process per language: translators are per application
        subprocess.run([sys.executable, __file__, "--out", str(args.out), "--one", lang,
                        *(["--only-capsules"] if args.only_capsules else [])], check=True, env=env,
                       cwd=ROOT)
    return 0


if __name__ == "__main__":
    sys.exit(main())
