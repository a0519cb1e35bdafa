"""An external broker selected by --mqtt-url: a separately started Mosquitto with its own users."""

from __future__ import annotations

import signal
import subprocess
import time

import pytest

from backend.mqtt.broker import find_mosquitto, password_hash
from backend.procs import free_port, wait_for_port

from ._ota_helpers import fleet_for, make_devices, make_product, seed_firmware, task_create, wait_records


class ExternalMosquitto:
    """A customer's broker: its own config and password file, the backend just a user of it."""

    def __init__(self, root):  # noqa: ANN001
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
