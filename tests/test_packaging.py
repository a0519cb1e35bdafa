"""The release bundle: build it, unpack the tar.gz elsewhere, and run it without Python.

One build per module (about a minute and a half): `packaging/build.py` into a temporary
folder, then the archive is checked against its .sha256 and unpacked into another one. Every
program runs from that copy with a clean environment: PATH=/usr/bin:/bin (no virtualenv, no
/usr/sbin, so no system Mosquitto on the path), no PYTHONPATH/PYTHONHOME, no OTA_* settings,
HOME and the XDG folders in tmp.
"""
from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import tarfile
import threading
import time
from pathlib import Path

import pytest

from backend import __version__

from ._ota_helpers import SEED_PRODUCT, make_devices, make_product, seed_firmware, task_create, wait_records
from ._wait import wait_for
from .conftest import ROOT, TOKEN, Api

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]

DEVICES = 5
MEMORY_KEYRING = '''\
"""An in-memory keyring for the packaging test (loaded through keyringrc.cfg's keyring-path)."""
from keyring.backend import KeyringBackend


class Keyring(KeyringBackend):
    priority = 1
    _store = {}

    def get_password(self, service, username):
        return self._store.get((service, username))

    def set_password(self, service, username, password):
        self._store[(service, username)] = password

    def delete_password(self, service, username):
        self._store.pop((service, username), None)
'''

# Runs the bundled desktop app's own main() inside the bundle and reports when its main window
# is visible (test-only: written into the unpacked copy, never part of the artifact).
WINDOW_PROBE = '''\
import json, sys
from importlib.resources import files

import ota_desktop.__main__ as desktop
from ota_desktop import i18n
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QMainWindow

result = {"resources": str(files("ota_desktop.resources")),
          "migrations_env": (files("backend.db.migrations") / "env.py").is_file(),
          "qm_zh_CN": str(i18n.find_qm("zh_CN"))}
configure = desktop.configure_app


def configure_and_watch(app, settings):
    result["language"] = configure(app, settings)
    result["platform"] = app.platformName()
    timer = QTimer(app, interval=100)

    def check():
        shown = [w for w in app.topLevelWidgets() if isinstance(w, QMainWindow) and w.isVisible()]
        if shown:
            timer.stop()
            result.update(window=type(shown[0]).__name__, title=shown[0].windowTitle(),
                          size=[shown[0].width(), shown[0].height()])
            app.quit()

    timer.timeout.connect(check)
    timer.start()
    QTimer.singleShot(45000, lambda: app.exit(3))
    return result["language"]


desktop.configure_app = configure_and_watch
code = desktop.main([sys.argv[0]])
print("PROBE " + json.dumps(result), flush=True)
sys.exit(code)
'''


def clean_env(home: Path, **extra: str) -> dict[str, str]:
    """The environment of a workstation without Python or Mosquitto on PATH."""
    path = os.pathsep.join(p for p in ("/usr/bin", "/bin") if "python" not in p.lower())
    env = {"PATH": path, "HOME": str(home / "home"), "LANG": "C.UTF-8", "QT_QPA_PLATFORM": "offscreen",
           "XDG_CONFIG_HOME": str(home / "config"), "XDG_DATA_HOME": str(home / "data"),
           "XDG_CACHE_HOME": str(home / "cache"), "XDG_RUNTIME_DIR": str(home / "runtime")}
    for key in ("HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME", "XDG_RUNTIME_DIR"):
        Path(env[key]).mkdir(mode=0o700, parents=True, exist_ok=True)
    env.update(extra)
    assert not any(k.startswith(("PYTHON", "OTA_MOSQUITTO")) for k in env)
    return env


