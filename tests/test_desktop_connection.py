"""Stable ports across restarts, taken ports named, health in words, the Connection dialog and
the provisioning export (read back by ota-devsim)."""
from __future__ import annotations

import json
import os
import shutil
import socket
import threading
import weakref

import pytest
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QFileDialog, QLineEdit

from devsim import cli as devsim_cli
from devsim.credentials import Credential, load_credentials
from ota_desktop import backend_process
from ota_desktop import connection as connection_mod
from ota_desktop.app_events import AppEvents
from ota_desktop.backend_process import explain_failure, taken_port
from ota_desktop.connection import BackendConnection, health_problem
from ota_desktop.core import api_client, workers
from ota_desktop.core.api_client import ApiClient
from ota_desktop.core.provisioning import write_provisioning
from ota_desktop.ports import Endpoints, choose_port, port_is_free
from ota_desktop.ui import products_page
from ota_desktop.ui.connection_dialog import ConnectionDialog
from ota_desktop.ui.main_window import MainWindow
from ota_desktop.ui.products_page import ProductsPage

from ._desktop_fixtures import *  # noqa: F403 - the fixtures: pytest finds them in the module by name
from ._desktop_fixtures import QT_LOG_IGNORE

pytestmark = [pytest.mark.qt_log_level_fail("WARNING"), pytest.mark.qt_log_ignore(*QT_LOG_IGNORE)]

HAVE_MOSQUITTO = bool(shutil.which("mosquitto") or os.path.exists("/usr/sbin/mosquitto"))
needs_backend = pytest.mark.skipif(not (backend_process.backend_available() and HAVE_MOSQUITTO),
                                   reason="needs the backend package and Mosquitto")


def listening(port: int = 0) -> socket.socket:
    s = socket.socket()
    # like the backend (and port_is_free): connections of an earlier run in TIME_WAIT on 7777 do not block it
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", port))
    s.listen()
    return s


# -- ports -------------------------------------------------------------------------------------

def test_choose_port_prefers_the_standard_port_when_free():
    with listening() as held:
        taken = held.getsockname()[1]
        assert not port_is_free("127.0.0.1", taken) and not port_is_free("0.0.0.0", taken)
        other = choose_port(taken, "127.0.0.1")
        assert other != taken and port_is_free("127.0.0.1", other)
    assert choose_port(taken, "127.0.0.1") == taken


def test_backend_stderr_about_a_taken_port_names_it():
    http = "ota-backend: cannot listen on 127.0.0.1:7777: the port is taken (another backend running? ...)"
    assert taken_port(http) == ("http", 7777)
    msg = explain_failure(http, 1, None)
    assert "HTTP port 7777" in msg and "Settings" in msg
    mqtt = ("ota-backend: cannot start: embedded MQTT broker (Mosquitto) on 0.0.0.0:1883: mosquitto exited with "
            "code 1 while starting; log /x/mqtt/mosquitto.log:\n1700000000: Error: Address already in use")
    assert taken_port(mqtt) == ("mqtt", 1883)
    assert "MQTT port 1883" in explain_failure(mqtt, 1, None)
    assert taken_port("ota-backend: cannot start: embedded MQTT broker (Mosquitto) on 127.0.0.1:1883: "
                      "mosquitto not found") is None


def test_remembered_port_held_by_another_program_is_reported(qtbot, settings, secret_store, monkeypatch, tmp_path):
    monkeypatch.setattr(connection_mod, "PORT_WAIT_MS", 400)
    monkeypatch.setattr(backend_process, "backend_available", lambda: True)
    monkeypatch.setattr(connection_mod, "backend_available", lambda: True)
    started = []
    monkeypatch.setattr(backend_process.BackendProcess, "start", lambda self, o, *a: started.append(o))
    settings.data_dir = str(tmp_path / "data")
    events = AppEvents()
    problems, states = [], []
    events.backend_problem.connect(lambda t, d: problems.append((t, d)))
    events.backend_state.connect(lambda s, d: states.append((s, d)))
    conn = BackendConnection(settings, secret_store, ApiClient(), events)
    with listening() as held:
        port = held.getsockname()[1]
        settings.mqtt_port = port  # remembered earlier; now another program has it
        conn.start()
        assert conn.state == "starting"  # not decided on the GUI thread: polled until PORT_WAIT_MS
        qtbot.waitUntil(lambda: conn.state == "failed", timeout=5_000)
    assert started == [] and settings.mqtt_port == port  # never moved: devices are configured for it
    assert problems[-1][0] == f"Backend: MQTT port {port} is taken"
    assert f"MQTT port {port}" in states[-1][1] and "Settings" in states[-1][1]
    assert settings.http_port != 0  # "automatic" HTTP became a remembered port


