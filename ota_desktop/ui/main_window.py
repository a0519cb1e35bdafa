"""The main window: pages in tabs, live task views, actions with shortcuts, backend status."""
from __future__ import annotations

import html
import sys

from PySide6.QtCore import QCoreApplication, QProcess, QSize, Qt
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QTabWidget,
    QWidget,
)

from .. import __version__
from ..app_events import AppEvents
from ..backend_process import failure_parts
from ..core import dto
from ..core.api_client import ApiClient
from ..secrets import SecretStore, remember_session_only, remembered_session_only
from ..settings import REMOTE, Settings
from . import capsule_dialogs, forms
from .connection_dialog import ConnectionDialog
from .firmware_page import FirmwarePage
from .live_view import LiveTaskView
from .products_page import ProductsPage
from .settings_dialog import SettingsDialog
from .tasks_page import TasksPage


def restart_command() -> tuple[str, list[str]]:
    """(program, arguments) that start this app again, in a frozen bundle or from Python."""
    if getattr(sys, "frozen", False):
        return sys.executable, sys.argv[1:]
    return sys.executable, ["-m", "ota_desktop", *sys.argv[1:]]


DEFAULT_SIZE = QSize(1200, 760)
STATE_COLOURS = {"ready": "#15803d", "starting": "#b45309", "failed": "#dc2626", "lost": "#dc2626",
                 "stopped": "#6b7280"}


