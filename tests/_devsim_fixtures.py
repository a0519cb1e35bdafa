"""Helpers for tests/test_devsim.py: a real Mosquitto, a Range-capable file server that
also plays the backend's device API, and an MQTT client playing the backend's MQTT side.

Everything listens on 127.0.0.1 only and lives in the test's tmp_path.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import queue
import secrets
import shutil
import subprocess
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from backend.procs import free_port, wait_for_port
from tests._examples import example
from tests._wait import wait_for

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"


# --------------------------------------------------------------------------- broker
class Mosquitto:
    """A throw-away broker with a generated config (anonymous allowed unless ``passwords``).

    ``acl`` lines (mosquitto acl_file syntax) restrict what each user may use.
    """

    def __init__(self, workdir: Path, passwords: dict[str, str] | None = None, acl: list[str] | None = None) -> None:
        self.workdir = workdir
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.passwords = passwords
        self.acl = acl
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = workdir / "mosquitto.log"

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self) -> Mosquitto:
        lines = [
            f"listener {self.port} 127.0.0.1",
            "persistence false",
            "max_queued_messages 100000",
            "max_inflight_messages 100",
            "log_dest stderr",
            "log_type error",
            "log_type warning",
        ]
        if os.geteuid() == 0:
            lines.append("user root")  # do not drop to 'mosquitto' (it could not read tmp_path)
        if self.passwords:
            pw = self.workdir / "passwd"
            pw.write_text("".join(f"{u}:{p}\n" for u, p in self.passwords.items()), encoding="utf-8")
            subprocess.run(["mosquitto_passwd", "-U", str(pw)], check=True, capture_output=True)
            lines += ["allow_anonymous false", f"password_file {pw}"]
        else:
            lines.append("allow_anonymous true")
        if self.acl is not None:
            acl = self.workdir / "acl"
            acl.write_text("\n".join(self.acl) + "\n", encoding="utf-8")
            lines.append(f"acl_file {acl}")
        conf = self.workdir / "mosquitto.conf"
        conf.write_text("\n".join(lines) + "\n", encoding="utf-8")
        log = open(self.log_path, "wb")
        self.proc = subprocess.Popen([MOSQUITTO, "-c", str(conf)], stdout=log, stderr=subprocess.STDOUT)
        log.close()
        if not wait_for_port("127.0.0.1", self.port, 10.0, self.proc):
            raise AssertionError(f"mosquitto does not listen on 127.0.0.1:{self.port}; see {self.log_path}")
        return self

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


# --------------------------------------------------------------------------- HTTP
class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # devices abort downloads on purpose (fail-download, disconnect)


class FakeHttpBackend:
    """Serves firmware files with Range support and the two device-API routes that
    ``ota-devsim`` calls (``device/info/index`` and ``device/info/import``).

    ``requests`` records ``(method, path, range_header, status, token)`` of every request.
    """

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.devices: dict[tuple[str, str], dict[str, Any]] = {}
        self.token: str | None = None
        self.requests: list[tuple[str, str, str | None, int, str | None]] = []
        self.api_bodies: list[tuple[str, dict[str, Any]]] = []
        self._server = _QuietServer(("127.0.0.1", 0), self._handler_class())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> FakeHttpBackend:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def add_file(self, path: str, data: bytes) -> dict[str, Any]:
        """Serve ``data`` at ``path`` (query string ignored); returns a push ``files`` entry."""
        self.files[path.split("?", 1)[0]] = data
        return {"name": path.rsplit("/", 1)[-1].split("?")[0], "signature": hashlib.md5(data).hexdigest(),
                "size": len(data), "url": path}

    def range_requests(self, path_prefix: str = "") -> list[str]:
        return [r[2] for r in self.requests if r[2] and r[1].startswith(path_prefix)]

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        backend = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _record(self, status: int) -> None:
                backend.requests.append(
                    (self.command, self.path, self.headers.get("Range"), status, self.headers.get("iThings-token"))
                )

            def _json(self, status: int, body: dict[str, Any]) -> None:
                raw = json.dumps(body).encode()
                self._record(status)
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def do_GET(self) -> None:
                data = backend.files.get(self.path.split("?", 1)[0])
                if data is None:
                    self._record(404)
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                rng = self.headers.get("Range")
                start, end, status = 0, len(data) - 1, 200
                if rng and rng.startswith("bytes="):
                    a, _, b = rng[len("bytes="):].partition("-")
                    start = int(a)
                    end = int(b) if b else len(data) - 1
                    status = 206
                body = data[start : end + 1]
                self._record(status)
                self.send_response(status)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(len(body)))
                if status == 206:
                    self.send_header("Content-Range", f"bytes {start}-{end}/{len(data)}")
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                backend.api_bodies.append((self.path, body))
                if backend.token and self.headers.get("iThings-token") != backend.token:
                    return self._json(401, {"code": 100005, "msg": "invalid token"})
                pid = body.get("productID")
                if self.path == "/api/v1/things/device/info/index":
                    rows = [dict(v) for (p, _), v in sorted(backend.devices.items()) if p == pid]
                    if not body.get("withSecret"):
                        for r in rows:
                            r.pop("deviceSecret", None)
                    page, size = body["page"]["page"], body["page"]["size"]
                    chunk = rows[(page - 1) * size : page * size]
                    return self._json(200, {"code": 200, "msg": "success", "data": {"list": chunk, "total": len(rows)}})
                if self.path == "/api/v1/things/device/info/import":
                    out = []
                    for d in body["devices"]:
                        row = {"productID": pid, "deviceName": d["deviceName"], "version": d.get("version", ""),
                               "deviceSecret": secrets.token_hex(8)}
                        backend.devices[(pid, d["deviceName"])] = row
                        out.append({k: row[k] for k in ("productID", "deviceName", "deviceSecret")})
                    return self._json(200, {"code": 200, "msg": "success", "data": {"list": out, "total": len(out)}})
                return self._json(404, {"code": 100009, "msg": "no such route"})

        return Handler


# --------------------------------------------------------------------------- MQTT backend side
class FakeMqttBackend:
    """Plays the backend on the broker: sees ``$ota/up/#``, pushes upgrades.

    ``on_report(productID, deviceName, message)`` (optional) runs on paho's thread for
    every version report, e.g. to push an upgrade in answer.
    """

    def __init__(self, port: int, username: str | None = None, password: str | None = None) -> None:
        self.messages: list[tuple[float, str, dict[str, Any]]] = []
        self._lock = threading.Lock()
        self.on_report: Callable[[str, str, dict[str, Any]], None] | None = None
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"fake-backend-{secrets.token_hex(4)}")
        if username:
            self.client.username_pw_set(username, password)
        self.client.on_message = self._on_message
        self._subscribed: queue.Queue[int] = queue.Queue()
        self.client.on_subscribe = lambda *a: self._subscribed.put(1)
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        self.client.subscribe("$ota/up/#", qos=1)
        self._subscribed.get(timeout=5)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def _on_message(self, _c: Any, _u: Any, msg: mqtt.MQTTMessage) -> None:
        payload = json.loads(msg.payload)
        with self._lock:
            self.messages.append((time.monotonic(), msg.topic, payload))
        parts = msg.topic.split("/")
        if self.on_report is not None and parts[2] == "report":
            self.on_report(parts[3], parts[4], payload)

    def of(self, device: str, kind: str | None = None) -> list[dict[str, Any]]:
        """Messages one device sent (``kind`` 'report' or 'progress')."""
        with self._lock:
            return [
                m for _, t, m in self.messages
                if t.split("/")[4] == device and (kind is None or t.split("/")[2] == kind)
            ]

    def wait_for(self, predicate: Callable[[], object], timeout: float = 10.0) -> None:
        wait_for(predicate, timeout, 0.02, "the expected MQTT messages")

    def push(self, product_id: str, device: str, files: list[dict[str, Any]], record_id: int,
             version: str = "1.0.0", sign_method: str = "md5") -> dict[str, Any]:
        """Publish the seed's upgrade push (examples/mqtt-down-upgrade.json) with our files."""
        msg = copy.deepcopy(example("mqtt-down-upgrade.json"))
        msg["clientToken"] = f"push-{record_id}-{secrets.token_hex(2)}"
        msg["data"].update(files=files, id=record_id, version=version, signMethod=sign_method)
        self.client.publish(f"$ota/down/upgrade/{product_id}/{device}", json.dumps(msg), qos=1)
        return msg

    def ack(self, product_id: str, device: str, client_token: str, code: int = 200) -> None:
        msg = {"method": "progressReply", "clientToken": client_token, "timestamp": int(time.time() * 1000),
               "code": code, "status": "成功" if code == 200 else "error"}
        self.client.publish(f"$ota/down/progress/{product_id}/{device}", json.dumps(msg), qos=1)
