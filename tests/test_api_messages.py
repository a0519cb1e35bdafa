"""Error messages a technician can act on: what was sent, and near-misses in field names."""

from __future__ import annotations

from ._ota_helpers import upload


def test_wrong_type_says_what_was_received(api):
    code, doc = api.call("/api/v1/things/ota/task/create", {"firmwareID": "1"})
    assert code == 400 and doc["code"] == 100006
    assert doc["msg"].startswith("firmwareID:") and 'got string "1"' in doc["msg"]


def test_wrong_case_field_name_is_pointed_out(api):
    code, doc = api.call("/api/v1/things/ota/task/create", {"firmwareId": 1})
    assert code == 400 and "firmwareID: is required" in doc["msg"] and "'firmwareId'" in doc["msg"]


def test_out_of_range_expiry_in_a_presigned_url_is_forbidden(api):
    d = api.ok("/api/v1/system/common/upload-url/create",
               {"business": "productManage", "scene": "ota", "filePath": "p/x.zip", "rename": True})
    forged = d["uploadUri"].replace("X-Amz-Expires=86400", "X-Amz-Expires=999999")
    assert api.http.put(forged, content=b"abc").status_code == 403
    assert upload(api, b"abc")  # the honest route still works