class MainWindow(QMainWindow):
    def __init__(self, client: ApiClient, events: AppEvents, settings: Settings, secret_store: SecretStore,
                 connection=None, parent: QWidget | None = None) -> None:  # noqa: ANN001
        super().__init__(parent)
        self.client, self.events, self.settings, self.secrets = client, events, settings, secret_store
        self.connection = connection
        self.setWindowTitle(self.tr("OTA Desktop"))
        # at most the free area of the screen, title bar included (768 px laptop screens: 728 free)
        self.resize(DEFAULT_SIZE.boundedTo(forms.available_size(self) - QSize(0, forms.FRAME_ALLOWANCE)))

        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.tabs.setTabsClosable(True)
        self.tabs.tabCloseRequested.connect(self._close_tab)
        self.products_page = ProductsPage(client, events)
        self.firmware_page = FirmwarePage(client, events)
        self.tasks_page = TasksPage(client, events)
        if connection is not None and hasattr(connection, "device_endpoints"):
            self.products_page.endpoints = connection.device_endpoints
        self.tabs.addTab(self.products_page, self.tr("Products && devices"))
        self.tabs.addTab(self.firmware_page, self.tr("Firmware"))
        self.tabs.addTab(self.tasks_page, self.tr("Tasks"))
        for i in range(3):
            self.tabs.tabBar().setTabButton(i, self.tabs.tabBar().ButtonPosition.RightSide, None)
        self.setCentralWidget(self.tabs)
        self.firmware_page.new_task_requested.connect(self._new_task_for)
        self.tasks_page.open_live.connect(self.open_live_view)
        self.live_views: dict[str, LiveTaskView] = {}

        self._build_actions()
        self._build_status_bar()
        self._state, self._detail, self._state_text, self._problem = "stopped", "", "", ("", "")
        events.backend_state.connect(self._backend_state)
        events.backend_problem.connect(self._backend_problem)
        events.stream_state.connect(self._stream_state)
        events.error.connect(self._show_error)
        events.notice.connect(lambda text: self.statusBar().showMessage(text, 5000))
        self._backend_state("stopped", "")
        self._restore_geometry()

    # -- actions -------------------------------------------------------------------------------
    def _action(self, text: str, shortcut: QKeySequence | QKeySequence.StandardKey | str | None, slot, menu) -> QAction:  # noqa: ANN001
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        action.triggered.connect(slot)
        menu.addAction(action)
        return action

    def _build_actions(self) -> None:
        bar = self.menuBar()
        file_menu = bar.addMenu(self.tr("&File"))
        self.settings_action = self._action(self.tr("&Settings…"), "Ctrl+,", self.open_settings, file_menu)
        file_menu.addSeparator()
        self.capsule_actions = [
            self._action(self.tr("&Export release capsule…"), None, self.export_capsule, file_menu),
            self._action(self.tr("&Import release capsule…"), None, self.import_capsule, file_menu),
            self._action(self.tr("Task &drafts…"), None, self.open_task_drafts, file_menu),
        ]
        file_menu.addSeparator()
        self.capsule_actions += [
            self._action(self.tr("Export e&vidence…"), None, self.export_evidence, file_menu),
            self._action(self.tr("Import evi&dence…"), None, self.import_evidence, file_menu),
            self._action(self.tr("&Release evidence…"), None, self.open_release_evidence, file_menu),
        ]
        file_menu.addSeparator()
        self.capsule_actions.append(
            self._action(self.tr("&Trusted publishers…"), None, self.open_trusted_publishers, file_menu))
        file_menu.addSeparator()
        self.quit_action = self._action(self.tr("&Quit"), "Ctrl+Q", self.close, file_menu)
        ota = bar.addMenu(self.tr("&OTA"))
        self.new_product_action = self._action(self.tr("New &product…"), "Ctrl+Shift+P",
                                               self.products_page.add_product, ota)
        self.import_action = self._action(self.tr("&Import devices…"), "Ctrl+I",
                                          self.products_page.import_devices, ota)
        self.new_firmware_action = self._action(self.tr("New &firmware…"), QKeySequence.StandardKey.New,
                                                self.firmware_page.new_firmware, ota)
        self.new_task_action = self._action(self.tr("New &task…"), "Ctrl+T", lambda: self.tasks_page.new_task(), ota)
        ota.addSeparator()
        self.refresh_action = self._action(self.tr("&Refresh"), "F5", self.refresh, ota)
        self.restart_action = self._action(self.tr("Restart &backend"), "Ctrl+Shift+R", self.restart_backend, ota)
        view = bar.addMenu(self.tr("&View"))
        for i, name in enumerate((self.tr("Products && devices"), self.tr("Firmware"), self.tr("Tasks"))):
            self._action(name, f"Ctrl+{i + 1}", lambda _=False, i=i: self.tabs.setCurrentIndex(i), view)
        self._action(self.tr("Close live view"), QKeySequence.StandardKey.Close,
                     lambda: self._close_tab(self.tabs.currentIndex()), view)
        help_menu = bar.addMenu(self.tr("&Help"))
        self.connection_action = self._action(self.tr("&Connection…"), None, self.open_connection, help_menu)
        self.forget_session_action = self._action(self.tr("Ask about the &keyring again at the next start"), None,
                                                  self.forget_session_only_choice, help_menu)
        self.forget_session_action.setVisible(remembered_session_only())
        self._action(self.tr("&About OTA Desktop"), None, self._about, help_menu)

    def _build_status_bar(self) -> None:
        sb = self.statusBar()
        self.backend_label = QLabel()
        self.backend_label.setObjectName("backend_state")
        self.start_progress = QProgressBar()
        self.start_progress.setRange(0, 0)
        self.start_progress.setMaximumWidth(120)
        self.start_progress.setMaximumHeight(14)
        self.restart_button = QPushButton(self.tr("Restart backend"))
        self.restart_button.setFlat(True)
        self.restart_button.clicked.connect(self.restart_backend)
        self.stream_label = QLabel()
        sb.addPermanentWidget(self.stream_label)
        sb.addPermanentWidget(self.start_progress)
        sb.addPermanentWidget(self.backend_label)
        sb.addPermanentWidget(self.restart_button)

    # -- backend state ----------------------------------------------------------------------------
    def _backend_state(self, state: str, detail: str) -> None:
        texts = {
            "starting": self.tr("Backend: starting…"),
            "ready": self.tr("Backend: ready at %1"),
            "failed": self.tr("Backend: not running"),
            "lost": self.tr("Backend: connection lost"),
            "stopped": self.tr("Backend: stopped"),
        }
        self._state, self._detail = state, detail
        if state == "starting":
            self._problem = ("", "")
        self._render_backend_label(texts.get(state, state).replace("%1", detail))
        self.start_progress.setVisible(state == "starting")
        self.restart_button.setVisible(state in ("failed", "lost"))
        self.tabs.setEnabled(state == "ready")
        for action in (self.new_product_action, self.import_action, self.new_firmware_action,
                       self.new_task_action, self.refresh_action, *self.capsule_actions):
            action.setEnabled(state == "ready")
        if state == "ready":
            self.refresh()
        elif state in ("failed", "lost") and detail:
            sentence, error_line, log = failure_parts(detail)
            box = QMessageBox(QMessageBox.Icon.Critical, self.tr("Backend"),
                              self.tr("The backend is not available.") if state == "failed"
                              else self.tr("The connection to the backend was lost."),
                              QMessageBox.StandardButton.NoButton, self)
            info = html.escape(sentence)
            if error_line:
                info += "<p>" + self.tr("Last error:") + "<br><code>" + html.escape(error_line) + "</code></p>"
            box.setInformativeText(f"<p>{info}</p>")
            if log:  # the backend's own log lines behind "Show Details…"
                box.setDetailedText(self.tr("Backend log (last lines):") + "\n" + log)
            retry = box.addButton(self.tr("Restart backend"), QMessageBox.ButtonRole.AcceptRole)
            settings = box.addButton(self.tr("Settings…"), QMessageBox.ButtonRole.ActionRole)
            box.addButton(QMessageBox.StandardButton.Close)
            box.buttonClicked.connect(lambda b: self.restart_backend() if b is retry else
                                      self.open_settings() if b is settings else None)
            box.setWindowModality(Qt.WindowModality.WindowModal)
            box.open()
            self.backend_box = box

    def _render_backend_label(self, text: str | None = None) -> None:
        """The state in words; a failing health check or a taken port replaces it (tooltip: detail)."""
        if text is not None:
            self._state_text = text
        state, text, detail = self._state, self._state_text, self._detail
        problem, problem_detail = self._problem
        colour = STATE_COLOURS.get(state, "#6b7280")
        if problem and state in ("ready", "failed"):
            colour = "#b45309" if state == "ready" else colour
            text, detail = problem, problem_detail or detail
        self.backend_label.setText(f'<span style="color:{colour}">●</span> ' + text)
        self.backend_label.setToolTip(detail)

    def _backend_problem(self, text: str, detail: str) -> None:
        self._problem = (text, detail)
        self._render_backend_label()

    def _stream_state(self, state: str) -> None:
        texts = {"connected": self.tr("Live updates: on"), "connecting": self.tr("Live updates: connecting…"),
                 "reconnecting": self.tr("Live updates: reconnecting…"), "stopped": ""}
        self.stream_label.setText(texts.get(state, ""))

    def restart_backend(self) -> None:
        if self.connection is not None:
            self.connection.restart()

    def refresh(self) -> None:
        self.products_page.reload()
        self.firmware_page.reload()
        self.tasks_page.reload()
        for view in self.live_views.values():
            view.reload()

    def _show_error(self, title: str, message: str) -> None:
        self.statusBar().showMessage(f"{title}: {message}", 10_000)

    # -- tabs ----------------------------------------------------------------------------------
    def _new_task_for(self, firmware_id: int) -> None:
        self.tasks_page.new_task(firmware_id)

    def open_live_view(self, task: dto.Task) -> LiveTaskView:
        view = self.live_views.get(task.taskUid)
        if view is None:
            view = LiveTaskView(self.client, self.events, task)
            self.live_views[task.taskUid] = view
            self.tabs.addTab(view, self.tr("Task %1").replace("%1", str(task.taskID)))
            view.reload()
        self.tabs.setCurrentWidget(view)
        return view

    def _close_tab(self, index: int) -> None:
        view = self.tabs.widget(index)
        if isinstance(view, LiveTaskView):
            self.tabs.removeTab(index)
            self.live_views.pop(view.task.taskUid, None)
            view.deleteLater()

    # -- release capsules (issue 15) -----------------------------------------------------------
    def _open(self, dlg: QDialog) -> QDialog:
        """Show a capsule dialog, not modal: the pages stay usable during a long transfer."""
        dlg.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dlg.show()
        self.capsule_dialog = dlg
        return dlg

    def export_capsule(self) -> QDialog:
        fw = self.firmware_page.current()
        return self._open(capsule_dialogs.ExportCapsuleDialog(self.client, fw.firmwareID if fw else 0, self))

    def import_capsule(self) -> QDialog:
        dlg = capsule_dialogs.ImportCapsuleDialog(self.client, self)
        dlg.imported.connect(self._capsule_imported)
        dlg.task_started.connect(self._draft_started)
        dlg.trust_requested.connect(self.open_trusted_publishers)
        return self._open(dlg)

    def _capsule_imported(self, result: dto.CapsuleImported) -> None:
        if result.productCreated:
            self.events.products_changed.emit()
        self.events.firmware_changed.emit()

    def _draft_started(self, data: dict) -> None:
        self.events.tasks_changed.emit()
        self.statusBar().showMessage(self.tr("Task %1 started.").replace("%1", str(data.get("taskID", ""))), 5000)

    def open_task_drafts(self) -> QDialog:
        dlg = capsule_dialogs.TaskDraftsDialog(self.client, self)
        dlg.task_started.connect(self._draft_started)
        return self._open(dlg)

    def export_evidence(self) -> QDialog:
        return self._open(capsule_dialogs.ExportEvidenceDialog(self.client, self.tasks_page.current(), self))

    def import_evidence(self) -> QDialog:
        dlg = capsule_dialogs.ImportEvidenceDialog(self.client, self)
        dlg.trust_requested.connect(self.open_trusted_publishers)
        dlg.evidence_requested.connect(self.open_release_evidence)
        return self._open(dlg)

    def open_release_evidence(self) -> QDialog:
        dlg = capsule_dialogs.ReleaseEvidenceDialog(self.client, self)
        dlg.import_requested.connect(self.import_evidence)
        return self._open(dlg)

    def open_trusted_publishers(self) -> QDialog:
        embedded = self.connection is not None and getattr(self.connection, "mode", REMOTE) != REMOTE
        return self._open(capsule_dialogs.TrustedPublishersDialog(self.client, self.secrets if embedded else None,
                                                                  self))

    # -- settings, about, geometry -------------------------------------------------------------
    def open_settings(self) -> None:
        dlg = SettingsDialog(self.settings, self.secrets, self)
        if dlg.exec():
            if dlg.backend_changed:
                self.restart_backend()
            if dlg.language_changed:
                self.ask_restart_for_language()

    def ask_restart_for_language(self) -> QMessageBox:
        """The window's texts change at the next start: offer to restart now."""
        box = QMessageBox(QMessageBox.Icon.Information, self.tr("Language"), self.tr(
            "The new language is used after OTA Desktop restarts."), QMessageBox.StandardButton.NoButton, self)
        box.setInformativeText(self.tr("Restart now? Open forms are closed; the backend restarts with the app."))
        self.restart_now_button = box.addButton(self.tr("Restart now"), QMessageBox.ButtonRole.AcceptRole)
        box.addButton(self.tr("Later"), QMessageBox.ButtonRole.RejectRole)
        box.setDefaultButton(self.restart_now_button)
        box.buttonClicked.connect(lambda b: self.restart_app() if b is self.restart_now_button else None)
        box.setWindowModality(Qt.WindowModality.WindowModal)
        box.open()
        self.language_box = box
        return box

    def restart_app(self) -> None:
        """Quit, and once the backend has stopped (aboutToQuit), start the app again."""
        app = QCoreApplication.instance()
        assert app is not None  # a window exists, so does the application
        program, args = restart_command()
        app.aboutToQuit.connect(lambda: QProcess.startDetached(program, args))
        QApplication.closeAllWindows()
        app.quit()

    def forget_session_only_choice(self) -> None:
        remember_session_only(False)
        self.forget_session_action.setVisible(False)
        self.statusBar().showMessage(self.tr("At the next start OTA Desktop asks again where to keep secrets."),
                                     5000)

    def open_connection(self) -> ConnectionDialog:
        dlg = ConnectionDialog(self.settings, self.connection, self)
        dlg.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dlg.open()
        return dlg

    def secrets_text(self) -> str:
        if self.secrets.session_only:
            return self.tr("Secrets are kept for this session only (no OS keyring): they are forgotten "
                           "when OTA Desktop quits.")
        if self.secrets.keyring_available:
            return self.tr("Secrets are kept in the OS keyring: %1.").replace(
                "%1", html.escape(self.secrets.friendly_name))
        return self.tr("No keyring is available: secrets cannot be kept.")

    def about_text(self) -> str:
        return self.tr(
            "<b>OTA Desktop</b> %1<p>Firmware packages, upgrade tasks and live device status for "
            "iThings-compatible IoT fleets.</p><p>%2</p>").replace("%1", html.escape(__version__)).replace(
            "%2", self.secrets_text())

    def _about(self) -> None:
        QMessageBox.about(self, self.tr("About OTA Desktop"), self.about_text())

    def _restore_geometry(self) -> None:
        if not self.settings.geometry.isEmpty():
            self.restoreGeometry(self.settings.geometry)
        if not self.settings.window_state.isEmpty():
            self.restoreState(self.settings.window_state)

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802
        self.settings.geometry = self.saveGeometry()
        self.settings.window_state = self.saveState()
        self.settings.sync()
        super().closeEvent(event)
