"""Uploading a firmware: hash + upload each file, then firmware/create (spec sections 2 and 4).

Files are hashed on worker threads while they stream to the presigned URLs one after the
other (QNetworkAccessManager reads them from a QFile; nothing is loaded whole in memory).
"""
from __future__ import annotations

import os
from dataclasses import dataclass

from PySide6.QtCore import QObject, Signal

from . import dto
from .api_client import CODE_CANCELLED, CODE_NETWORK, ApiCall, ApiClient, ApiError
from .workers import Job, JobContext, hash_file, run_in_pool

#: a local file cannot be uploaded (missing, unreadable, empty): not the backend's fault
CODE_LOCAL_FILE = -10
#: what can be wrong with a local file (LocalFileError.kind, check_files)
MISSING, UNREADABLE, EMPTY = "missing", "unreadable", "empty"


@dataclass(frozen=True, slots=True)
class LocalFileError(ApiError):
    """A file of the upload is missing, unreadable or empty (``kind``); ``path`` names it."""

    kind: str = ""
    path: str = ""


def file_problem(path: str) -> tuple[str, int]:
    """(problem, size) of a file about to be uploaded: "" when it can be read and is not empty,
    else MISSING, UNREADABLE or EMPTY. Reads one byte: on network drives a permission check
    alone may pass for a file that cannot be read. Disk work: call it off the GUI thread."""
    if not os.path.exists(path):
        return MISSING, 0
    if not os.path.isfile(path):
        return UNREADABLE, 0
    try:
        size = os.path.getsize(path)
        with open(path, "rb") as fh:
            fh.read(1)
    except FileNotFoundError:
        return MISSING, 0
    except OSError:
        return UNREADABLE, 0
    return (EMPTY if size == 0 else ""), size


def check_files(ctx: JobContext, paths: list[str]) -> list[tuple[str, str, int]]:
    """Worker: (path, problem, size) of each file, in order (see ``file_problem``)."""
    out = []
    for p in paths:
        ctx.check()
        out.append((p, *file_problem(p)))
    return out


def _hash_or_problem(ctx: JobContext, path: str, method: str) -> tuple[str, str]:
    """Worker: (digest, "") of a file, or ("", problem) when it cannot be read (see file_problem)."""
    try:
        return hash_file(ctx, path, method), ""
    except FileNotFoundError:
        return "", MISSING
    except OSError:
        return "", UNREADABLE


@dataclass(slots=True)
class UploadFile:
    path: str
    name: str
    size: int
    sent: int = 0
    digest: str = ""
    state: str = "pending"  # pending | uploading | uploaded | failed | cancelled