def processes_under(folder: Path) -> dict[int, list[str]]:
    """pid -> command line of every process whose executable lives in ``folder``."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            exe = os.readlink(entry / "exe")
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
            state = (entry / "stat").read_text().rpartition(")")[2].split()[0]
        except OSError:
            continue
        if state != "Z" and exe.startswith(str(folder) + os.sep):
            found[int(entry.name)] = [c.decode(errors="replace") for c in cmdline if c]
    return found


def stop_leftovers(folder: Path) -> dict[int, list[str]]:
    """SIGTERM (then SIGKILL) whatever still runs from ``folder``; returns what was found."""
    left = processes_under(folder)
    for pid in left:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + 5
    while processes_under(folder) and time.monotonic() < deadline:
        time.sleep(0.1)
    for pid in processes_under(folder):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return left


def stop(proc: subprocess.Popen, timeout: float = 20) -> int:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    """The executable of a freshly built bundle, unpacked from the release tar.gz."""
    pytest.importorskip("PyInstaller", reason="PyInstaller is not installed (pip install -e '.[packaging]')")
    out = tmp_path_factory.mktemp("build")
    started = time.monotonic()
    build = subprocess.run([sys.executable, str(ROOT / "packaging" / "build.py"), "--dist-dir", str(out / "dist"),
                            "--work-dir", str(out / "work")], cwd=ROOT, capture_output=True, text=True)
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-6000:]
    print(f"\nbundle built in {time.monotonic() - started:.0f} s:\n{build.stdout}")
    archives = list((out / "dist").glob(f"ota-desktop-{__version__}-linux-*.tar.gz"))
    assert len(archives) == 1, list((out / "dist").iterdir())
    archive = archives[0]
    digest, name = Path(f"{archive}.sha256").read_text().split()
    assert name == archive.name
    assert hashlib.sha256(archive.read_bytes()).hexdigest() == digest

    unpacked = tmp_path_factory.mktemp("unpacked")
    with tarfile.open(archive) as tar:
        tar.extractall(unpacked, filter="tar")
    exe = unpacked / "ota-desktop" / "ota-desktop"
    assert os.access(exe, os.X_OK)
    yield exe
    left = stop_leftovers(exe.parent)
    assert not left, f"processes of the bundle still ran after the tests: {left}"


def test_version(bundle, tmp_path):
    out = subprocess.run([str(bundle), "--version"], env=clean_env(tmp_path), capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == f"ota-desktop {__version__}"


def test_contents_are_trimmed(bundle):
    internal = bundle.parent / "_internal"
    qt = internal / "PySide6" / "Qt"
    platforms = {p.name for p in (qt / "plugins" / "platforms").iterdir()}
    assert {"libqoffscreen.so", "libqxcb.so"} <= platforms
    assert not platforms - {"libqoffscreen.so", "libqxcb.so"}
    assert not (qt / "plugins" / "platformthemes").exists()
    assert not (qt / "qml").exists()
    libs = {p.name for p in (qt / "lib").iterdir()}
    assert not [n for n in libs if n.startswith(("libQt6Qml", "libQt6Quick", "libQt6Pdf", "libQt6OpenGL",
                                                  "libQt6Wayland"))], libs
    assert not list(internal.glob("libgtk*")) and not list(internal.glob("libcairo*"))
    assert sorted(p.name for p in (qt / "translations").iterdir()) == ["qtbase_zh_CN.qm"]
    assert (internal / "ota_desktop" / "resources" / "translations" / "ota_desktop_zh_CN.qm").is_file()
    assert (internal / "backend" / "db" / "migrations" / "script.py.mako").is_file()
    broker = bundle.parent / "mosquitto" / "mosquitto"
    assert os.access(broker, os.X_OK)


def test_backend_seed_walkthrough_with_bundled_devsim(bundle, tmp_path):
    env = clean_env(tmp_path, OTA_ADMIN_TOKEN=TOKEN)
    backend = subprocess.Popen([str(bundle), "backend", "--data-dir", str(tmp_path / "data"), "--http-port", "0",
                                "--mqtt-port", "0"], env=env, cwd=tmp_path, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, bufsize=1)
    api = None
    lines: list[str] = []
    try:
        for line in backend.stdout:
            lines.append(line)
            if " ready http://" in line:
                break
        else:
            pytest.fail("bundled backend exited before it was ready:\n" + "".join(lines[-40:]))
        words = line.split()
        base_url = next(w for w in words if w.startswith("http://"))
        mqtt_port = int(next(w for w in words if w.startswith("mqtt://")).rsplit(":", 1)[1])
        # keep reading its output so it never blocks on a full pipe
        threading.Thread(target=lambda: lines.extend(backend.stdout), daemon=True).start()

        children = processes_under(bundle.parent)
        brokers = [cmd for cmd in children.values() if Path(cmd[0]).name == "mosquitto"]
        assert brokers and brokers[0][0] == str(bundle.parent / "mosquitto" / "mosquitto"), children
        assert any(cmd[1:3] == ["_module", "nanio"] for cmd in children.values()), children

        api = Api(base_url)
        make_product(api, SEED_PRODUCT)
        make_devices(api, SEED_PRODUCT, DEVICES)
        firmware_id, _ = seed_firmware(api)
        _, task_uid = task_create(api, firmware_id)

        devsim = subprocess.run(
            [str(bundle), "devsim", "--base-url", base_url, "--mqtt-url", f"mqtt://127.0.0.1:{mqtt_port}",
             "--token", TOKEN, "--product", SEED_PRODUCT, "--count", str(DEVICES), "--start-version", "0.9.0",
             "--flash-seconds", "0.1", "--until-idle", "3", "--status-interval", "0", "--json-summary"],
            env=clean_env(tmp_path), cwd=tmp_path, capture_output=True, text=True, timeout=300)
        assert devsim.returncode == 0, devsim.stdout + devsim.stderr
        summary = json.loads(devsim.stdout.strip().splitlines()[-1])
        assert summary["succeeded"] == DEVICES, summary
        done = wait_records(api, task_uid, lambda rs: len(rs) == DEVICES and all(r["status"] == 501 for r in rs.values()),
                            timeout=60)
        assert sorted(done) == [f"dev{i:05d}" for i in range(1, DEVICES + 1)]
    finally:
        if api is not None:
            api.close()
        code = stop(backend)
    assert code == 0, "".join(lines[-40:])
    wait_for(lambda: not processes_under(bundle.parent), 15, what="the backend's broker and store to end")


def _memory_keyring(env: dict[str, str], folder: Path) -> None:
    """keyringrc.cfg selecting an in-memory keyring (a headless machine has none)."""
    (folder / "memkeyring.py").write_text(MEMORY_KEYRING)
    cfg = Path(env["XDG_CONFIG_HOME"]) / "python_keyring"
    cfg.mkdir(parents=True, exist_ok=True)
    (cfg / "keyringrc.cfg").write_text(f"[backend]\ndefault-keyring=memkeyring.Keyring\nkeyring-path={folder}\n")


def test_desktop_main_window_offscreen(bundle, tmp_path):
    env = clean_env(tmp_path, LANG="zh_CN.UTF-8")
    _memory_keyring(env, tmp_path)

    # the app's own main(), from inside the bundle, reports its visible main window
    probe = bundle.parent / "_internal" / "ota_packaging_probe.py"
    probe.write_text(WINDOW_PROBE)
    try:
        run = subprocess.run([str(bundle), "_module", "ota_packaging_probe"], env=env, cwd=tmp_path,
                             capture_output=True, text=True, timeout=120)
    finally:
        probe.unlink()
    report = [line for line in run.stdout.splitlines() if line.startswith("PROBE ")]
    assert run.returncode == 0 and report, run.stdout[-3000:] + run.stderr[-3000:]
    result = json.loads(report[-1][len("PROBE "):])
    assert result["window"] == "MainWindow" and result["size"][0] > 0, result
    assert result["platform"] == "offscreen"
    assert result["language"] == "zh_CN", result
    inside = str(bundle.parent) + os.sep
    assert result["resources"].startswith(inside) and result["qm_zh_CN"].startswith(inside), result
    assert result["migrations_env"]
    wait_for(lambda: not processes_under(bundle.parent), 15, what="the probe's backend to end")

    # `ota-desktop` itself: it stays up and starts its backend child (only done once the main
    # window is shown) from the same executable
    desktop = subprocess.Popen([str(bundle)], env=env, cwd=tmp_path, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    try:
        def backend_child() -> list[str] | None:
            assert desktop.poll() is None, desktop.stdout.read()
            return next((cmd for cmd in processes_under(bundle.parent).values() if cmd[1:2] == ["backend"]), None)

        cmd = wait_for(backend_child, 60, 0.2, "the desktop app's backend child")
        assert cmd[0] == str(bundle)
        wait_for(lambda: any(Path(c[0]).name == "mosquitto" for c in processes_under(bundle.parent).values()),
                 60, 0.2, "the desktop backend's broker")
        time.sleep(2)
        assert desktop.poll() is None, desktop.stdout.read()
    finally:
        code = stop(desktop)
    assert code == 0, desktop.stdout.read()
    wait_for(lambda: not processes_under(bundle.parent), 20, what="the desktop app's backend to end")
