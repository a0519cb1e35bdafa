"""What a capsule's and an evidence pack's signed manifest says, and the checks on it.

The manifest is JSON (UTF-8, keys sorted); its signature is the Ed25519 signature of exactly its
bytes. Every rule on a field here is the API's rule for the same field, so an imported release
is one a technician could have created by hand."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..api.validators import FileName, Ident, Version

FORMAT = 1
CAPSULE_KIND = "ota-release-capsule"
EVIDENCE_KIND = "ota-evidence"
#: members of a capsule before its files, in order (files follow as files/<name>)
MANIFEST, SIGNATURE, PUBLISHER, SUMS, SUMS_SIGNATURE = (
    "manifest.json", "manifest.sig", "publisher.pem", "SHA256SUMS", "SHA256SUMS.sig")
FILES_DIR = "files/"
MAX_MANIFEST = 1 << 20  # a capsule's manifest (20 files at most) is a few KiB
MAX_EVIDENCE_MANIFEST = 64 << 20  # an evidence pack lists every device of a task (100,000: ~30 MiB)
SIGNATURE_BYTES = 64

Hex64 = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
Hex32 = Annotated[str, Field(pattern=r"^[0-9a-f]{32}$")]
Fingerprint = Annotated[str, Field(pattern=r"^SHA256:[0-9a-f]{64}$")]
Ms = Annotated[int, Field(ge=0, le=2**63 - 1)]


class _M(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, populate_by_name=True)


class Publisher(_M):
    fingerprint: Fingerprint


class ProductPart(_M):
    product_id: Ident = Field(alias="productID")
    product_name: str = Field(alias="productName", min_length=1, max_length=64)
    desc: str = Field(default="", max_length=2000)


class FirmwarePart(_M):
    name: str = Field(min_length=1, max_length=128)
    version: Version
    is_diff: Literal[1, 2] = Field(alias="isDiff")
    sign_method: Literal["md5", "sha256"] = Field(alias="signMethod")
    desc: str = Field(default="", max_length=2000)
    ext_data: str = Field(default="", alias="extData", max_length=10000)
    total_size: Ms = Field(alias="totalSize")


class FilePart(_M):
    name: FileName
    size: Ms
    sha256: Hex64
    md5: Hex32


class CapsuleManifest(_M):
    format: int
    kind: Literal["ota-release-capsule"]
    capsule_id: str = Field(alias="capsuleID", pattern=r"^[0-9a-f-]{36}$")
    publisher: Publisher
    created_time: Ms = Field(alias="createdTime")
    created: str
    expires_time: Ms = Field(alias="expiresTime")
    expires: str
    product: ProductPart
    firmware: FirmwarePart
    files: list[FilePart] = Field(min_length=1, max_length=20)
    task: dict[str, Any] | None = None


class EvidenceDevicePart(_M):
    device_name: str = Field(alias="deviceName", min_length=1, max_length=64)
    status: int
    status_text: str = Field(alias="statusText", max_length=128)
    version_before: str = Field(alias="versionBefore", max_length=64)
    version_after: str = Field(alias="versionAfter", max_length=64)
    step: int
    desc: str = Field(max_length=2000)
    retries: int = Field(ge=0)
    created_time: Ms = Field(alias="createdTime")
    updated_time: Ms = Field(alias="updatedTime")


class EvidenceTask(_M):
    task_uid: Ident = Field(alias="taskUid")
    status: int
    created_time: Ms = Field(alias="createdTime")


class EvidenceManifest(_M):
    format: int
    kind: Literal["ota-evidence"]
    evidence_id: str = Field(alias="evidenceID", pattern=r"^[0-9a-f-]{36}$")
    station: Publisher
    created_time: Ms = Field(alias="createdTime")
    created: str
    capsule_id: str = Field(alias="capsuleID", max_length=36)
    product: ProductPart
    firmware: FirmwarePart
    task: EvidenceTask
    devices: list[EvidenceDevicePart]


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def said(ms: int) -> str:
    """A time as a refusal says it: ``2026-12-01 10:00 UTC``."""
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M UTC")


def encode(doc: dict[str, Any]) -> bytes:
    return (json.dumps(doc, sort_keys=True, ensure_ascii=False, separators=(",", ":")) + "\n").encode()


def sums(files: list[FilePart] | list[dict[str, Any]]) -> bytes:
    """SHA256SUMS: what ``sha256sum -c`` checks, one line per file in the capsule's order."""
    lines = []
    for f in files:
        name, sha = (f["name"], f["sha256"]) if isinstance(f, dict) else (f.name, f.sha256)
        lines.append(f"{sha}  {FILES_DIR}{name}\n")
    return "".join(lines).encode()


_FIELD = re.compile(r"[^A-Za-z0-9_.\[\]]")


def parse(raw: bytes, model: type[_M], what: str) -> Any:
    """The signed manifest as ``model``; ValueError naming the first field that breaks a rule."""
    try:
        doc = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{what} is not JSON ({exc})") from None
    if not isinstance(doc, dict):
        raise ValueError(f"{what} is not a JSON object")
    fmt = doc.get("format")
    if fmt != FORMAT:
        raise ValueError(f"format version {fmt!r} is not supported (this installation reads {FORMAT})")
    try:
        return model.model_validate(doc)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"])
        raise ValueError(f"{what} field {field}: {err['msg']}") from None