class FirmwareUploader(QObject):
    file_changed = Signal(int)          # index of a file whose progress/state/digest changed
    # bytes sent, bytes total: Python ints (a C++ int would wrap above 2 GiB)
    overall_progress = Signal(object, object)
    stage_changed = Signal(str)          # "uploading" | "creating" | "verifying"
    finished = Signal(object)            # FirmwareDetail (or firmwareID int if reading it failed)
    failed = Signal(object)              # ApiError
    cancelled = Signal()

    def __init__(self, client: ApiClient, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._client = client
        self.files: list[UploadFile] = []
        self._firmware: dto.NewFirmware | None = None
        self._uploaded: list[dict[str, str]] = []
        self._call: ApiCall | None = None
        self._hash_jobs: list[Job] = []
        self._index = 0
        self._running = False
        self._hashes_pending = 0
        self._firmware_id: int | None = None

    @property
    def running(self) -> bool:
        return self._running

    @property
    def total_bytes(self) -> int:
        return sum(f.size for f in self.files)

    def start(self, firmware: dto.NewFirmware, files: list[UploadFile]) -> None:
        assert not self._running, "an upload is already running"
        self._firmware, self.files = firmware, files
        self._uploaded, self._index, self._running = [], 0, True
        self._firmware_id = None
        for f in files:
            f.sent, f.digest, f.state = 0, "", "pending"
        self._hashes_pending = len(files)
        self._hash_jobs = []
        for i, f in enumerate(files):
            job = run_in_pool(_hash_or_problem, f.path, firmware.signMethod)
            job.finished.connect(lambda result, i=i: self._on_hashed(i, result))
            job.failed.connect(lambda msg, f=f: self._fail(ApiError(-1, f"{f.name}: {msg}")))
            self._hash_jobs.append(job)
        self.stage_changed.emit("uploading")
        self._emit_overall()
        self._upload_next()

    def cancel(self) -> None:
        if not self._running:
            return
        self._running = False
        for job in self._hash_jobs:
            job.cancel()
        call, self._call = self._call, None
        if call is not None:
            call.abort()
        for i, f in enumerate(self.files):
            if f.state in ("pending", "uploading"):
                f.state = "cancelled"
                self.file_changed.emit(i)
        self.cancelled.emit()

    # -- steps --------------------------------------------------------------------------------
    def _on_hashed(self, index: int, result: tuple[str, str]) -> None:
        digest, problem = result
        if problem:
            f = self.files[index]
            self._fail(LocalFileError(CODE_LOCAL_FILE, f"{problem}: {f.path}", 0, problem, f.path))
            return
        self.files[index].digest = digest
        self._hashes_pending -= 1
        self.file_changed.emit(index)
        self._maybe_create()

    def _upload_next(self) -> None:
        if not self._running:
            return
        if self._index >= len(self.files):
            self._maybe_create()
            return
        f = self.files[self._index]
        f.state = "uploading"
        self.file_changed.emit(self._index)
        assert self._firmware is not None
        self._call = self._client.create_upload_url(self._firmware.productID, f.name).then(
            self._on_upload_url, self._fail)

    def _on_upload_url(self, data: dict) -> None:
        if not self._running:
            return
        f = self.files[self._index]
        file_path, upload_uri = data["filePath"], data["uploadUri"]
        call = self._client.put_file(upload_uri, f.path)
        call.progress.connect(self._on_put_progress)
        call.then(lambda _data: self._on_put_done(file_path), lambda e: self._on_put_failed(f, e))
        self._call = call

    def _on_put_progress(self, sent: int, total: int) -> None:
        if not self._running or sent < 0:
            return
        f = self.files[self._index]
        f.sent = min(sent, f.size)
        self.file_changed.emit(self._index)
        self._emit_overall()

    def _on_put_failed(self, f: UploadFile, error: ApiError) -> None:
        """put_file names the file when it cannot open it: that is the disk's fault, not the network's."""
        if error.code == CODE_NETWORK and error.msg.startswith(f"{f.path}:"):
            kind = MISSING if "no such file" in error.msg.lower() else UNREADABLE
            error = LocalFileError(CODE_LOCAL_FILE, f"{kind}: {f.path}", 0, kind, f.path)
        self._fail(error)

    def _on_put_done(self, file_path: str) -> None:
        if not self._running:
            return
        f = self.files[self._index]
        f.sent, f.state = f.size, "uploaded"
        self._uploaded.append({"filePath": file_path, "name": f.name})
        self.file_changed.emit(self._index)
        self._emit_overall()
        self._index += 1
        self._upload_next()

    def _maybe_create(self) -> None:
        if not self._running or self._hashes_pending or len(self._uploaded) < len(self.files):
            return
        if self._firmware_id is not None or (self._call is not None and not self._call.done):
            return
        assert self._firmware is not None
        self.stage_changed.emit("creating")
        self._call = self._client.create_firmware(self._firmware, self._uploaded).then(self._on_created, self._fail)

    def _on_created(self, firmware_id: int) -> None:
        self._firmware_id = firmware_id
        self._call = None
        self.stage_changed.emit("verifying")
        self._client.read_firmware(firmware_id).then(self._on_read, lambda _e: self._finish(firmware_id))

    def _on_read(self, detail: dto.FirmwareDetail) -> None:
        self._finish(detail)

    def _finish(self, result: object) -> None:
        self._running = False
        self.finished.emit(result)

    def _fail(self, error: ApiError) -> None:
        if not self._running or error.code == CODE_CANCELLED:
            return
        self._running = False
        for job in self._hash_jobs:
            job.cancel()
        if self._call is not None and not self._call.done:
            self._call.abort()
        self._call = None
        for i, f in enumerate(self.files):
            if f.state == "uploading":
                f.state = "failed"
                self.file_changed.emit(i)
        self.failed.emit(error)

    def _emit_overall(self) -> None:
        self.overall_progress.emit(sum(f.sent for f in self.files), self.total_bytes)

    def mismatched_digests(self, detail: dto.FirmwareDetail) -> list[str]:
        """Names of files whose stored digest differs from the local one."""
        local = {f.name: f.digest for f in self.files}
        return [f.name for f in detail.files if f.name in local and local[f.name]
                and f.signature and f.signature.lower() != local[f.name].lower()]
