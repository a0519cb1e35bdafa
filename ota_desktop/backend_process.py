"""Starts and supervises the embedded backend as a child process on loopback.

This is the only module that knows where the backend lives: ``backend_command`` builds the
command line for a source checkout / installed package (``python -m backend``) and for a
frozen bundle (the bundle's own executable with the argument ``backend``).
"""
from __future__ import annotations

import importlib.util
import os
import re
import signal
import sys
from collections import deque
from dataclasses import dataclass, field

from PySide6.QtCore import QCoreApplication, QObject, QProcess, QProcessEnvironment, QTimer, Signal

READY_RE = re.compile(r"ready\s+(https?://[^\s]+)")
MQTT_RE = re.compile(r"\s(mqtts?://[^\s]+)")
START_TIMEOUT_MS = 60_000
STOP_TIMEOUT_MS = 8_000
STDERR_LINES_KEPT = 40


@dataclass
class BackendOptions:
    data_dir: str
    admin_token: str
    http_port: int = 0
    mqtt_port: int = 0
    lan: bool = False
    mqtt_url: str = ""
    storage_url: str = ""
    storage_access_key: str = ""
    storage_secret_key: str = ""
    database_url: str = ""
    #: the capsule signing key (Ed25519, PKCS#8 PEM) the desktop keeps; "" lets the backend choose
    signing_key: str = field(default="", repr=False)
    extra_env: dict[str, str] = field(default_factory=dict)

    def arguments(self) -> list[str]:
        return ["--data-dir", self.data_dir, "--http-port", str(self.http_port), "--mqtt-port", str(self.mqtt_port)]

    def environment(self) -> dict[str, str]:
        """Secrets and external services travel in the environment, never on the command line."""
        env = {"OTA_ADMIN_TOKEN": self.admin_token, "OTA_LAN": "1" if self.lan else "0"}
        optional = {"OTA_MQTT_URL": self.mqtt_url, "OTA_STORAGE_ENDPOINT": self.storage_url,
                    "OTA_STORAGE_ACCESS_KEY": self.storage_access_key,
                    "OTA_STORAGE_SECRET_KEY": self.storage_secret_key, "OTA_DATABASE_URL": self.database_url,
                    "OTA_SIGNING_KEY": self.signing_key}
        env.update({k: v for k, v in optional.items() if v})
        env.update(self.extra_env)
        return env


def backend_available() -> bool:
    """True when the backend can be started (bundled, or importable in this interpreter)."""
    return bool(getattr(sys, "frozen", False)) or importlib.util.find_spec("backend") is not None


def backend_command(arguments: list[str]) -> tuple[str, list[str]]:
    """(program, arguments) that run the backend, in a frozen bundle or from Python."""
    if getattr(sys, "frozen", False):
        return sys.executable, ["backend", *arguments]
    return sys.executable, ["-m", "backend", *arguments]


HTTP_TAKEN_RE = re.compile(r"cannot listen on \[?[^\s\]]*\]?:(\d+)")
MQTT_START_RE = re.compile(r"MQTT broker \(Mosquitto\) on \[?[^\s\]]*\]?:(\d+)")


def taken_port(stderr: str) -> tuple[str, int] | None:
    """("http" | "mqtt", port) when the backend's stderr says a port it needs is taken."""
    m = HTTP_TAKEN_RE.search(stderr)
    if m:
        return "http", int(m.group(1))
    m = MQTT_START_RE.search(stderr)
    if m and "address already in use" in stderr.lower():
        return "mqtt", int(m.group(1))
    return None


def port_taken_summary(kind: str, port: int) -> str:
    """Short, for the status bar."""
    if kind == "mqtt":
        return QCoreApplication.translate("BackendProcess", "Backend: MQTT port %1 is taken").replace("%1", str(port))
    return QCoreApplication.translate("BackendProcess", "Backend: HTTP port %1 is taken").replace("%1", str(port))


def port_taken_message(kind: str, port: int) -> str:
    """What happened and what to do, naming the port."""
    if kind == "mqtt":
        return QCoreApplication.translate(
            "BackendProcess", "Another program uses the MQTT port %1, so the backend's broker cannot start. "
            "Devices are set up to connect to this port: stop the other program and restart the backend, or "
            "choose another MQTT port in Settings (devices then need the new port).").replace("%1", str(port))
    return QCoreApplication.translate(
        "BackendProcess", "Another program uses the HTTP port %1, so the backend cannot start. Stop the other "
        "program and restart the backend, or choose another HTTP port in Settings (devices then need the new "
        "address).").replace("%1", str(port))


