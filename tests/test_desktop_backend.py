"""The managed backend: ready line, actionable failures, loss and restart; the live stream."""
from __future__ import annotations

import os
import shutil
import signal
import sys

import psutil
import pytest

from ota_desktop import backend_process
from ota_desktop import secrets as keys
from ota_desktop.app_events import AppEvents
from ota_desktop.backend_process import BackendOptions, BackendProcess
from ota_desktop.connection import BackendConnection
from ota_desktop.core.api_client import ApiClient

from ._desktop_fixtures import *  # noqa: F403 - the fixtures: pytest finds them in the module by name
from ._desktop_fixtures import QT_LOG_IGNORE

pytestmark = [pytest.mark.qt_log_level_fail("WARNING"), pytest.mark.qt_log_ignore(*QT_LOG_IGNORE)]

HAVE_MOSQUITTO = bool(shutil.which("mosquitto") or os.path.exists("/usr/sbin/mosquitto"))
needs_backend = pytest.mark.skipif(not (backend_process.backend_available() and HAVE_MOSQUITTO),
                                   reason="needs the backend package and Mosquitto")


def fake_backend_command(monkeypatch, script: str) -> None:
    monkeypatch.setattr(backend_process, "backend_command",
                        lambda args: (sys.executable, ["-c", script, *args]))


def options(tmp_path) -> BackendOptions:
    return BackendOptions(data_dir=str(tmp_path / "data"), admin_token="tok")


def test_ready_line_gives_the_url(qtbot, monkeypatch, tmp_path):
    fake_backend_command(monkeypatch, "import os,sys,time; assert os.environ['OTA_ADMIN_TOKEN']=='tok';"
                                      "print('starting'); print('ota-backend 0.1 ready http://127.0.0.1:4567 "
                                      "mqtt://127.0.0.1:1883', flush=True); time.sleep(30)")
    proc = BackendProcess()
    with qtbot.waitSignal(proc.ready, timeout=10_000) as ready:
        proc.start(options(tmp_path))
    assert ready.args == ["http://127.0.0.1:4567"] and proc.mqtt_url == "mqtt://127.0.0.1:1883"
    assert proc.state == "running"
    proc.stop()
    assert proc.state == "stopped"


def test_missing_mosquitto_is_explained(qtbot, monkeypatch, tmp_path):
    fake_backend_command(monkeypatch, "import sys; sys.stderr.write('error: mosquitto not found: install it "
                                      "with apt-get install mosquitto\\n'); sys.exit(3)")
    proc = BackendProcess()
    with qtbot.waitSignal(proc.failed, timeout=10_000) as failed:
        proc.start(options(tmp_path))
    assert "apt-get install mosquitto" in failed.args[0] and proc.state == "failed"


def test_no_ready_line_times_out(qtbot, monkeypatch, tmp_path):
    fake_backend_command(monkeypatch, "import time; time.sleep(30)")
    proc = BackendProcess()
    with qtbot.waitSignal(proc.failed, timeout=10_000) as failed:
        proc.start(options(tmp_path), timeout_ms=500)
    assert "did not report" in failed.args[0]


def test_exit_after_ready_is_a_loss(qtbot, monkeypatch, tmp_path):
    fake_backend_command(monkeypatch, "import sys,time; print('ready http://127.0.0.1:9', flush=True); "
                                      "time.sleep(0.3); sys.stderr.write('boom\\n'); sys.exit(1)")
    proc = BackendProcess()
    with qtbot.waitSignal(proc.ready, timeout=10_000):
        proc.start(options(tmp_path))
    with qtbot.waitSignal(proc.lost, timeout=10_000) as lost:
        pass
    assert "exit code 1" in lost.args[0] and "boom" in lost.args[0]


@needs_backend
@pytest.mark.mqtt
def test_embedded_backend_starts_streams_is_lost_and_restarts(qtbot, settings, secret_store, desktop_env, tmp_path):
    settings.data_dir = str(tmp_path / "backend-data")
    events, client = AppEvents(), ApiClient()
    states: list[tuple[str, str]] = []
    events.backend_state.connect(lambda s, d: states.append((s, d)))
    stream_states: list[str] = []
    events.stream_state.connect(stream_states.append)
    conn = BackendConnection(settings, secret_store, client, events)
    try:
        conn.start()
        qtbot.waitUntil(lambda: conn.state == "ready", timeout=60_000)
        token = desktop_env.store[("ota-desktop", keys.ADMIN_TOKEN)]
        assert client.token == token and len(token) >= 32  # generated once, kept in the keyring
        assert client.base_url.startswith("http://127.0.0.1:")
        qtbot.waitUntil(lambda: conn.stream.state == "connected", timeout=10_000)
        with qtbot.waitCallback() as cb:
            client.create_product("Lamp", "lamp01").then(cb, cb)
        assert cb.args == [{"productID": "lamp01"}]
        # the child dies: reported as lost, with a restart that works
        os.kill(conn.process._proc.processId(), signal.SIGKILL)
        qtbot.waitUntil(lambda: conn.state == "lost", timeout=10_000)
        assert states[-1][0] == "lost"
        conn.restart()
        qtbot.waitUntil(lambda: conn.state == "ready", timeout=60_000)
        assert client.token == token
        with qtbot.waitCallback() as cb:
            client.products().then(cb, cb)
        assert isinstance(cb.args[0], list)  # answers again (what survives a SIGKILL is the backend's affair)
        qtbot.waitUntil(lambda: conn.stream.state == "connected", timeout=10_000)
    finally:
        proc = conn.process._proc
        pid = proc.processId() if proc is not None else 0
        conn.stop()
    assert (pid and not psutil.pid_exists(pid)) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    broker = [p for p in psutil.process_iter(["cmdline"]) if str(tmp_path) in " ".join(p.info["cmdline"] or [])]
    _gone, alive = psutil.wait_procs(broker, timeout=5)
    assert alive == [], "the backend's broker outlived it"
    assert [s for s, _ in states][:2] == ["starting", "ready"]


@needs_backend
def test_remote_mode_needs_url_and_reports_unreachable(qtbot, settings, secret_store):
    settings.backend_mode = "remote"
    events, client = AppEvents(), ApiClient()
    conn = BackendConnection(settings, secret_store, client, events)
    states = []
    events.backend_state.connect(lambda s, d: states.append((s, d)))
    conn.start()
    assert states[-1][0] == "failed" and "URL" in states[-1][1]
    settings.remote_url = "http://127.0.0.1:9"  # nothing listens there
    secret_store.set(keys.REMOTE_TOKEN, "t")
    conn.start()
    qtbot.waitUntil(lambda: states[-1][0] == "failed", timeout=10_000)
    assert "Cannot reach" in states[-1][1]
    conn.stop()
