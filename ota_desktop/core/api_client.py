"""Non-blocking client of the OTA HTTP API over QNetworkAccessManager.

Every call returns an :class:`ApiCall` whose ``finished(data)`` or ``failed(ApiError)``
signal fires once. Results are converted to the dataclasses of :mod:`.dto`.
"""
from __future__ import annotations

import contextlib
import gc
import json
import os
import tempfile
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QByteArray, QFile, QIODevice, QObject, QTimer, QUrl, Signal
from PySide6.QtNetwork import QNetworkAccessManager, QNetworkReply, QNetworkRequest

from ota_protocol.codes import OK, ErrorCode

from . import dto
from .workers import JobContext, run_in_pool

TOKEN_HEADER = b"iThings-token"
DEFAULT_TIMEOUT_MS = 15_000
PAGE_SIZE = 1000
#: lists of at least this many rows are kept out of the garbage collector's way while they load
BIG_LIST = 10_000

#: codes of the protocol (ota_protocol.codes); client-side failures use negative numbers
CODE_OK = OK
CODE_PARAMETER = int(ErrorCode.PARAMETER)
CODE_NETWORK = -1
CODE_CANCELLED = -2
CODE_BAD_RESPONSE = -3
#: a local file could not be read or written (the number uploader.CODE_LOCAL_FILE uses too)
CODE_LOCAL_FILE = -10

#: big files (a 1 GiB release capsule): a transfer fails only after this long without a byte
#: moving (QNetworkRequest's transfer timeout counts inactivity), e.g. while the backend checks
#: the digests of everything it received
BIG_FILE_TIMEOUT_MS = 600_000
#: a download is read from the network at most this far ahead of the disk (Qt's read buffer:
#: a limit Qt does not always keep when the disk is much slower than a loopback connection)
DOWNLOAD_BUFFER = 4 << 20
#: a download is written in pieces of at most this size
DOWNLOAD_PIECE = 1 << 20
#: an error answer to a download (the JSON envelope) is kept up to this size
ERROR_BODY_LIMIT = 1 << 20


@dataclass(frozen=True, slots=True)
class ApiError:
    code: int
    msg: str
    http_status: int = 0

    @property
    def field(self) -> str | None:
        """The request field an error names ("version: must be ..." -> "version").

        ``files[1].name: ...`` and ``files.1.name: ...`` name ``files``.
        """
        head, sep, _ = self.msg.partition(":")
        if not sep:
            return None
        head = head.strip()
        for stop in "[.":
            head = head.split(stop, 1)[0]
        return head if head and " " not in head else None

    @property
    def detail(self) -> str:
        """The message without the field name in front."""
        return self.msg.partition(":")[2].strip() if self.field else self.msg

    @property
    def cancelled(self) -> bool:
        return self.code == CODE_CANCELLED

    def __str__(self) -> str:
        return self.msg


class ApiCall(QObject):
    """One pending request. Emits exactly one of ``finished`` / ``failed``."""

    finished = Signal(object)
    failed = Signal(object)
    progress = Signal("qlonglong", "qlonglong")  # type: ignore[arg-type]  # C++ type names: PySide6 takes them (64-bit ints); its stubs only know types
    # (bytes sent, bytes total of uploads)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._done = False
        self._abort_hook: Callable[[], None] | None = None

    @property
    def done(self) -> bool:
        return self._done

    def then(self, on_ok: Callable[[Any], Any] | None = None,
             on_error: Callable[[ApiError], Any] | None = None) -> ApiCall:
        if on_ok is not None:
            self.finished.connect(on_ok)
        if on_error is not None:
            self.failed.connect(on_error)
        return self

    def resolve(self, data: Any) -> None:
        if not self._done:
            self._done = True
            self.finished.emit(data)
            self.deleteLater()

    def reject(self, error: ApiError) -> None:
        if not self._done:
            self._done = True
            self.failed.emit(error)
            self.deleteLater()

    def abort(self) -> None:
        if self._done:
            return
        if self._abort_hook is not None:
            self._abort_hook()
        self.reject(ApiError(CODE_CANCELLED, "cancelled"))


