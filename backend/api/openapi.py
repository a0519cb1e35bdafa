"""The OpenAPI document as the API really answers: envelopes, data shapes, errors, the token.

FastAPI describes request bodies from the request models; what it cannot know is what our
routes return (``ok(...)`` envelopes built from dicts), that validation errors are 400s in
the envelope rather than 422s, and which routes need the token. This module adds exactly
that to the generated document, route by route, from one table (:data:`REPLIES`). The route
modules stay as they are; a test checks that every route has its entry here.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel, ConfigDict, Field, create_model
from pydantic.json_schema import models_json_schema

from .. import __version__
from .capsules import RAW_BODY_PATHS


class Shape(BaseModel):
    """A reply's data: exactly these fields (extra ones would be a lie in the document)."""
    model_config = ConfigDict(extra="forbid")


class ErrorReply(Shape):
    code: int = Field(description="error code (100006 parameter, 100004/100005 token, 100009 not found, "
                                  "100010 duplicate, ... see docs/protocol.md)")
    msg: str = Field(description="what is wrong, naming the field")


class ProductID(Shape):
    productID: str


class Product(Shape):
    productID: str
    productName: str
    desc: str
    createdTime: int


class Device(Shape):
    productID: str
    deviceName: str
    version: str
    online: bool
    lastSeen: int
    createdTime: int
    deviceSecret: str = Field(default="", description="present where the route says so (read, create, import, "
                                                      "index with withSecret)")


class FirmwareID(Shape):
    firmwareID: int


class FirmwareSummary(Shape):
    firmwareID: int
    name: str
    version: str
    productID: str
    productName: str
    isDiff: int
    signMethod: str
    totalSize: int
    createdTime: int


class FirmwareFile(Shape):
    name: str
    uri: str
    size: int
    signature: str


class FirmwareDetail(FirmwareSummary):
    desc: str
    extData: str
    files: list[FirmwareFile]


class Versions(Shape):
    versions: str = Field(description="the product's devices' current versions, comma-separated")


class TaskCreated(Shape):
    taskID: int
    taskUid: str


class TaskSummary(Shape):
    taskID: int
    taskUid: str
    firmwareID: int
    type: int
    upgradeType: int
    status: int
    version: str
    createdTime: int
    rollout: dict[str, Any] | None = Field(description="the rollout options as stored (docs/protocol.md 13.13), "
                                                       "or null")
    paused: bool
    currentWave: int = Field(description="1-based; 1 without waves")
    waveCount: int
    statusReason: str = Field(description="why an aborted task (status 5) stopped, else empty")


class TaskListed(TaskSummary):
    statusCount: dict[str, int] = Field(description="record status code -> number of records")


class TaskDetail(TaskSummary):
    srcVersion: str
    srcDevice: str
    productID: str
    productName: str
    firmwareName: str
    retryCount: int
    retryIntervalMinutes: int
    timeoutMinutes: int
    maxPerMinute: int
    grayPercent: int
    scheduleTime: int
    overwrite: bool


class Record(Shape):
    id: int
    taskUid: str
    productID: str
    deviceName: str
    version: str
    targetVersion: str
    status: int
    step: int
    desc: str
    retryCount: int
    updatedTime: int
    wave: int = Field(description="the record's rollout wave, 1-based")


class PreviewWave(Shape):
    wave: int
    devices: int


class Preview(Shape):
    devices: int = Field(description="devices considered (the product's, or the deviceList)")
    planned: int = Field(description="records create would make")
    willPush: int = Field(description="records that would be pushed (queued)")
    waves: list[PreviewWave]
    offline: int
    excluded: dict[str, int] = Field(description="onTargetVersion, versionFilter, grayShare, busy, newerVersion")
    overwrites: int


class WaveState(Shape):
    wave: int
    released: bool
    total: int
    succeeded: int
    failed: int
    timedOut: int
    cancelled: int
    active: int
    size: dict[str, int] | None = Field(default=None, description="the wave's size as given (percent or count)")


class TaskWaves(Shape):
    currentWave: int
    paused: bool
    abort: list[dict[str, Any]]
    statusReason: str
    waveDoneTime: int
    list: list[WaveState]  # last: the field's name would shadow the type for the ones after it


class HistoryEntry(Shape):
    recordID: int
    taskUid: str
    targetVersion: str
    time: int
    status: int
    step: int
    desc: str
    retryCount: int
    actor: str = Field(description="admin, device, timer or system")