def explain_failure(stderr: str, exit_code: int | None, options: BackendOptions | None) -> str:
    """An actionable message for a backend that did not start."""
    taken = taken_port(stderr)
    if taken is not None:
        return port_taken_message(*taken)
    low = stderr.lower()
    if "mosquitto" in low and ("not found" in low or "install" in low or "no such file" in low):
        return QCoreApplication.translate("BackendProcess", "The MQTT broker Mosquitto is not installed. Install it (for example "
                  "\"sudo apt-get install mosquitto\") or configure an external broker in Settings.")
    if "address already in use" in low or ("port" in low and "in use" in low):
        ports = ""
        if options is not None:
            ports = QCoreApplication.translate("BackendProcess", " (HTTP port %1, MQTT port %2)").replace("%1", str(options.http_port)).replace(
                "%2", str(options.mqtt_port))
        return QCoreApplication.translate("BackendProcess", "A port the backend needs is already taken%1. Choose other ports in Settings, "
                  "or 0 to pick free ones automatically.").replace("%1", ports)
    if "permission denied" in low or "read-only" in low:
        return QCoreApplication.translate("BackendProcess", "The backend cannot write its data directory. Choose another data directory in Settings.")
    last = "\n".join(stderr.strip().splitlines()[-STDERR_LINES_KEPT:])  # the details (see failure_parts)
    if exit_code is None:
        head = QCoreApplication.translate("BackendProcess", "The backend did not report that it is ready.")
    else:
        head = QCoreApplication.translate("BackendProcess", "The backend stopped (exit code %1).").replace("%1", str(exit_code))
    return head + ("\n\n" + last if last else "")


#: a log line that says what went wrong (the last such line is shown, the rest under "details")
_ERROR_LINE_RE = re.compile(r"(\b[A-Za-z_.]*(Error|Exception|Exit)\b|\bERROR\b|\bCRITICAL\b|\bFATAL\b|"
                            r"\berror:|\bfailed\b|\bcannot\b|\bKilled\b)", re.IGNORECASE)
_WARNING_LINE_RE = re.compile(r"(Warning:|\bWARNING\b|\bwarnings\.warn)")


def last_error_line(log: str) -> str:
    """The last line of a backend log that reports an error: not a Python warning (e.g. an
    SAWarning) nor the source line printed under one, not a traceback's indented frame."""
    lines = [ln.rstrip() for ln in log.splitlines() if ln.strip()]
    candidates = [ln for ln in lines if not ln[:1].isspace() and not _WARNING_LINE_RE.search(ln)
                  and not ln.startswith("Traceback ")]
    for ln in reversed(candidates):
        if _ERROR_LINE_RE.search(ln):
            return ln
    return candidates[-1] if candidates else ""


def failure_parts(message: str) -> tuple[str, str, str]:
    """(sentence, last error line, full log) of a message made by explain_failure; a message
    without a log (e.g. "port taken") is all sentence."""
    head, sep, log = message.partition("\n\n")
    if not sep or not log.strip():
        return message.strip(), "", ""
    return head.strip(), last_error_line(log), log.strip()


