"""The embedded object store: a nanio server run as a child process on a loopback port."""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
import subprocess
import time
from pathlib import Path

from ..procs import die_with_parent, free_port, module_command, port_is_free, wait_for_port

log = logging.getLogger(__name__)
HOST = "127.0.0.1"
#: nanio's temporary files: ``.tmp.<32 hex>`` beside an object being written (PUT, copy), and
#: ``*.tmp`` in its own folders (``.nanio-meta`` sidecars, ``.nanio/multipart``). Objects in the
#: buckets are never matched by the second form (a firmware may well be called ``x.tmp``).
_OBJECT_TMP = re.compile(r"\.tmp\.[0-9a-f]{32}")
_INTERNAL_DIRS = (".nanio", ".nanio-meta")


class StoreStartError(RuntimeError):
    pass


class EmbeddedNanio:
    """nanio with its data and credentials in `<data_dir>/objects`.

    The port is remembered across starts: presigned URLs are bound to host:port, so
    upload and download URLs handed out before a restart keep working after it.
    """

    def __init__(self, data_dir: Path, port: int = 0):
        self.root = data_dir / "objects"
        self.root.mkdir(parents=True, exist_ok=True)
        self.state_file = data_dir / "objects.json"
        state = self._load_state()
        self.access_key = state["access_key"]
        self.secret_key = state["secret_key"]
        self.port = port or state.get("port") or free_port(HOST)
        if not port and not port_is_free(HOST, self.port):
            old, self.port = self.port, free_port(HOST)
            log.warning("object store port %s is taken; using %s (URLs issued before this start stop working)",
                        old, self.port)
        state["port"] = self.port
        self._save_state(state)
        self.proc: subprocess.Popen | None = None
        self._port_fixed = bool(port)

    @property
    def endpoint_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def _load_state(self) -> dict:
        try:
            return json.loads(self.state_file.read_text())
        except (OSError, ValueError):
            return {"access_key": "ota-" + secrets.token_hex(6), "secret_key": secrets.token_urlsafe(30)}

    def _save_state(self, state: dict) -> None:
        tmp = self.state_file.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(state, fh)
        os.replace(tmp, self.state_file)

    def orphan_temp_files(self, older_than_s: float = 0.0) -> list[Path]:
        """nanio's temporary files last modified more than ``older_than_s`` ago: left by writes a
        crash, a kill or a full disk interrupted (nobody else removes them)."""
        cutoff = time.time() - older_than_s
        found: list[Path] = []
        for dirpath, _dirs, files in os.walk(self.root):
            rel = Path(dirpath).relative_to(self.root).parts
            internal = any(p in _INTERNAL_DIRS for p in rel)
            for name in files:
                if _OBJECT_TMP.fullmatch(name) or (internal and name.endswith(".tmp")):
                    path = Path(dirpath) / name
                    try:
                        if path.lstat().st_mtime <= cutoff:
                            found.append(path)
                    except OSError:
                        pass
        return found

    def remove_orphan_temp_files(self, older_than_s: float = 0.0) -> tuple[int, int]:
        """Remove :meth:`orphan_temp_files`; (files, bytes) removed."""
        count = size = 0
        for path in self.orphan_temp_files(older_than_s):
            try:
                n = path.lstat().st_size
                path.unlink()
            except OSError:
                continue
            count, size = count + 1, size + n
        if count:
            log.info("object store: removed %d orphan temporary files (%d bytes)", count, size)
        return count, size

    def start(self, timeout: float = 20.0) -> None:
        # no store runs on this data dir now (one backend per data dir, its store a child of it):
        # every temporary file there is a leftover of an interrupted write
        try:
            self.remove_orphan_temp_files(0)
        except OSError:
            log.warning("object store: could not look for orphan temporary files", exc_info=True)
        for attempt in range(3):
            try:
                return self._start_once(timeout)
            except StoreStartError as exc:
                if self._port_fixed or "address already in use" not in str(exc) or attempt == 2:
                    raise
                # lost a race for a port we picked: take another one and remember it
                self.port = free_port(HOST)
                state = self._load_state()
                state["port"] = self.port
                self._save_state(state)

    def _start_once(self, timeout: float) -> None:
        env = dict(os.environ, NANIO_ACCESS_KEY=self.access_key, NANIO_SECRET_KEY=self.secret_key)
        cmd = module_command("nanio", "serve", "--host", HOST, "--port", str(self.port),
                             "--data-dir", str(self.root), "--no-access-log", "--log-level", "warning")
        log_path = self.root.parent / "objects.log"
        self._log = open(log_path, "ab")
        offset = self._log.tell()
        self.proc = subprocess.Popen(cmd, env=env, stdout=self._log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, preexec_fn=die_with_parent)
        if not wait_for_port(HOST, self.port, timeout, self.proc):
            self.stop()
            tail = log_path.read_bytes()[offset:].decode(errors="replace")[-800:]
            raise StoreStartError(f"the embedded object store (nanio) did not start on {HOST}:{self.port}:\n{tail}")

    def ensure_running(self) -> bool:
        """Restart the store if it died; True when it had to."""
        if self.proc is not None and self.proc.poll() is not None:
            log.error("embedded object store exited with %s; restarting", self.proc.returncode)
            self.start()
            return True
        return False

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
