"""The one object-store implementation: any S3-compatible endpoint through the minio SDK.

The embedded nanio server and an external MinIO / Ceph RGW / AWS S3 differ only in the
endpoint and credentials handed to `S3Store`.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import datetime, timedelta, timezone
from urllib.parse import urlsplit

from minio import Minio
from minio.commonconfig import CopySource
from minio.deleteobjects import DeleteObject
from minio.error import S3Error

from .base import OSS_PREFIX, PRESIGN_SECONDS, PRIVATE_BUCKET, TEMPORARY_BUCKET, ObjectDigest, ObjectMissing

log = logging.getLogger(__name__)
CHUNK = 1 << 20


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

    def ensure_buckets(self) -> None:
        for bucket in (TEMPORARY_BUCKET, PRIVATE_BUCKET):
            if not self.client.bucket_exists(bucket):
                self.client.make_bucket(bucket)

    def presign(self, method: str, bucket: str, key: str, seconds: int = PRESIGN_SECONDS) -> str:
        url = self.client.get_presigned_url(method, bucket, key, expires=timedelta(seconds=seconds))
        parts = urlsplit(url)
        return f"{OSS_PREFIX}{parts.path}?{parts.query}"

    def upstream(self, raw_path_and_query: str) -> tuple[str, str]:
        assert raw_path_and_query.startswith(OSS_PREFIX + "/")
        return self.endpoint_url + raw_path_and_query[len(OSS_PREFIX):], self.host

    def exists(self, bucket: str, key: str) -> bool:
        try:
            self.client.stat_object(bucket, key)
            return True
        except S3Error as exc:
            if exc.code in ("NoSuchKey", "NoSuchObject", "NotFound"):
                return False
            raise

    def copy(self, src_bucket: str, src_key: str, dst_bucket: str, dst_key: str) -> None:
        try:
            self.client.copy_object(dst_bucket, dst_key, CopySource(src_bucket, src_key))
        except S3Error as exc:
            if exc.code in ("NoSuchKey", "NoSuchObject", "NotFound"):
                raise ObjectMissing(src_key) from None
            raise

    def digest(self, bucket: str, key: str) -> ObjectDigest:
        """Size, md5 and sha256 of the stored bytes, streamed in 1 MiB chunks."""
        md5, sha256, size = hashlib.md5(), hashlib.sha256(), 0
        try:
            resp = self.client.get_object(bucket, key)
        except S3Error as exc:
            if exc.code in ("NoSuchKey", "NoSuchObject", "NotFound"):
                raise ObjectMissing(key) from None
            raise
        try:
            for chunk in resp.stream(CHUNK):
                md5.update(chunk)
                sha256.update(chunk)
                size += len(chunk)
        finally:
            resp.close()
            resp.release_conn()
        return ObjectDigest(size=size, md5=md5.hexdigest(), sha256=sha256.hexdigest())

    def remove(self, bucket: str, key: str) -> None:
        self.client.remove_object(bucket, key)

    def _remove_many(self, bucket: str, keys: list[str]) -> int:
        if not keys:
            return 0
        errors = list(self.client.remove_objects(bucket, (DeleteObject(k) for k in keys)))
        for err in errors:
            log.warning("could not remove %s/%s: %s", bucket, err.name, err.message)
        return len(keys) - len(errors)

    def remove_prefix(self, bucket: str, prefix: str) -> int:
        keys = [o.object_name for o in self.client.list_objects(bucket, prefix=prefix, recursive=True)]
        return self._remove_many(bucket, keys)

    def remove_older_than(self, bucket: str, seconds: float) -> int:
        cutoff = datetime.now(timezone.utc) - timedelta(seconds=seconds)
        keys = [o.object_name for o in self.client.list_objects(bucket, recursive=True)
                if o.last_modified is not None and o.last_modified < cutoff]
        return self._remove_many(bucket, keys)