class BackendProcess(QObject):
    """The managed child. ``ready(url)`` once it accepts requests; ``failed(msg)`` if it never
    did; ``lost(msg)`` if it ended after being ready."""

    ready = Signal(str)
    failed = Signal(str)
    lost = Signal(str)
    stderr_line = Signal(str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._proc: QProcess | None = None
        self._options: BackendOptions | None = None
        self._stdout_buf = b""
        self._stderr_buf = b""
        self._stderr_tail: deque[str] = deque(maxlen=STDERR_LINES_KEPT)
        self._url = ""
        self.mqtt_url = ""
        self._pgid = 0
        self._state = "stopped"
        self._timer = QTimer(self, singleShot=True)
        self._timer.timeout.connect(self._on_start_timeout)

    @property
    def state(self) -> str:
        return self._state

    @property
    def url(self) -> str:
        return self._url

    @property
    def stderr_tail(self) -> str:
        return "\n".join(self._stderr_tail)

    def start(self, options: BackendOptions, timeout_ms: int = START_TIMEOUT_MS) -> None:
        self.stop()
        self._options = options
        os.makedirs(options.data_dir, exist_ok=True)
        proc = QProcess(self)
        program, args = backend_command(options.arguments())
        env = QProcessEnvironment.systemEnvironment()
        for key, value in options.environment().items():
            env.insert(key, value)
        env.insert("PYTHONUNBUFFERED", "1")
        proc.setProcessEnvironment(env)
        proc.setProgram(program)
        proc.setArguments(args)
        proc.readyReadStandardOutput.connect(self._on_stdout)
        proc.readyReadStandardError.connect(self._on_stderr)
        proc.finished.connect(self._on_finished)
        proc.errorOccurred.connect(self._on_error)
        if hasattr(proc, "setUnixProcessParameters"):
            # its own session: stopping it also stops what it started (the broker), even after a crash
            proc.setUnixProcessParameters(QProcess.UnixProcessFlag.CreateNewSession)
        proc.started.connect(self._on_started)
        self._proc = proc
        self._stdout_buf = self._stderr_buf = b""
        self._stderr_tail.clear()
        self._url = ""
        self._state = "starting"
        self._timer.start(timeout_ms)
        proc.start()

    def restart(self) -> None:
        if self._options is not None:
            self.start(self._options)

    def stop(self, timeout_ms: int = STOP_TIMEOUT_MS) -> None:
        """SIGTERM, wait for a clean exit, then SIGKILL. Blocks at most ``timeout_ms``."""
        self._timer.stop()
        proc, self._proc = self._proc, None
        self._state = "stopped"
        if proc is None:
            return
        for sig in (proc.started, proc.readyReadStandardOutput, proc.readyReadStandardError, proc.finished,
                    proc.errorOccurred):
            sig.disconnect()
        if proc.state() != QProcess.ProcessState.NotRunning:
            proc.terminate()
            if not proc.waitForFinished(timeout_ms):
                proc.kill()
                proc.waitForFinished(2000)
        self._end_process_group()
        proc.deleteLater()

    def _on_started(self) -> None:
        if self._proc is not None:
            self._pgid = self._proc.processId()

    def _end_process_group(self) -> None:
        """SIGTERM whatever the backend left behind in its session (e.g. after it crashed)."""
        pgid, self._pgid = self._pgid, 0
        if pgid > 0 and hasattr(os, "killpg"):
            try:
                os.killpg(pgid, signal.SIGTERM)
            except (ProcessLookupError, PermissionError):
                pass

    def _lines(self, buf: bytes, chunk: bytes) -> tuple[list[str], bytes]:
        buf += chunk
        *lines, rest = buf.split(b"\n")
        return [ln.decode("utf-8", errors="replace").rstrip("\r") for ln in lines], rest

    def _on_stdout(self) -> None:
        if self._proc is None:
            return
        lines, self._stdout_buf = self._lines(self._stdout_buf, bytes(self._proc.readAllStandardOutput().data()))
        for line in lines:
            m = READY_RE.search(line)
            if m and self._state == "starting":
                self._timer.stop()
                self._url = m.group(1).rstrip("/")
                mqtt = MQTT_RE.search(line)
                self.mqtt_url = mqtt.group(1) if mqtt else ""
                self._state = "running"
                self.ready.emit(self._url)

    def _on_stderr(self) -> None:
        if self._proc is None:
            return
        lines, self._stderr_buf = self._lines(self._stderr_buf, bytes(self._proc.readAllStandardError().data()))
        for line in lines:
            self._stderr_tail.append(line)
            self.stderr_line.emit(line)

    def _on_finished(self, exit_code: int, _status: QProcess.ExitStatus) -> None:
        self._on_stderr()
        self._end_process_group()
        state, self._state = self._state, "stopped"
        self._timer.stop()
        message = explain_failure(self.stderr_tail, exit_code, self._options)
        if state == "starting":
            self._state = "failed"
            self.failed.emit(message)
        elif state == "running":
            self._state = "lost"
            self.lost.emit(message)

    def _on_error(self, error: QProcess.ProcessError) -> None:
        if error == QProcess.ProcessError.FailedToStart and self._state == "starting":
            self._timer.stop()
            self._state = "failed"
            self.failed.emit(QCoreApplication.translate("BackendProcess", "The backend could not be started: %1").replace(
                "%1", self._proc.errorString() if self._proc else ""))

    def _on_start_timeout(self) -> None:
        if self._state == "starting":
            message = explain_failure(self.stderr_tail, None, self._options)
            self.stop()
            self._state = "failed"
            self.failed.emit(message)