class AuditEntry(Shape):
    id: int
    time: int
    actor: str
    client: str
    action: str
    target: str = Field(description="the request body, short, secrets masked")
    status: int = Field(description="the HTTP status the call got")


class Analysis(Shape):
    result: str = Field(description="JSON text: record status code -> count")


class UploadUrl(Shape):
    filePath: str
    uploadUri: str


class UploadCleanup(Shape):
    removedObjects: int = Field(description="unclaimed uploads removed")
    freedBytes: int = Field(description="their bytes")
    removedTempFiles: int = Field(description="orphan temporary files of the embedded store removed")
    freedTempBytes: int


class Check(BaseModel):
    """One part's health; figures such as ``latencyMs`` or ``freeBytes`` where useful."""
    model_config = ConfigDict(extra="allow")
    ok: bool
    detail: str
    latencyMs: float | None = None
    freeBytes: int | None = None
    minFreeBytes: int | None = None


class Health(BaseModel):
    """Open to additions: the parts the backend checks may grow. Always HTTP 200: ``healthy`` is
    false when any check fails (``checks``: database, objectStore, broker, dispatcher, disk)."""
    model_config = ConfigDict(extra="allow")
    version: str
    mqttConnected: bool
    dispatcherAlive: bool
    healthy: bool
    checks: dict[str, Check]


# ---- release capsules (docs/capsule.md) ----------------------------------------------------------

class CapsuleKey(Shape):
    publicKey: str = Field(description="PEM (SubjectPublicKeyInfo) of this installation's Ed25519 key")
    fingerprint: str = Field(description="SHA256: and the hex SHA-256 of the raw public key")
    keptIn: str = Field(description="environment, file, keyring or session")


class Fingerprint(Shape):
    fingerprint: str


class TrustedPublisher(Shape):
    fingerprint: str
    name: str
    publicKey: str
    createdTime: int


class Publisher(Shape):
    fingerprint: str
    name: str


class CapsuleProduct(Shape):
    productID: str
    productName: str
    exists: bool


class CapsuleFile(Shape):
    name: str
    size: int
    sha256: str
    md5: str


class CapsuleFirmware(Shape):
    name: str
    version: str
    isDiff: int
    signMethod: str
    desc: str
    extData: str
    totalSize: int
    files: list[CapsuleFile]


class CapsuleSummary(Shape):
    capsuleID: str
    format: int
    publisher: Publisher
    product: CapsuleProduct
    firmware: CapsuleFirmware
    task: dict[str, Any] | None = Field(description="the task template (task/create fields but firmwareID)")
    createdTime: int
    expiresTime: int


class CapsuleImported(CapsuleSummary):
    productID: str
    productCreated: bool
    firmwareID: int
    draftID: int | None


class TaskDraft(Shape):
    draftID: int
    firmwareID: int
    productID: str
    version: str
    capsuleID: str
    publisherName: str
    task: dict[str, Any]
    createdTime: int


class EvidenceImported(Shape):
    evidenceID: int
    station: Publisher
    productID: str
    version: str
    taskUid: str
    capsuleID: str
    devices: int


class DeviceCounts(Shape):
    total: int
    succeeded: int
    failed: int
    other: int


class EvidenceStation(Shape):
    evidenceID: int
    fingerprint: str
    name: str
    capsuleID: str
    taskUid: str
    createdTime: int
    importedTime: int
    devices: DeviceCounts


class Release(Shape):
    productID: str
    version: str
    firmwareID: int | None
    stations: list[EvidenceStation]


class EvidenceDevice(Shape):
    deviceName: str
    status: int
    versionBefore: str
    versionAfter: str
    step: int
    desc: str
    retries: int
    createdTime: int
    updatedTime: int


class Listing:
    """``data: {list: [item...], total}``."""

    def __init__(self, item: type[BaseModel]) -> None:
        self.item = item


NO_DATA = None