def _envelope(reply: QNetworkReply, raw: bytes) -> tuple[Any, ApiError | None]:
    status = int(reply.attribute(QNetworkRequest.Attribute.HttpStatusCodeAttribute) or 0)
    if not raw:
        if reply.error() != QNetworkReply.NetworkError.NoError:
            code = CODE_CANCELLED if reply.error() == QNetworkReply.NetworkError.OperationCanceledError else CODE_NETWORK
            return None, ApiError(code, reply.errorString(), status)
        if 200 <= status < 300:
            return {}, None
        return None, ApiError(CODE_BAD_RESPONSE, f"HTTP {status}", status)
    try:
        body = json.loads(raw)
    except ValueError:
        if 200 <= status < 300:
            return {}, None
        return None, ApiError(CODE_BAD_RESPONSE, f"HTTP {status}: {raw[:200].decode(errors='replace')}", status)
    if not isinstance(body, dict) or "code" not in body:
        return None, ApiError(CODE_BAD_RESPONSE, f"HTTP {status}: unexpected response", status)
    if body["code"] != CODE_OK:
        return None, ApiError(int(body["code"]), str(body.get("msg", "")), status)
    return body.get("data") or {}, None


class ApiClient(QObject):
    """The OTA backend over HTTP. ``set_endpoint`` before use; safe to call again later."""

    def __init__(self, parent: QObject | None = None, *, timeout_ms: int = DEFAULT_TIMEOUT_MS,
                 manager: QNetworkAccessManager | None = None) -> None:
        super().__init__(parent)
        self._nam = manager or QNetworkAccessManager(self)
        self._base_url = ""
        self._token = ""
        self._timeout_ms = timeout_ms

    # -- endpoint -------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        return self._base_url

    @property
    def token(self) -> str:
        return self._token

    @property
    def network_manager(self) -> QNetworkAccessManager:
        return self._nam

    def set_endpoint(self, base_url: str, token: str) -> None:
        self._base_url = base_url.rstrip("/")
        self._token = token

    def url(self, path_and_query: str) -> QUrl:
        # fromEncoded keeps a presigned query string byte for byte
        return QUrl.fromEncoded(QByteArray((self._base_url + path_and_query).encode()), QUrl.ParsingMode.StrictMode)

    def _request(self, path: str, timeout_ms: int | None, auth: bool = True) -> QNetworkRequest:
        req = QNetworkRequest(self.url(path))
        if auth and self._token:
            req.setRawHeader(TOKEN_HEADER, self._token.encode())
        req.setTransferTimeout(self._timeout_ms if timeout_ms is None else timeout_ms)
        return req

    # -- generic calls --------------------------------------------------------------------
    def request(self, path: str, body: dict[str, Any] | None = None,
                parse: Callable[[Any], Any] | None = None, timeout_ms: int | None = None) -> ApiCall:
        """POST ``body`` as JSON to ``path``; ``parse`` converts the envelope's ``data``."""
        call = ApiCall(self)
        req = self._request(path, timeout_ms)
        req.setHeader(QNetworkRequest.KnownHeaders.ContentTypeHeader, "application/json")
        reply = self._nam.post(req, QByteArray(json.dumps(body or {}).encode()))
        self._wire(call, reply, parse)
        return call

    def _wire(self, call: ApiCall, reply: QNetworkReply, parse: Callable[[Any], Any] | None) -> None:
        call._abort_hook = reply.abort

        def on_finished() -> None:
            call._abort_hook = None
            if call.done:  # aborted: nothing to read
                reply.deleteLater()
                return
            raw = bytes(reply.readAll().data()) if reply.isOpen() else b""  # closed when aborted
            data, error = _envelope(reply, raw)
            reply.deleteLater()
            if error is not None:
                call.reject(error)
                return
            try:
                result = parse(data) if parse else data
            except (KeyError, TypeError, ValueError) as exc:
                call.reject(ApiError(CODE_BAD_RESPONSE, f"unexpected response: {exc}"))
                return
            call.resolve(result)

        reply.finished.connect(on_finished)

    def health(self) -> ApiCall:
        call = ApiCall(self)
        reply = self._nam.get(self._request("/api/v1/health", 5000, auth=False))
        self._wire(call, reply, None)
        return call

    def put_file(self, upload_uri: str, path: str) -> ApiCall:
        """PUT a file's raw bytes to a presigned ``upload_uri``, streamed from a QFile."""
        call = ApiCall(self)
        qfile = QFile(path)
        if not qfile.open(QIODevice.OpenModeFlag.ReadOnly):
            # later, not now: the caller connects its handlers to the call this returns
            error = ApiError(CODE_NETWORK, f"{path}: {qfile.errorString()}")
            QTimer.singleShot(0, call, lambda: call.reject(error))
            return call
        req = self._request(upload_uri, 60_000, auth=False)
        req.setHeader(QNetworkRequest.KnownHeaders.ContentTypeHeader, "application/octet-stream")
        req.setHeader(QNetworkRequest.KnownHeaders.ContentLengthHeader, qfile.size())
        reply = self._nam.put(req, qfile)
        qfile.setParent(reply)  # open until the transfer is over, even when aborted
        reply.uploadProgress.connect(call.progress)
        self._wire(call, reply, None)
        return call

    def fetch_all(self, path: str, body: dict[str, Any], parse_item: Callable[[dict], Any]) -> ApiCall:
        """Every page of a list route; resolves with the list of parsed items."""
        call = ApiCall(self)
        items: list[Any] = []
        # The page calls are children of this client and keep their callbacks until deleted
        # (deleteLater): holding the client there would let that deferred deletion free a
        # Python-owned client, which then deletes the half-destroyed call again (segfault).
        client = weakref.ref(self)

        def fetch(page: int) -> None:
            owner = client()
            if call.done or owner is None:
                return
            page_call = owner.request(path, {**body, "page": {"page": page, "size": PAGE_SIZE}})
            call._abort_hook = page_call.abort

            def got(data: dict) -> None:
                batch = data.get("list") or []
                try:
                    items.extend(parse_item(row) for row in batch)
                except (KeyError, TypeError, ValueError) as exc:
                    call.reject(ApiError(CODE_BAD_RESPONSE, f"unexpected response: {exc}"))
                    return
                total = int(data.get("total") or 0)
                if total >= BIG_LIST:
                    # the rows parsed so far live long: later passes of the cyclic garbage
                    # collector skip them (a full pass over a growing 100,000-row list stops
                    # the GUI thread for 50-100 ms); they hold no cycles, refcounts free them
                    gc.freeze()
                if batch and len(items) < total:
                    fetch(page + 1)
                else:
                    call.resolve(items)

            page_call.then(got, call.reject)

        fetch(1)
        return call

    # -- products & devices (spec section 6) ------------------------------------------------
    def products(self) -> ApiCall:
        return self.fetch_all("/api/v1/things/product/info/index", {}, dto.Product.from_json)

    def create_product(self, name: str, product_id: str = "", desc: str = "") -> ApiCall:
        body: dict[str, Any] = {"productName": name, "desc": desc}
        if product_id:
            body["productID"] = product_id
        return self.request("/api/v1/things/product/info/create", body)

    def delete_product(self, product_id: str) -> ApiCall:
        return self.request("/api/v1/things/product/info/delete", {"productID": product_id})

    def devices(self, product_id: str) -> ApiCall:
        return self.fetch_all("/api/v1/things/device/info/index", {"productID": product_id}, dto.Device.from_json)

    def devices_with_secrets(self, product_id: str) -> ApiCall:
        """Every device of a product with its ``deviceSecret`` (all pages; admin only)."""
        return self.fetch_all("/api/v1/things/device/info/index", {"productID": product_id, "withSecret": True},
                              dto.Device.from_json)

    def create_device(self, product_id: str, name: str, version: str, secret: str = "") -> ApiCall:
        body: dict[str, Any] = {"productID": product_id, "deviceName": name, "version": version}
        if secret:
            body["deviceSecret"] = secret
        return self.request("/api/v1/things/device/info/create", body, dto.Device.from_json)

    def read_device(self, product_id: str, name: str) -> ApiCall:
        return self.request("/api/v1/things/device/info/read", {"productID": product_id, "deviceName": name},
                            dto.Device.from_json)

    def delete_device(self, product_id: str, name: str) -> ApiCall:
        return self.request("/api/v1/things/device/info/delete", {"productID": product_id, "deviceName": name})

    def import_devices_csv(self, product_id: str, csv_text: str) -> ApiCall:
        return self.request("/api/v1/things/device/info/import", {"productID": product_id, "csv": csv_text},
                            lambda d: [dto.Device.from_json(x) for x in d.get("list") or []], timeout_ms=120_000)

    # -- uploads & firmware (spec sections 2 and 4) ------------------------------------------
    def create_upload_url(self, product_id: str, file_name: str) -> ApiCall:
        return self.request("/api/v1/system/common/upload-url/create",
                            {"business": "productManage", "scene": "ota",
                             "filePath": f"{product_id}/{file_name}", "rename": True})

    def firmwares(self, product_id: str = "") -> ApiCall:
        body = {"productID": product_id} if product_id else {}
        return self.fetch_all("/api/v1/things/ota/firmware/index", body, dto.Firmware.from_json)

    def create_firmware(self, firmware: dto.NewFirmware, files: list[dict[str, str]]) -> ApiCall:
        return self.request("/api/v1/things/ota/firmware/create", firmware.to_json(files),
                            lambda d: int(d["firmwareID"]), timeout_ms=600_000)

    def read_firmware(self, firmware_id: int) -> ApiCall:
        return self.request("/api/v1/things/ota/firmware/read", {"firmwareID": firmware_id},
                            dto.FirmwareDetail.from_json)

    def delete_firmware(self, firmware_id: int) -> ApiCall:
        return self.request("/api/v1/things/ota/firmware/delete", {"firmwareID": firmware_id})

    def firmware_device_versions(self, firmware_id: int) -> ApiCall:
        def parse(d: dict) -> list[str]:
            versions = d.get("versions") or ""
            if isinstance(versions, list):
                return [str(v) for v in versions if str(v)]
            return [v for v in (s.strip() for s in str(versions).split(",")) if v]

        return self.request("/api/v1/things/ota/firmware/device-info-read", {"firmwareID": firmware_id}, parse)

    # -- tasks (spec section 5) ---------------------------------------------------------------
    def tasks(self, firmware: dto.Firmware) -> ApiCall:
        def parse(row: dict) -> dto.Task:
            task = dto.Task.from_json(row)
            task.firmwareID, task.version, task.productID = firmware.firmwareID, firmware.version, firmware.productID
            return task

        return self.fetch_all("/api/v1/things/ota/task/index", {"firmwareID": firmware.firmwareID}, parse)

    def create_task(self, task: dto.NewTask) -> ApiCall:
        return self.request("/api/v1/things/ota/task/create", task.to_json(), timeout_ms=120_000)

    def read_task(self, task_id: int) -> ApiCall:
        return self.request("/api/v1/things/ota/task/read", {"taskID": task_id}, dto.TaskDetail.from_json)

    def cancel_task(self, task_id: int) -> ApiCall:
        return self.request("/api/v1/things/ota/task/cancel", {"taskID": task_id})

    def task_records(self, task_uid: str) -> ApiCall:
        return self.fetch_all("/api/v1/things/ota/task/device-index", {"taskUid": task_uid},
                              dto.DeviceRecord.from_json)

    def task_analysis(self, task_uid: str) -> ApiCall:
        return self.request("/api/v1/things/ota/task/analysis", {"taskUid": task_uid},
                            lambda d: dto.parse_analysis(d.get("result")))

    def retry_record(self, record_id: int) -> ApiCall:
        return self.request("/api/v1/things/ota/task/device-retry", {"id": record_id})

    def cancel_record(self, record_id: int) -> ApiCall:
        return self.request("/api/v1/things/ota/task/device-cancel", {"id": record_id})

    # ---- daily work ---- (protocol 7, 8.2, 9.2: task progress, device history, impact of deletes)
    def tasks_with_counts(self, firmware: dto.Firmware) -> ApiCall:
        """The firmware's tasks (task/index, every page) as ``(dto.Task, {record status: count})``."""
        def parse(row: dict) -> tuple[dto.Task, dict[int, int]]:
            task = dto.Task.from_json(row)
            task.firmwareID, task.version, task.productID = firmware.firmwareID, firmware.version, firmware.productID
            counts = row.get("statusCount") or {}
            return task, {int(k): int(v) for k, v in counts.items()} if isinstance(counts, dict) else {}

        return self.fetch_all("/api/v1/things/ota/task/index", {"firmwareID": firmware.firmwareID}, parse)

    def device_history(self, product_id: str, device_name: str, page: int = 1, size: int = 50) -> ApiCall:
        """One page of a device's OTA history across tasks, newest first: ``(entries, total)``;
        an entry is a dict with recordID, taskUid, targetVersion, time, status, step, desc,
        retryCount and actor."""
        def parse(d: dict) -> tuple[list[dict[str, Any]], int]:
            keys = {"recordID": 0, "taskUid": "", "targetVersion": "", "time": 0, "status": 0, "step": 0,
                    "desc": "", "retryCount": 0, "actor": ""}
            entries = [{k: row.get(k, default) if row.get(k) is not None else default for k, default in keys.items()}
                       for row in d.get("list") or []]
            return entries, int(d.get("total") or 0)

        return self.request("/api/v1/things/ota/device/history",
                            {"productID": product_id, "deviceName": device_name,
                             "page": {"page": page, "size": size}}, parse)

    def _total(self, path: str, body: dict[str, Any]) -> ApiCall:
        """The ``total`` of a list route (one row asked for)."""
        return self.request(path, {**body, "page": {"page": 1, "size": 1}}, lambda d: int(d.get("total") or 0))

    def product_counts(self, product_id: str) -> ApiCall:
        """What deleting a product takes with it: ``{"devices": n, "firmware": n}``."""
        call = ApiCall(self)
        counts: dict[str, int] = {}
        parts = {"devices": self._total("/api/v1/things/device/info/index", {"productID": product_id}),
                 "firmware": self._total("/api/v1/things/ota/firmware/index", {"productID": product_id})}

        def got(name: str, n: int) -> None:
            counts[name] = n
            if len(counts) == len(parts):
                call.resolve(dict(counts))

        def counter(name: str) -> Callable[[int], None]:
            return lambda n: got(name, n)

        for name, part in parts.items():
            part.then(counter(name), call.reject)
        def abort() -> None:
            for part in parts.values():
                part.abort()

        call._abort_hook = abort
        return call

    def firmware_task_count(self, firmware_id: int) -> ApiCall:
        """How many tasks use the firmware (task/index filtered by it, one row asked for): what
        deleting it takes with it."""
        return self._total("/api/v1/things/ota/task/index", {"firmwareID": firmware_id})

    def firmware_with_version(self, product_id: str, version: str) -> ApiCall:
        """The product's firmware with exactly this version (firmware/index filtered by it), or None."""
        def parse(d: dict) -> dto.Firmware | None:
            found = [dto.Firmware.from_json(row) for row in d.get("list") or []]
            return next((f for f in found if f.version == version and f.productID in ("", product_id)), None)

        return self.request("/api/v1/things/ota/firmware/index",
                            {"productID": product_id, "name": version, "page": {"page": 1, "size": PAGE_SIZE}},
                            parse)

    def device_names(self, product_id: str) -> ApiCall:
        """The names of every device of a product (all pages), as a set."""
        call = ApiCall(self)
        self.devices(product_id).then(lambda rows: call.resolve({d.deviceName for d in rows}), call.reject)
        return call
    # ---- end of daily work ----

    # ---- rollout safety ---- (protocol 9.2 and 13.13: preview, pause/resume/advance, waves, export)
    def preview_task(self, task: dto.NewTask) -> ApiCall:
        """What task/create with this body would plan now (nothing is created): a dto.Preview."""
        return self.request("/api/v1/things/ota/task/preview", task.to_json(), dto.Preview.from_json,
                            timeout_ms=60_000)

    def pause_task(self, task_id: int) -> ApiCall:
        return self.request("/api/v1/things/ota/task/pause", {"taskID": task_id}, dto.Task.from_json)

    def resume_task(self, task_id: int) -> ApiCall:
        return self.request("/api/v1/things/ota/task/resume", {"taskID": task_id}, dto.Task.from_json)

    def advance_task(self, task_id: int) -> ApiCall:
        """Release the task's next wave now."""
        return self.request("/api/v1/things/ota/task/advance", {"taskID": task_id}, dto.Task.from_json)

    def update_task(self, task_id: int, max_per_minute: int | None = None,
                    gray_percent: int | None = None) -> ApiCall:
        body: dict[str, Any] = {"taskID": task_id}
        if max_per_minute is not None:
            body["maxPerMinute"] = max_per_minute
        if gray_percent is not None:
            body["grayPercent"] = gray_percent
        return self.request("/api/v1/things/ota/task/update", body, dto.Task.from_json)

    def task_waves(self, task_id: int) -> ApiCall:
        return self.request("/api/v1/things/ota/task/waves", {"taskID": task_id}, dto.TaskWaves.from_json)

    def task_export(self, task_id: int, fmt: str = "csv") -> ApiCall:
        """The task's results: CSV (one row per device) or a one-page HTML summary, as bytes."""
        return self.request_bytes("/api/v1/things/ota/task/export", {"taskID": task_id, "format": fmt})

    def request_bytes(self, path: str, body: dict[str, Any], timeout_ms: int | None = 120_000) -> ApiCall:
        """POST ``body`` as JSON; resolves with the raw answer (a file, not the envelope). An error
        answer (the JSON envelope, or no answer) fails as in :meth:`request`."""
        call = ApiCall(self)
        req = self._request(path, timeout_ms)
        req.setHeader(QNetworkRequest.KnownHeaders.ContentTypeHeader, "application/json")
        reply = self._nam.post(req, QByteArray(json.dumps(body).encode()))
        call._abort_hook = reply.abort

        def on_finished() -> None:
            call._abort_hook = None
            if call.done:
                reply.deleteLater()
                return
            raw = bytes(reply.readAll().data()) if reply.isOpen() else b""
            status = int(reply.attribute(QNetworkRequest.Attribute.HttpStatusCodeAttribute) or 0)
            kind = str(reply.header(QNetworkRequest.KnownHeaders.ContentTypeHeader) or "")
            if 200 <= status < 300 and reply.error() == QNetworkReply.NetworkError.NoError \
                    and not kind.startswith("application/json"):
                reply.deleteLater()
                call.resolve(raw)
                return
            _data, error = _envelope(reply, raw)
            reply.deleteLater()
            call.reject(error or ApiError(CODE_BAD_RESPONSE, f"HTTP {status}: unexpected response", status))

        reply.finished.connect(on_finished)
        return call
    # ---- end of rollout safety ----

    # ---- release capsules ---- (issue 15: signed offline releases, task drafts, evidence, trusted publishers)
    def upload(self, path: str, file_path: str, parse: Callable[[Any], Any] | None = None,
               timeout_ms: int = BIG_FILE_TIMEOUT_MS) -> ApiCall:
        """POST a file's bytes as the raw body to ``path``, streamed from a QFile (never held in
        memory); ``progress`` is (bytes sent, bytes total); the answer is the JSON envelope."""
        call = ApiCall(self)
        qfile = QFile(file_path)
        if not qfile.open(QIODevice.OpenModeFlag.ReadOnly):
            error = ApiError(CODE_LOCAL_FILE, f"{file_path}: {qfile.errorString()}")
            QTimer.singleShot(0, call, lambda: call.reject(error))  # once the caller has connected
            return call
        req = self._request(path, timeout_ms)
        req.setHeader(QNetworkRequest.KnownHeaders.ContentTypeHeader, "application/octet-stream")
        req.setHeader(QNetworkRequest.KnownHeaders.ContentLengthHeader, qfile.size())
        reply = self._nam.post(req, qfile)
        qfile.setParent(reply)  # open until the transfer is over, even when aborted

        def sent(done: int, total: int) -> None:
            if total > 0:  # Qt says (0, 0) once the upload is over: the bar stays full
                call.progress.emit(done, total)

        reply.uploadProgress.connect(sent)
        self._wire(call, reply, parse)
        return call

    def download(self, path: str, body: dict[str, Any], dest: str,
                 timeout_ms: int = BIG_FILE_TIMEOUT_MS) -> ApiCall:
        """POST ``body`` as JSON; the answer (a file) is written to disk as it arrives, into a
        temporary file in ``dest``'s folder that becomes ``dest`` at the end (synced and renamed
        on the thread pool). An error, an abort or a short answer removes the partial file.
        ``progress`` is (bytes received, bytes total); resolves with ``dest``. An error answer
        (the JSON envelope) fails as in :meth:`request`."""
        call = ApiCall(self)
        try:
            fd, part = tempfile.mkstemp(prefix=f".{os.path.basename(dest)}.", suffix=".part",
                                        dir=os.path.dirname(os.path.abspath(dest)))
        except OSError as exc:
            error = ApiError(CODE_LOCAL_FILE, f"{dest}: {exc.strerror or exc}")
            QTimer.singleShot(0, call, lambda: call.reject(error))
            return call
        out = os.fdopen(fd, "wb")
        req = self._request(path, timeout_ms)
        req.setHeader(QNetworkRequest.KnownHeaders.ContentTypeHeader, "application/json")
        reply = self._nam.post(req, QByteArray(json.dumps(body).encode()))
        reply.setReadBufferSize(DOWNLOAD_BUFFER)
        reply.downloadProgress.connect(call.progress)
        #: "file": the answer is the file; "error": an error answer, kept in memory (small)
        state: dict[str, Any] = {"mode": "", "written": 0, "failure": None}
        error_body = bytearray()

        def discard() -> None:
            out.close()
            with contextlib.suppress(OSError):
                os.remove(part)

        def read() -> None:
            if not reply.isOpen():
                return
            if not state["mode"]:
                status = int(reply.attribute(QNetworkRequest.Attribute.HttpStatusCodeAttribute) or 0)
                kind = str(reply.header(QNetworkRequest.KnownHeaders.ContentTypeHeader) or "")
                state["mode"] = "file" if 200 <= status < 300 and not kind.startswith("application/json") else "error"
            while reply.bytesAvailable() > 0:  # in pieces: never a second copy of a big backlog
                chunk = bytes(reply.read(DOWNLOAD_PIECE).data())
                if state["mode"] == "error":
                    error_body.extend(chunk[:max(0, ERROR_BODY_LIMIT - len(error_body))])
                    continue
                if state["failure"] is not None:
                    return
                try:
                    out.write(chunk)
                except OSError as exc:  # disk full, drive gone: stop the transfer, say which file
                    state["failure"] = ApiError(CODE_LOCAL_FILE, f"{dest}: {exc.strerror or exc}")
                    reply.abort()
                    return
                state["written"] += len(chunk)

        def aborted() -> None:
            reply.abort()
            discard()

        call._abort_hook = aborted

        def on_finished() -> None:
            call._abort_hook = None
            if not call.done and state["failure"] is None:
                read()  # what arrived with the end
            failure = state["failure"]
            if call.done or failure is not None:
                discard()
                reply.deleteLater()
                if failure is not None:
                    call.reject(failure)
                return
            status = int(reply.attribute(QNetworkRequest.Attribute.HttpStatusCodeAttribute) or 0)
            ok = state["mode"] == "file" and reply.error() == QNetworkReply.NetworkError.NoError
            expected = reply.header(QNetworkRequest.KnownHeaders.ContentLengthHeader)
            if ok and expected is not None and int(expected) != state["written"]:
                discard()
                reply.deleteLater()
                call.reject(ApiError(CODE_NETWORK, f"the answer ended after {state['written']} of {int(expected)} bytes",
                                     status))
                return
            if ok:
                reply.deleteLater()
                out.close()
                job = run_in_pool(_finish_download, part, dest)
                call._abort_hook = job.cancel

                def not_finished(message: str) -> None:
                    discard()
                    call.reject(ApiError(CODE_LOCAL_FILE, f"{dest}: {message}"))

                job.then(lambda _result: call.resolve(dest), not_finished)
                job.cancelled.connect(discard)
                return
            _data, error = _envelope(reply, bytes(error_body))
            discard()
            reply.deleteLater()
            call.reject(error or ApiError(CODE_BAD_RESPONSE, f"HTTP {status}: unexpected response", status))

        reply.readyRead.connect(read)
        reply.finished.connect(on_finished)
        return call

    def capsule_key(self) -> ApiCall:
        """This installation's publisher identity: a dto.CapsuleKey."""
        return self.request(CAPSULE + "key", {}, dto.CapsuleKey.from_json)

    def trusted_publishers(self) -> ApiCall:
        return self.request(CAPSULE + "trust/index", {},
                            lambda d: [dto.Publisher.from_json(row) for row in d.get("list") or []])

    def trust_publisher(self, public_key_pem: str, name: str) -> ApiCall:
        """Trust capsules and evidence signed by this key; resolves with its fingerprint."""
        return self.request(CAPSULE + "trust", {"publicKey": public_key_pem, "name": name},
                            lambda d: str(d["fingerprint"]))

    def distrust_publisher(self, fingerprint: str) -> ApiCall:
        return self.request(CAPSULE + "trust/delete", {"fingerprint": fingerprint})

    def export_capsule(self, firmware_id: int, dest: str, task: dict[str, Any] | None = None,
                       expires_in_days: int = 30) -> ApiCall:
        """The firmware (and a task template: task/create's fields without firmwareID) as a signed
        capsule, streamed into ``dest`` (see :meth:`download`)."""
        body: dict[str, Any] = {"firmwareID": firmware_id, "expiresInDays": expires_in_days}
        if task:
            body["task"] = task
        return self.download(CAPSULE + "export", body, dest)

    def verify_capsule(self, file_path: str) -> ApiCall:
        """Everything import checks, nothing created: a dto.CapsuleInfo, or the refusal."""
        return self.upload(CAPSULE + "verify", file_path, dto.CapsuleInfo.from_json)

    def import_capsule(self, file_path: str) -> ApiCall:
        """The capsule's product (when new), firmware and task draft: a dto.CapsuleImported."""
        return self.upload(CAPSULE + "import", file_path, dto.CapsuleImported.from_json)

    def task_drafts(self) -> ApiCall:
        return self.request(DRAFT + "index", {}, lambda d: [dto.TaskDraft.from_json(row) for row in d.get("list") or []])

    def start_draft(self, draft_id: int) -> ApiCall:
        """Create the task of a draft (the draft is removed): ``{"taskID", "taskUid"}``."""
        return self.request(DRAFT + "start", {"draftID": draft_id}, timeout_ms=120_000)

    def delete_draft(self, draft_id: int) -> ApiCall:
        return self.request(DRAFT + "delete", {"draftID": draft_id})

    def export_evidence(self, task_id: int, dest: str) -> ApiCall:
        """The task's results, signed by this installation, streamed into ``dest``."""
        return self.download(CAPSULE + "evidence", {"taskID": task_id}, dest)

    def import_evidence(self, file_path: str) -> ApiCall:
        return self.upload(CAPSULE + "evidence/import", file_path, dto.EvidenceImported.from_json)

    def release_evidence(self, product_id: str = "") -> ApiCall:
        """Per release, the stations whose evidence came back: a list of dto.ReleaseEvidence."""
        body = {"productID": product_id} if product_id else {}
        return self.request(CAPSULE + "evidence/index", body,
                            lambda d: [dto.ReleaseEvidence.from_json(row) for row in d.get("list") or []])

    def evidence_devices(self, evidence_id: int) -> ApiCall:
        """Every device row of a station's evidence (all pages)."""
        return self.fetch_all(CAPSULE + "evidence/devices", {"evidenceID": evidence_id}, dto.EvidenceDevice.from_json)


CAPSULE = "/api/v1/things/ota/capsule/"
DRAFT = "/api/v1/things/ota/task/draft/"


def _finish_download(ctx: JobContext, part: str, dest: str) -> None:
    """On the thread pool: the downloaded file to disk (fsync), then in place of ``dest``."""
    with open(part, "r+b") as fh:
        os.fsync(fh.fileno())
    ctx.check()
    os.replace(part, dest)
# ---- end of release capsules ----
