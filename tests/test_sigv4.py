"""The fast presigner produces exactly the minio SDK's presigned URLs (in-process, no store)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest
from minio import Minio

from backend.storage.sigv4 import Presigner

KEYS = ["productManage/ota/P1/1.0.0/xx.zip", "a b/c+d=e&f", "中文/文件 (1).bin", "x~y_z-.ok", "p/%41/q", "k*'!"]


@pytest.mark.parametrize("method", ["GET", "PUT"])
@pytest.mark.parametrize("host,region", [("127.0.0.1:9000", "us-east-1"), ("store.lan:7000", "eu-central-1")])
def test_same_url_as_the_sdk(method: str, host: str, region: str) -> None:
    sdk = Minio(host, access_key="AKIDEXAMPLE", secret_key="wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", secure=False,
                region=region)
    ours = Presigner(host, "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", region)
    for i, key in enumerate(KEYS):
        at = 1_700_000_000 + i * 86_399  # several days: the cached signing key must follow the date
        url = sdk.get_presigned_url(method, "ithings-private", key, expires=timedelta(seconds=86_400),
                                    request_date=datetime.fromtimestamp(at, UTC))
        parts = urlsplit(url)
        assert ours.presign(method, "ithings-private", key, 86_400, now=at) == f"{parts.path}?{parts.query}", key