# -- health ------------------------------------------------------------------------------------

def test_health_problem_names_the_first_failing_part():
    assert health_problem({"version": "0.1", "mqttConnected": True}) == ("", "")  # older backend
    assert health_problem({"healthy": True, "checks": {}}) == ("", "")
    data = {"healthy": False, "checks": {
        "database": {"ok": True, "detail": "ok"},
        "objectStore": {"ok": False, "detail": "no answer within 3 s"},
        "disk": {"ok": False, "detail": "1 GiB free"}}}
    assert health_problem(data) == ("Backend: object store not answering", "no answer within 3 s")
    assert health_problem({"healthy": False, "checks": {"gpu": {"ok": False, "detail": "x"}}})[0] == \
        "Backend: gpu failing"


def test_status_bar_shows_the_problem_in_words(qtbot, stub_client, settings, secret_store):
    events = AppEvents()
    win = MainWindow(stub_client, events, settings, secret_store)
    qtbot.addWidget(win)
    events.backend_state.emit("ready", "http://127.0.0.1:7777")
    events.backend_problem.emit("Backend: object store not answering", "no answer within 3 s")
    assert "object store not answering" in win.backend_label.text()
    assert win.backend_label.toolTip() == "no answer within 3 s"
    events.backend_problem.emit("", "")
    assert "ready at http://127.0.0.1:7777" in win.backend_label.text()


# -- lifetimes: what a later test's event loop would otherwise free (segfaults) ---------------------

def test_pending_calls_do_not_keep_the_connection_or_client_alive(qtbot, settings, secret_store):
    """An ApiCall (a child of the client) releases its callbacks only when it is deleted (deleteLater,
    in some later event loop). Callbacks holding the connection (and so the Python-owned client) made
    that deletion free the client, which deleted the half-destroyed call again: a segfault in
    QObject::~QObject during a later test."""
    events, client = AppEvents(), ApiClient()
    conn = BackendConnection(settings, secret_store, client, events)
    with listening() as silent:  # accepts, never answers: the calls stay in flight
        client.set_endpoint(f"http://127.0.0.1:{silent.getsockname()[1]}", "t")
        conn._state = "ready"
        conn._check_health()
        client.products()  # fetch_all: its page calls are children of the client too
        qtbot.wait(50)
        conn.stop()  # aborts the health call; its deleteLater is still pending
        conn_ref, client_ref = weakref.ref(conn), weakref.ref(client)
        del conn, client
        assert conn_ref() is None and client_ref() is None  # freed here, not by the pending deletions
        qtbot.wait(50)


def test_a_finished_job_is_only_deleted_by_qt_on_the_gui_thread(qtbot):
    """The pool thread drops its references to a Job whenever it gets the GIL; the last one must never
    be its (that would destroy a GUI-thread QObject on the pool thread)."""
    job = workers.run_in_pool(lambda ctx: 42)
    destroyed_on = []
    job.destroyed.connect(lambda *_: destroyed_on.append(threading.get_ident()))
    with qtbot.waitSignal(job.finished, timeout=5_000):
        pass
    del job
    assert any(not j.running for j in workers._alive)  # delivered, still held until Qt deletes it
    qtbot.waitUntil(lambda: destroyed_on == [threading.get_ident()], timeout=5_000)
    assert not any(not j.running for j in workers._alive)