#: (method, path) -> the ``data`` of a 200 reply: a model, a Listing of one, or NO_DATA
REPLIES: dict[tuple[str, str], Any] = {
    ("post", "/api/v1/system/common/upload-url/create"): UploadUrl,
    ("post", "/api/v1/system/common/upload-url/cleanup"): UploadCleanup,
    ("post", "/api/v1/things/product/info/create"): ProductID,
    ("post", "/api/v1/things/product/info/update"): NO_DATA,
    ("post", "/api/v1/things/product/info/delete"): NO_DATA,
    ("post", "/api/v1/things/product/info/read"): Product,
    ("post", "/api/v1/things/product/info/index"): Listing(Product),
    ("post", "/api/v1/things/device/info/create"): Device,
    ("post", "/api/v1/things/device/info/import"): Listing(Device),
    ("post", "/api/v1/things/device/info/delete"): NO_DATA,
    ("post", "/api/v1/things/device/info/read"): Device,
    ("post", "/api/v1/things/device/info/index"): Listing(Device),
    ("post", "/api/v1/things/device/info/update"): NO_DATA,
    ("post", "/api/v1/things/ota/firmware/create"): FirmwareID,
    ("post", "/api/v1/things/ota/firmware/update"): NO_DATA,
    ("post", "/api/v1/things/ota/firmware/delete"): NO_DATA,
    ("post", "/api/v1/things/ota/firmware/index"): Listing(FirmwareSummary),
    ("post", "/api/v1/things/ota/firmware/read"): FirmwareDetail,
    ("post", "/api/v1/things/ota/firmware/device-info-read"): Versions,
    ("post", "/api/v1/things/ota/task/create"): TaskCreated,
    ("post", "/api/v1/things/ota/task/index"): Listing(TaskListed),
    ("post", "/api/v1/things/ota/task/read"): TaskDetail,
    ("post", "/api/v1/things/ota/task/cancel"): NO_DATA,
    ("post", "/api/v1/things/ota/task/device-index"): Listing(Record),
    ("post", "/api/v1/things/ota/task/analysis"): Analysis,
    ("post", "/api/v1/things/ota/task/device-cancel"): NO_DATA,
    ("post", "/api/v1/things/ota/task/device-retry"): NO_DATA,
    ("post", "/api/v1/things/ota/task/preview"): Preview,
    ("post", "/api/v1/things/ota/task/update"): TaskSummary,
    ("post", "/api/v1/things/ota/task/pause"): TaskSummary,
    ("post", "/api/v1/things/ota/task/resume"): TaskSummary,
    ("post", "/api/v1/things/ota/task/advance"): TaskSummary,
    ("post", "/api/v1/things/ota/task/waves"): TaskWaves,
    ("post", "/api/v1/things/ota/task/device-history"): Listing(HistoryEntry),
    ("post", "/api/v1/things/ota/device/history"): Listing(HistoryEntry),
    ("post", "/api/v1/system/audit/index"): Listing(AuditEntry),
    ("get", "/api/v1/health"): Health,
    ("post", "/api/v1/things/ota/capsule/key"): CapsuleKey,
    ("post", "/api/v1/things/ota/capsule/trust"): Fingerprint,
    ("post", "/api/v1/things/ota/capsule/trust/index"): Listing(TrustedPublisher),
    ("post", "/api/v1/things/ota/capsule/trust/delete"): NO_DATA,
    ("post", "/api/v1/things/ota/capsule/verify"): CapsuleSummary,
    ("post", "/api/v1/things/ota/capsule/import"): CapsuleImported,
    ("post", "/api/v1/things/ota/capsule/evidence/import"): EvidenceImported,
    ("post", "/api/v1/things/ota/capsule/evidence/index"): Listing(Release),
    ("post", "/api/v1/things/ota/capsule/evidence/devices"): Listing(EvidenceDevice),
    ("post", "/api/v1/things/ota/task/draft/index"): Listing(TaskDraft),
    ("post", "/api/v1/things/ota/task/draft/start"): TaskCreated,
    ("post", "/api/v1/things/ota/task/draft/delete"): NO_DATA,
}

#: routes without the token (the gate in backend.app lets them through)
OPEN = {("get", "/api/v1/health")}
EVENTS = ("get", "/api/v1/things/ota/events")
#: routes answering a file, not the envelope: (method, path) -> media types
FILES = {("post", "/api/v1/things/ota/task/export"): ("text/csv", "text/html"),
         ("post", "/api/v1/system/audit/export"): ("text/csv",),
         ("post", "/api/v1/things/ota/capsule/export"): ("application/octet-stream",),
         ("post", "/api/v1/things/ota/capsule/evidence"): ("application/octet-stream",)}
