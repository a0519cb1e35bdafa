"""The one object-store implementation: any S3-compatible endpoint through the minio SDK.

The embedded nanio server and an external MinIO / Ceph RGW / AWS S3 differ only in the
endpoint and credentials handed to `S3Store`.
"""

from __future__ import annotations

import hashlib
import io
import logging
import shutil
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import BinaryIO
from urllib.parse import urlsplit

from minio import Minio
from minio.commonconfig import CopySource
from minio.deleteobjects import DeleteObject
from minio.error import MinioException, S3Error

from .base import (
    DISK_FULL_MARGIN,
    OSS_PREFIX,
    PRESIGN_SECONDS,
    PRIVATE_BUCKET,
    TEMPORARY_BUCKET,
    ObjectDigest,
    ObjectMissing,
    StoreError,
    disk_full_message,
)
from .sigv4 import Presigner

log = logging.getLogger(__name__)
CHUNK = 1 << 20
PUT_PART = 5 << 20  # the least S3 allows
#: the health probe's object: private, and no firmware key ("productManage/...") can be it
HEALTH_KEY = "ota-desktop-health/probe"
_MISSING = ("NoSuchKey", "NoSuchObject", "NotFound")


class S3Store:
    def __init__(self, endpoint_url: str, access_key: str, secret_key: str, region: str = "us-east-1"):
        parts = urlsplit(endpoint_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"storage_endpoint: not an http(s) URL: {endpoint_url!r}")
        self.endpoint_url = f"{parts.scheme}://{parts.netloc}"
        self.host = parts.netloc
        self.client = Minio(parts.netloc, access_key=access_key, secret_key=secret_key,
                            secure=parts.scheme == "https", region=region)
        # Path-style everywhere: /<bucket>/<key> maps 1:1 onto /api/v1/oss/<bucket>/<key>.
        self.client.disable_virtual_style_endpoint()
        self._minio_args = (parts.netloc, access_key, secret_key, parts.scheme == "https", region)
        self._presigner = Presigner(parts.netloc, access_key, secret_key, region)
        self._probe_client: Minio | None = None
        #: where the store keeps its bytes when that is on this machine (the embedded store):
        #: low free space there explains its 5xx answers ("disk full")
        self.disk_dir: Path | None = None

    # ---- diagnosis ------------------------------------------------------------------------
    def free_bytes(self) -> int | None:
        if self.disk_dir is None:
            return None
        try:
            return shutil.disk_usage(self.disk_dir).free
        except OSError:
            return None

    def disk_full(self, need: int = 0) -> str | None:
        """The "disk full" message when the store's file system (if local) has less than ``need``
        bytes (plus a margin) free, else None."""
        free = self.free_bytes()
        if free is not None and free < need + DISK_FULL_MARGIN:
            return disk_full_message(free, need, str(self.disk_dir))
        return None

    def failure(self, exc: BaseException, need: int = 0) -> StoreError:
        """A store request that failed with ``exc`` (not a missing object), as a StoreError whose
        message names the likely cause."""
        full = self.disk_full(need)
        if full is not None:
            return StoreError(full, 507)
        if isinstance(exc, S3Error):
            return StoreError(f"object store error: {exc.code}: {exc.message}", 502)
        if isinstance(exc, MinioException):  # ServerError, InvalidResponseError: a 5xx without S3 XML
            return StoreError(f"object store error: {exc}", 502)
        if isinstance(exc, TimeoutError) or "timed out" in str(exc).lower():
            return StoreError("object store: no answer in time", 504)
        reason = getattr(exc, "reason", None) or exc  # urllib3's MaxRetryError wraps the real one
        return StoreError(f"object store unreachable: {reason.__class__.__name__}", 502)

    def probe(self, timeout: float = 3.0) -> float:
        """A real round trip (put, get, delete of a tiny private object) with short timeouts and no
        retries; the milliseconds it took. Raises StoreError when the store does not do it."""
        if self._probe_client is None:
            import urllib3
            netloc, access, secret, secure, region = self._minio_args
            http = urllib3.PoolManager(timeout=urllib3.Timeout(connect=timeout, read=timeout), retries=False,
                                       maxsize=2)
            self._probe_client = Minio(netloc, access_key=access, secret_key=secret, secure=secure, region=region,
                                       http_client=http)
            self._probe_client.disable_virtual_style_endpoint()
        client = self._probe_client
        body = f"health {time.time()}".encode()
        start = time.monotonic()
        try:
            client.put_object(PRIVATE_BUCKET, HEALTH_KEY, io.BytesIO(body), len(body))
            resp = client.get_object(PRIVATE_BUCKET, HEALTH_KEY)
            try:
                got = resp.read()
            finally:
                resp.close()
                resp.release_conn()
            client.remove_object(PRIVATE_BUCKET, HEALTH_KEY)
        except Exception as exc:
            raise self.failure(exc, len(body)) from exc
        if got != body:
            raise StoreError("object store: read back other bytes than it was given")
        return (time.monotonic() - start) * 1000

    def ensure_buckets(self) -> None:
        for bucket in (TEMPORARY_BUCKET, PRIVATE_BUCKET):
            if not self.client.bucket_exists(bucket):
                self.client.make_bucket(bucket)

    def presign(self, method: str, bucket: str, key: str, seconds: int = PRESIGN_SECONDS) -> str:
        # the SDK's URL (tests/test_sigv4.py), with the signing key derived once a day
        return OSS_PREFIX + self._presigner.presign(method, bucket, key, seconds)

    def upstream(self, raw_path_and_query: str) -> tuple[str, str]:
        assert raw_path_and_query.startswith(OSS_PREFIX + "/")
        return self.endpoint_url + raw_path_and_query[len(OSS_PREFIX):], self.host

    def exists(self, bucket: str, key: str) -> bool:
        try:
            self.client.stat_object(bucket, key)
            return True
        except S3Error as exc:
            if exc.code in _MISSING:
                return False
            raise self.failure(exc) from exc
        except Exception as exc:
            raise self.failure(exc) from exc

    def copy(self, src_bucket: str, src_key: str, dst_bucket: str, dst_key: str) -> None:
        try:
            self.client.copy_object(dst_bucket, dst_key, CopySource(src_bucket, src_key))
        except S3Error as exc:
            if exc.code in _MISSING:
                raise ObjectMissing(src_key) from None
            raise self.failure(exc, self._size(src_bucket, src_key)) from exc
        except Exception as exc:
            raise self.failure(exc, self._size(src_bucket, src_key)) from exc

    def _size(self, bucket: str, key: str) -> int:
        try:
            return int(self.client.stat_object(bucket, key).size or 0)
        except Exception:  # noqa: BLE001 - only for a diagnosis
            return 0

    def digest(self, bucket: str, key: str) -> ObjectDigest:
        """Size, md5 and sha256 of the stored bytes, streamed in 1 MiB chunks."""
        md5, sha256, size = hashlib.md5(), hashlib.sha256(), 0
        for chunk in self.stream(bucket, key):
            md5.update(chunk)
            sha256.update(chunk)
            size += len(chunk)
        return ObjectDigest(size=size, md5=md5.hexdigest(), sha256=sha256.hexdigest())

    def stream(self, bucket: str, key: str, chunk: int = CHUNK) -> Iterator[bytes]:
        """An object's bytes in chunks of at most ``chunk`` (never the whole object in memory)."""
        try:
            resp = self.client.get_object(bucket, key)
        except S3Error as exc:
            if exc.code in _MISSING:
                raise ObjectMissing(key) from None
            raise self.failure(exc) from exc
        except Exception as exc:
            raise self.failure(exc) from exc
        try:
            yield from resp.stream(chunk)
        except Exception as exc:
            raise self.failure(exc) from exc
        finally:
            resp.close()
            resp.release_conn()

    def put_stream(self, bucket: str, key: str, data: BinaryIO, length: int) -> None:
        """Store ``length`` bytes read from ``data``: in parts of 5 MiB, one at a time (one part in
        memory; a 1 GiB capsule import stays within ~35 MiB), or in one request when smaller."""
        try:
            self.client.put_object(bucket, key, data, length, part_size=PUT_PART, num_parallel_uploads=1)
        except Exception as exc:
            raise self.failure(exc, length) from exc

    def remove(self, bucket: str, key: str) -> None:
        self.client.remove_object(bucket, key)

    def _remove_many(self, bucket: str, keys: list[str]) -> int:
        if not keys:
            return 0
        errors = list(self.client.remove_objects(bucket, (DeleteObject(k) for k in keys)))
        for err in errors:
            log.warning("could not remove %s/%s: %s", bucket, err.name, err.message)
        return len(keys) - len(errors)

    def abort_uploads(self, bucket: str, prefix: str) -> int:
        """Abort the unfinished multipart uploads under ``prefix`` (a writer killed mid-upload
        leaves its parts on the store's disk); how many."""
        result = self.client._list_multipart_uploads(bucket, prefix=prefix, max_uploads=1000)
        aborted = 0
        for upload in result.uploads:
            if upload.upload_id:
                self.client._abort_multipart_upload(bucket, upload.object_name, upload.upload_id)
                aborted += 1
        return aborted

    def remove_prefix(self, bucket: str, prefix: str) -> int:
        keys = [o.object_name for o in self.client.list_objects(bucket, prefix=prefix, recursive=True)]
        return self._remove_many(bucket, keys)

    def remove_older_than(self, bucket: str, seconds: float) -> int:
        return self.remove_older_than_sized(bucket, seconds)[0]

    def remove_older_than_sized(self, bucket: str, seconds: float) -> tuple[int, int]:
        """Remove the objects last modified more than ``seconds`` ago: (objects, bytes) removed."""
        cutoff = datetime.now(UTC) - timedelta(seconds=seconds)
        objs = [o for o in self.client.list_objects(bucket, recursive=True)
                if o.last_modified is not None and o.last_modified <= cutoff]
        if not objs:
            return 0, 0
        errors = {err.name for err in self.client.remove_objects(bucket, (DeleteObject(o.object_name) for o in objs))}
        for name in errors:
            log.warning("could not remove %s/%s", bucket, name)
        gone = [o for o in objs if o.object_name not in errors]
        return len(gone), sum(int(o.size or 0) for o in gone)