# -- connection dialog -------------------------------------------------------------------------

class FakeProcess:
    url = "http://127.0.0.1:7777"
    mqtt_url = "mqtt://127.0.0.1:1883"


class FakeConn:
    mode = "embedded"
    token = "t0ken-secret"
    process = FakeProcess()
    _client = None


def test_connection_dialog_lan_off_and_on(qtbot, settings):
    settings.mqtt_port = 1883
    dlg = ConnectionDialog(settings, FakeConn())
    qtbot.addWidget(dlg)
    assert dlg.values["http"] == "http://127.0.0.1:7777" and dlg.values["broker"] == "mqtt://127.0.0.1:1883"
    assert "LAN exposure is off" in dlg.lan_note.text()
    assert dlg.token_edit.echoMode() == QLineEdit.EchoMode.Password
    dlg.show_token_button.click()
    assert dlg.token_edit.echoMode() == QLineEdit.EchoMode.Normal
    dlg.copy_buttons["token"].click()
    assert QGuiApplication.clipboard().text() == "t0ken-secret"
    dlg.copy_buttons["broker"].click()
    assert QGuiApplication.clipboard().text() == "mqtt://127.0.0.1:1883"
    settings.lan_exposure = True
    lan = ConnectionDialog(settings, FakeConn(), addresses=["192.168.1.20"])
    qtbot.addWidget(lan)
    assert lan.values["lan0"] == "mqtt://192.168.1.20:1883" and lan.values["lanhttp0"] == "http://192.168.1.20:7777"


# -- provisioning export -----------------------------------------------------------------------

@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_export_is_read_by_devsim(qtbot, stub_client, fake_backend, monkeypatch, tmp_path, fmt):
    monkeypatch.setattr(api_client, "PAGE_SIZE", 7)  # 32 devices: five pages
    page = ProductsPage(stub_client, AppEvents())
    page.endpoints = lambda: Endpoints("http://192.168.1.20:7777", "192.168.1.20", 1883)
    qtbot.addWidget(page)
    page.reload()
    qtbot.waitUntil(lambda: page.devices_model.rowCount() == 32)
    assert page.export_button.isEnabled()
    chosen = page.tr("JSON (*.json)") if fmt == "json" else page.tr("CSV (*.csv)")
    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(
        lambda *a, **k: (str(tmp_path / "fleet"), chosen)))  # no extension typed: the filter decides
    gui_thread, writers = threading.get_ident(), []

    def write(ctx, *args):
        writers.append(threading.get_ident())
        return write_provisioning(ctx, *args)

    monkeypatch.setattr(products_page, "write_provisioning", write)
    with qtbot.waitSignal(page.exported, timeout=10_000) as done:
        page.export_button.click()
        assert not page.export_button.isEnabled()  # one export at a time
    path = tmp_path / f"fleet.{fmt}"
    assert done.args == [str(path), 32] and writers and writers[0] != gui_thread  # written off the GUI thread
    assert page.export_button.isEnabled() and oct(path.stat().st_mode & 0o777) == "0o600"
    bodies = [b for p, b in stub_client.calls if p.endswith("device/info/index") and b.get("withSecret")]
    assert len(bodies) == 5
    text = path.read_text()
    if fmt == "json":
        first = json.loads(text)["devices"][0]
        assert set(first) == {"productID", "deviceName", "deviceSecret", "mqttHost", "mqttPort", "baseUrl"}
        assert (first["mqttHost"], first["mqttPort"], first["baseUrl"]) == ("192.168.1.20", 1883,
                                                                            "http://192.168.1.20:7777")
    else:
        assert text.splitlines()[0] == "productID,deviceName,deviceSecret,mqttHost,mqttPort,baseUrl"
        assert text.splitlines()[1].endswith(",192.168.1.20,1883,http://192.168.1.20:7777")
    expected = sorted((d.productID, d.deviceName, d.deviceSecret) for d in fake_backend.devices["prodA"].values())
    creds = load_credentials(path)
    assert sorted((c.product_id, c.device_name, c.secret) for c in creds) == expected
    assert all(c.secret and c.secret.startswith("secret-") for c in creds)
    # ... and through ota-devsim's own command line
    parser = devsim_cli.build_parser()
    args = parser.parse_args(["--credentials", str(path), "--count", "3"])
    assert devsim_cli._credentials(args, parser) == creds[:3]
    assert isinstance(creds[0], Credential)