#: routes whose request body is a file (a capsule or an evidence pack), sent as it is
RAW_BODIES = {("post", p) for p in RAW_BODY_PATHS}

_ERRORS = {
    "400": "a field is missing, of the wrong type or outside its rules (msg names it), or the body is not JSON",
    "401": "token missing (100004) or wrong (100005)",
    "403": "a capsule or evidence pack signed by a key this installation does not trust (100012)",
    "404": "the referenced product, device, firmware, task or record does not exist (100009)",
    "409": "already exists (100010) or not allowed in the current state",
    "413": "body larger than the backend's limit",
    "429": "too many wrong tokens from this address (LAN-facing backend)",
    "431": "request headers larger than the backend's limit",
    "500": "internal or database error (logged by the backend)",
}


def _reply_model(name: str, data: Any) -> type[BaseModel]:
    fields: dict[str, Any] = {"code": (int, Field(description="200")), "msg": (str, ...)}
    if isinstance(data, Listing):
        listing = create_model(f"{data.item.__name__}List", __base__=Shape,
                               list=(list[data.item], ...), total=(int, ...))
        fields["data"] = (listing, ...)
    elif data is not NO_DATA:
        fields["data"] = (data, ...)
    return create_model(name, __base__=Shape, **fields)


def _name(path: str) -> str:
    words = [w for w in path.removeprefix("/api/v1/").replace("-", "/").split("/") if w not in ("things", "info")]
    return "".join(w[:1].upper() + w[1:] for w in words) + "Reply"


def build_document(app: FastAPI) -> dict[str, Any]:
    doc = get_openapi(title=app.title, version=__version__, routes=app.routes, description=(
        "iThings-compatible OTA API of OTA Desktop. Every management call is a POST with a JSON body and "
        "the admin token in the `iThings-token` header (or `Authorization: Bearer`). Replies are the "
        "envelope `{code, msg, data}`; errors are `{code, msg}` with msg naming the field. The full "
        "contract, MQTT included, is docs/protocol.md in the repository."))
    models: dict[tuple[str, str], type[BaseModel]] = {
        key: _reply_model(_name(key[1]), data) for key, data in REPLIES.items()}
    documented: list[type[BaseModel]] = [*models.values(), ErrorReply]
    keyed, top = models_json_schema([(m, "serialization") for m in documented],
                                    ref_template="#/components/schemas/{model}")
    schemas = doc.setdefault("components", {}).setdefault("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    schemas.update(top.get("$defs", {}))
    error_ref = keyed[(ErrorReply, "serialization")]
    doc["components"]["securitySchemes"] = {
        "iThingsToken": {"type": "apiKey", "in": "header", "name": "iThings-token"},
        "bearer": {"type": "http", "scheme": "bearer"},
    }
    doc["security"] = [{"iThingsToken": []}, {"bearer": []}]
    for path, ops in doc.get("paths", {}).items():
        for method, op in ops.items():
            key = (method, path)
            error = {"description": "", "content": {"application/json": {"schema": error_ref}}}
            responses: dict[str, Any] = {}
            if key == EVENTS:
                responses["200"] = {"description": "server-sent events: one JSON object per `data:` line "
                                                   "(record, device, task, resync); see docs/protocol.md",
                                    "content": {"text/event-stream": {"schema": {"type": "string"}}}}
            elif key in FILES:
                responses["200"] = {"description": "a file (CSV: UTF-8 with BOM; HTML: the one-page summary; "
                                                   "capsules and evidence packs: docs/capsule.md)",
                                    "content": {t: {"schema": {"type": "string"}} for t in FILES[key]}}
            elif key in models:
                responses["200"] = {"description": "success",
                                    "content": {"application/json": {"schema": keyed[(models[key], "serialization")]}}}
            if key in RAW_BODIES:
                op["requestBody"] = {"required": True, "description": "the file, sent as it is (streamed)",
                                     "content": {"application/octet-stream": {"schema": {"type": "string",
                                                                                          "format": "binary"}}}}
            if key in OPEN:
                op["security"] = []
            for status, text in _ERRORS.items():
                if key in OPEN and status in ("401", "429"):
                    continue
                responses[status] = dict(error, description=text)
            op["responses"] = responses
    return doc


def install_openapi(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = build_document(app)
        return app.openapi_schema
    app.openapi = openapi  # type: ignore[method-assign]
