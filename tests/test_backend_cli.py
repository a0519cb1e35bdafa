"""ota-backend as a user starts it: ready line, kept admin token, clean shutdown, clear failures."""

from __future__ import annotations

import os
import signal
import socket
import ssl
import stat
import subprocess
import sys
import time

import httpx
import psutil
import pytest

from .conftest import ROOT, BackendProcess


def _run_backend(data_dir, *args, env_extra=None):
    env = {k: v for k, v in os.environ.items() if k != "OTA_ADMIN_TOKEN"}
    env.update(env_extra or {})
    return subprocess.Popen([sys.executable, "-m", "backend", "--data-dir", str(data_dir), "--http-port", "0",
                             "--mqtt-port", "0", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env, cwd=ROOT)


def _ready(proc) -> str:
    line = proc.stdout.readline()
    assert " ready http://" in line, line + proc.stderr.read()
    return next(p for p in line.split() if p.startswith("http://"))


def test_generated_admin_token_is_kept_in_a_private_file(tmp_path):
    data = tmp_path / "data"
    tokens = []
    for _ in range(2):
        proc = _run_backend(data)
        base = _ready(proc)
        token = (data / "admin-token").read_text().strip()
        assert stat.S_IMODE((data / "admin-token").stat().st_mode) == 0o600
        assert httpx.post(base + "/api/v1/things/product/info/index", json={},
                          headers={"iThings-token": token}).json()["code"] == 200
        assert httpx.post(base + "/api/v1/things/product/info/index", json={}).status_code == 401
        tokens.append(token)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0
        err = proc.stderr.read()
        assert "admin token" in err and "admin-token" in err  # the user is told where it is kept
    assert tokens[0] == tokens[1] and len(tokens[0]) >= 32


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_shutdown_stops_the_broker_and_object_store(tmp_path, sig):
    bp = BackendProcess(tmp_path / "d").start()
    children = psutil.Process(bp.proc.pid).children()
    assert {"mosquitto"} <= {c.name() for c in children} and len(children) == 2
    bp.proc.send_signal(sig)
    assert bp.proc.wait(20) == 0
    _gone, alive = psutil.wait_procs(children, timeout=10)
    assert not alive


def test_killed_backend_takes_its_children_along(tmp_path):
    bp = BackendProcess(tmp_path / "d").start()
    children = psutil.Process(bp.proc.pid).children()
    bp.proc.kill()
    bp.proc.wait(10)
    _gone, alive = psutil.wait_procs(children, timeout=10)
    assert not alive
    bp2 = BackendProcess(tmp_path / "d").start()  # and the data directory starts again
    assert httpx.get(bp2.base_url + "/api/v1/health").status_code == 200
    bp2.stop()


def test_taken_http_port_is_a_clear_error(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        proc = subprocess.run([sys.executable, "-m", "backend", "--data-dir", str(tmp_path / "d"), "--http-port",
                               str(port), "--mqtt-port", "0"], capture_output=True, text=True, cwd=ROOT,
                              env=dict(os.environ, OTA_ADMIN_TOKEN="t"), timeout=60)
    assert proc.returncode != 0
    assert f"cannot listen on 127.0.0.1:{port}" in proc.stderr


def test_missing_mosquitto_says_what_to_do(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "backend", "--data-dir", str(tmp_path / "d"), "--http-port", "0",
                           "--mqtt-port", "0"], capture_output=True, text=True, cwd=ROOT, timeout=60,
                          env=dict(os.environ, OTA_ADMIN_TOKEN="t", OTA_MOSQUITTO=str(tmp_path / "nope")))
    assert proc.returncode == 1
    assert "apt-get install mosquitto" in proc.stderr and "--mqtt-url" in proc.stderr


def test_one_backend_per_data_directory(tmp_path):
    bp = BackendProcess(tmp_path / "d").start()
    proc = subprocess.run([sys.executable, "-m", "backend", "--data-dir", str(tmp_path / "d"), "--http-port", "0"],
                          capture_output=True, text=True, cwd=ROOT, timeout=60, env=dict(os.environ, OTA_ADMIN_TOKEN="t"))
    assert proc.returncode == 1 and "already using the data directory" in proc.stderr
    bp.stop()


def test_config_file_and_environment(tmp_path):
    cfg = tmp_path / "ota.toml"
    cfg.write_text('[backend]\nhttp_port = 0\nmqtt_port = 0\nadmin_token = "from-file"\n')
    proc = _run_backend(tmp_path / "d", "--config", str(cfg))
    base = _ready(proc)
    assert httpx.post(base + "/api/v1/things/product/info/index", json={},
                      headers={"Authorization": "Bearer from-file"}).status_code == 200
    proc.terminate()
    proc.wait(20)
    bad = subprocess.run([sys.executable, "-m", "backend", "--http-port", "0"], capture_output=True, text=True,
                         cwd=ROOT, timeout=60, env=dict(os.environ, OTA_MQTT_PORT="lots"))
    assert bad.returncode == 2 and "mqtt_port" in bad.stderr
    time.sleep(0)


def test_acknowledged_writes_survive_a_crash(tmp_path):
    bp = BackendProcess(tmp_path / "d").start()
    api = bp.api()
    for i in range(20):
        api.ok("/api/v1/things/product/info/create", {"productID": f"crash{i:02d}", "productName": "x"})
    bp.proc.kill()  # SIGKILL right after the last 200
    bp.proc.wait(10)
    api.close()
    bp2 = BackendProcess(tmp_path / "d").start()
    api = bp2.api()
    assert api.ok("/api/v1/things/product/info/index", {"page": {"page": 1, "size": 100}})["total"] == 20
    api.close()
    bp2.stop()


def test_tls_serves_https_with_a_kept_self_signed_certificate(tmp_path):
    data = tmp_path / "data"
    fingerprints = []
    from backend.procs import free_port

    for round_ in range(2):  # generated once, the same certificate after a restart
        tls_port = free_port()
        proc = _run_backend(data, "--tls", "--mqtt-tls-port", str(tls_port), env_extra={"OTA_ADMIN_TOKEN": "t"})
        try:
            line = proc.stdout.readline()
            assert " ready https://" in line, line + proc.stderr.read()
            base = next(p for p in line.split() if p.startswith("https://"))
            cert = data / "tls" / "cert.pem"
            assert stat.S_IMODE((data / "tls" / "key.pem").stat().st_mode) == 0o600
            r = httpx.get(base + "/api/v1/health", verify=ssl.create_default_context(cafile=str(cert)), timeout=10)
            assert r.status_code == 200 and r.json()["code"] == 200
            with pytest.raises(httpx.ConnectError):  # not trusted without the certificate
                httpx.get(base + "/api/v1/health", timeout=10)
            assert f" mqtts://127.0.0.1:{tls_port}" in line
            if round_ == 0:  # a device connects over MQTT/TLS with its own credentials
                ctx = ssl.create_default_context(cafile=str(cert))
                call = lambda path, body: httpx.post(base + path, json=body, headers={"iThings-token": "t"},  # noqa: E731, B023  (called within this iteration only)
                                                     verify=ctx, timeout=10).json()  # noqa: B023  (called within this iteration only)
                call("/api/v1/things/product/info/create", {"productID": "tlsprod", "productName": "tls"})
                dev = call("/api/v1/things/device/info/create", {"productID": "tlsprod", "deviceName": "d1"})["data"]
                deadline = time.monotonic() + 10  # the broker learns a new device within a second
                while (rc := _mqtt_tls_connect(tls_port, cert, "tlsprod&d1", dev["deviceSecret"])) and \
                        time.monotonic() < deadline:
                    time.sleep(0.2)
                assert rc == 0
                assert _mqtt_tls_connect(tls_port, cert, "tlsprod&d1", "wrong") != 0
            from backend.tls import fingerprint
            fingerprints.append(fingerprint(cert))
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(30)
    assert fingerprints[0] == fingerprints[1]
    assert fingerprints[0] in proc.stderr.read()  # logged for out-of-band comparison


def test_tls_with_the_users_certificate_files(tmp_path):
    from backend.tls import self_signed

    own = self_signed(tmp_path / "own")  # stands in for a certificate the user brings
    proc = _run_backend(tmp_path / "data", "--tls", "--tls-cert-file", str(own.cert), "--tls-key-file", str(own.key),
                        env_extra={"OTA_ADMIN_TOKEN": "t"})
    try:
        line = proc.stdout.readline()
        base = next(p for p in line.split() if p.startswith("https://"))
        assert httpx.get(base + "/api/v1/health", verify=ssl.create_default_context(cafile=str(own.cert)), timeout=10).status_code == 200
        assert not (tmp_path / "data" / "tls").exists()
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
    bad = _run_backend(tmp_path / "data2", "--tls-cert-file", str(own.cert), env_extra={"OTA_ADMIN_TOKEN": "t"})
    assert bad.wait(30) == 2 and "tls_cert_file/tls_key_file" in bad.stderr.read()


def _mqtt_tls_connect(port: int, ca, username: str, password: str) -> int:
    """CONNACK reason of one MQTT-over-TLS connect (0 = accepted)."""
    import threading

    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    done, result = threading.Event(), []
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"tls-test-{time.monotonic_ns()}")
    c.tls_set(ca_certs=str(ca))
    c.username_pw_set(username, password)
    c.on_connect = lambda _c, _u, _f, rc, _p: (result.append(rc.value), done.set())
    c.connect("127.0.0.1", port)
    c.loop_start()
    try:
        assert done.wait(10), "no CONNACK over TLS"
    finally:
        c.disconnect()
        c.loop_stop()
    return result[0]