def test_export_failure_is_reported(qtbot, stub_client, fake_backend, tmp_path):
    events = AppEvents()
    errors = []
    events.error.connect(lambda t, m: errors.append(m))
    page = ProductsPage(stub_client, events)
    qtbot.addWidget(page)
    page.reload()
    qtbot.waitUntil(lambda: page.devices_model.rowCount() == 32)
    with qtbot.waitSignal(page.exported, timeout=10_000) as done:
        page.export_to("prodA", str(tmp_path / "missing-dir" / "x.csv"), "csv")
    assert done.args == ["", -1] and errors and page.export_button.isEnabled()


# -- the real embedded backend: restarts keep the ports, devices come back by themselves ------------

@needs_backend
@pytest.mark.mqtt
def test_restart_keeps_ports_and_devices_reconnect(qtbot, settings, secret_store, tmp_path):
    import paho.mqtt.client as paho
    from paho.mqtt.enums import CallbackAPIVersion

    settings.data_dir = str(tmp_path / "backend-data")
    assert (settings.http_port, settings.mqtt_port) == (0, 0)  # "automatic", as installed
    events, client = AppEvents(), ApiClient()
    conn = BackendConnection(settings, secret_store, client, events)
    blocker = None if not port_is_free("127.0.0.1", 7777) else listening(7777)  # 7777 taken by "another program"
    device = None
    try:
        conn.start()
        qtbot.waitUntil(lambda: conn.state == "ready", timeout=60_000)
        http_port, mqtt_port = settings.http_port, settings.mqtt_port
        assert http_port not in (0, 7777) and mqtt_port != 0  # picked once ...
        assert client.base_url == f"http://127.0.0.1:{http_port}"
        assert conn.process.mqtt_url == f"mqtt://127.0.0.1:{mqtt_port}"
        assert conn._health.isActive()  # the embedded backend's health is polled too
        if blocker is not None:
            blocker.close()  # 7777 is free again: the remembered port must still win
        with qtbot.waitCallback(timeout=10_000) as cb:
            client.create_product("Lamp", "lamp01").then(cb, cb)
        with qtbot.waitCallback(timeout=10_000) as cb:
            client.create_device("lamp01", "lamp-1", "1.0.0").then(cb, cb)
        secret = cb.args[0].deviceSecret
        connects = []
        device = paho.Client(CallbackAPIVersion.VERSION2, client_id="lamp01&lamp-1", protocol=paho.MQTTv311)
        device.username_pw_set("lamp01&lamp-1", secret)
        device.reconnect_delay_set(min_delay=1, max_delay=2)
        device.on_connect = lambda c, u, f, rc, p: connects.append(rc.value if hasattr(rc, "value") else rc)
        device.connect_async("127.0.0.1", mqtt_port, keepalive=5)
        device.loop_start()
        assert secret
        qtbot.waitUntil(lambda: connects[-1:] == [0], timeout=20_000)  # once the broker has the new device
        before = len(connects)

        conn.restart()  # what a language switch, "Restart backend" or a reboot does
        qtbot.waitUntil(lambda: conn.state == "ready", timeout=60_000)
        assert (settings.http_port, settings.mqtt_port) == (http_port, mqtt_port)  # ... and kept
        assert client.base_url == f"http://127.0.0.1:{http_port}"
        assert conn.process.mqtt_url == f"mqtt://127.0.0.1:{mqtt_port}"
        qtbot.waitUntil(lambda: connects[-1:] == [0] and len(connects) > before, timeout=30_000)  # by itself
    finally:
        if device is not None:
            device.loop_stop()
            device.disconnect()
        if blocker is not None:
            blocker.close()
        conn.stop()
