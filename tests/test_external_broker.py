"""An external broker selected by --mqtt-url: a separately started Mosquitto with its own users."""

from __future__ import annotations

import signal
import subprocess
import time

import pytest

from backend.mqtt.broker import find_mosquitto, password_hash
from backend.procs import wait_for_port

from ._mqtt_fixtures import reserved_port
from ._ota_helpers import fleet_for, make_devices, make_product, seed_firmware, task_create, wait_records
from ._wait import wait_for


class ExternalMosquitto:
    """A customer's broker: its own config and password file, the backend just a user of it."""

    def __init__(self, root):
        self.root = root
        self.passwd = root / "passwd"
        self.users = {"backend": "backend-pw"}
        self.conf = root / "mosquitto.conf"
        self.log_path = root / "mosquitto.log"
        self._write()
        self.start("max_queued_messages 100000\n")

    def start(self, extra_conf: str = "") -> None:
        """Start on a port of its own, reserved until mosquitto listens (no other process can take
        it in between); mosquitto's output goes to ``log_path``, shown if it does not start."""
        with reserved_port() as port:
            self.port = port
            self.conf.write_text(f"listener {port} 127.0.0.1\n{extra_conf}allow_anonymous false\n"
                                 f"password_file {self.passwd}\nuser root\n")
            with open(self.log_path, "ab") as log:
                self.proc = subprocess.Popen([find_mosquitto(), "-c", str(self.conf)], stdout=log,
                                             stderr=subprocess.STDOUT)
            up = wait_for_port("127.0.0.1", port, 10, self.proc)
        if not up and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        assert up, (f"external mosquitto did not start on port {port} (exit code {self.proc.poll()}); "
                    f"{self.log_path}:\n{self.log_path.read_text(errors='replace')}")

    def _write(self) -> None:
        self.passwd.write_text("".join(f"{u}:{password_hash(p)}\n" for u, p in self.users.items()))
        self.passwd.chmod(0o600)

    def add_users(self, users: dict[str, str]) -> None:
        self.users.update(users)
        self._write()
        self.proc.send_signal(signal.SIGHUP)
        time.sleep(0.7)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


@pytest.fixture
def external_mosquitto(tmp_path):
    broker = ExternalMosquitto(tmp_path)
    yield broker
    broker.stop()


def test_rollout_through_an_external_broker(start_backend, external_mosquitto):
    broker = external_mosquitto
    backend = start_backend(extra_args=["--mqtt-url", f"mqtt://backend:backend-pw@127.0.0.1:{broker.port}"])
    assert backend.mqtt_port == 0  # no embedded broker was started
    assert "mosquitto" not in backend.log.lower() or "embedded" not in backend.log.lower()
    api = backend.api()
    pid = make_product(api)
    creds = make_devices(api, pid, 5)
    broker.add_users({f"{c.product_id}&{c.device_name}": c.secret for c in creds})
    fw_id, _ = seed_firmware(api, pid)
    backend.mqtt_port = broker.port  # devices talk to the customer's broker
    with fleet_for(backend, creds) as fleet:
        fleet.wait_connected(30)
        _, uid = task_create(api, fw_id)
        recs = wait_records(api, uid, lambda rs: len(rs) == 5 and all(r["status"] == 501 for r in rs.values()), 60)
    assert all(d.version == "1.0.0" for d in fleet) and len(recs) == 5
    api.close()


def test_backend_talks_tls_to_an_external_broker(start_backend, tmp_path):
    """mqtts:// with the broker's CA: the link connects, and device traffic over TLS reaches the engine."""
    ca_key, ca_crt = tmp_path / "ca.key", tmp_path / "ca.crt"
    key, csr, crt = tmp_path / "server.key", tmp_path / "server.csr", tmp_path / "server.crt"
    run = lambda *a: subprocess.run(["openssl", *a], check=True, capture_output=True)  # noqa: E731
    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(ca_key), "-out", str(ca_crt),
        "-days", "1", "-subj", "/CN=ota-test-ca")
    run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(csr), "-subj", "/CN=127.0.0.1")
    ext = tmp_path / "san.cnf"
    ext.write_text("subjectAltName=IP:127.0.0.1\n")
    run("x509", "-req", "-in", str(csr), "-CA", str(ca_crt), "-CAkey", str(ca_key), "-CAcreateserial",
        "-out", str(crt), "-days", "1", "-extfile", str(ext))
    broker = ExternalMosquitto(tmp_path)
    broker.stop()
    broker.start(f"cafile {ca_crt}\ncertfile {crt}\nkeyfile {key}\n")
    tls_port = broker.port
    try:
        backend = start_backend(extra_args=["--mqtt-url",
                                            f"mqtts://backend:backend-pw@127.0.0.1:{tls_port}?ca={ca_crt}"])
        api = backend.api()
        assert api.http.get("/api/v1/health").json()["data"]["mqttConnected"] is True
        pid = make_product(api)
        (cred,) = make_devices(api, pid, 1)
        broker.add_users({f"{cred.product_id}&{cred.device_name}": cred.secret})
        import paho.mqtt.client as paho
        c = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id="tls-dev")
        c.username_pw_set(f"{cred.product_id}&{cred.device_name}", cred.secret)
        c.tls_set(ca_certs=str(ca_crt))
        c.connect("127.0.0.1", tls_port)
        c.loop_start()
        c.publish(f"$ota/up/report/{pid}/{cred.device_name}",
                  '{"method":"reportInfo","clientToken":"t","params":{"version":"0.9.7"}}', qos=1).wait_for_publish(10)
        wait_for(lambda: api.ok("/api/v1/things/device/info/read",
                                {"productID": pid, "deviceName": cred.device_name})["version"] == "0.9.7",
                 10, what="report over TLS applied")
        c.loop_stop()
        c.disconnect()
        api.close()
    finally:
        broker.stop()


def test_the_brokers_port_is_reserved_until_it_listens(tmp_path):
    """free_port() then starting mosquitto left a window in which another process of a loaded
    suite could take the port (mosquitto: "Error: Address already in use", exit code 1). A
    reserved port refuses other binds, yet mosquitto binds and listens on it."""
    import errno
    import socket

    with reserved_port() as port:
        with socket.socket() as other, pytest.raises(OSError) as refused:
            other.bind(("127.0.0.1", port))
        assert refused.value.errno == errno.EADDRINUSE
    broker = ExternalMosquitto(tmp_path)  # started on a reserved port, listening once it is released
    try:
        with socket.create_connection(("127.0.0.1", broker.port), timeout=5):
            pass
        assert "Address already in use" not in broker.log_path.read_text()
    finally:
        broker.stop()
