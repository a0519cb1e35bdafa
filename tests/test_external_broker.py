"""An external broker selected by --mqtt-url: a separately started Mosquitto with its own users."""

from __future__ import annotations

import signal
import subprocess
import time

import pytest

from backend.mqtt.broker import find_mosquitto, password_hash
from backend.procs import free_port, wait_for_port

from ._ota_helpers import fleet_for, make_devices, make_product, seed_firmware, task_create, wait_records
from ._wait import wait_for


class ExternalMosquitto:
    """A customer's broker: its own config and password file, the backend just a user of it."""

    def __init__(self, root):
        self.root, self.port = root, free_port()
        self.passwd = root / "passwd"
        self.users = {"backend": "backend-pw"}
        self.conf = root / "mosquitto.conf"
        self.conf.write_text(f"listener {self.port} 127.0.0.1\nallow_anonymous false\npassword_file {self.passwd}\n"
                             "max_queued_messages 100000\nuser root\n")
        self._write()
        self.proc = subprocess.Popen([find_mosquitto(), "-c", str(self.conf)], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.STDOUT)
        assert wait_for_port("127.0.0.1", self.port, 10, self.proc), "external mosquitto did not start"

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
    tls_port = free_port()
    broker.conf.write_text(f"listener {tls_port} 127.0.0.1\ncafile {ca_crt}\ncertfile {crt}\nkeyfile {key}\n"
                           f"allow_anonymous false\npassword_file {broker.passwd}\nuser root\n")
    broker.proc = subprocess.Popen([find_mosquitto(), "-c", str(broker.conf)], stdout=subprocess.DEVNULL,
                                   stderr=subprocess.STDOUT)
    try:
        assert wait_for_port("127.0.0.1", tls_port, 10, broker.proc)
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
