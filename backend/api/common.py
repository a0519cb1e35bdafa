"""Envelope, errors, auth, paging and typed dependencies shared by every route module."""

from __future__ import annotations

import hmac
import json
import logging
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session
from starlette.exceptions import HTTPException as StarletteHTTPException

from ota_protocol.codes import ErrorCode

from ..ota.errors import Conflict, DomainError, Invalid, NotFound, Refused, Unavailable
from .validators import MAX_INT64

if TYPE_CHECKING:
    from ..runtime import Runtime

MAX_PAGE_SIZE = 1000
log = logging.getLogger(__name__)


class ApiError(Exception):
    """An answer other than 200: HTTP status, the envelope's code, and a text naming the field."""

    def __init__(self, http_status: int, code: int, msg: str):
        super().__init__(msg)
        self.http_status, self.code, self.msg = http_status, int(code), msg


#: the HTTP status of each kind of refusal the OTA rules raise
DOMAIN_STATUS: dict[type[DomainError], int] = {Invalid: 400, Refused: 403, NotFound: 404, Conflict: 409}
#: ... and of each reason something we depend on cannot serve
UNAVAILABLE_STATUS = {"full": 507, "timeout": 504, "unreachable": 502}


def http_status(exc: DomainError) -> int:
    if isinstance(exc, Unavailable):
        return UNAVAILABLE_STATUS.get(exc.reason, 502)
    for kind, status in DOMAIN_STATUS.items():
        if isinstance(exc, kind):
            return status
    return 500


def bad_request(field: str, why: str) -> ApiError:
    return ApiError(400, ErrorCode.PARAMETER, f"{field}: {why}")


def not_found(what: str) -> ApiError:
    return ApiError(404, ErrorCode.NOT_FOUND, f"{what} not found")


def duplicate(what: str) -> ApiError:
    return ApiError(409, ErrorCode.DUPLICATE, f"{what} already exists")


def ok(data: Any = None) -> dict:
    body: dict[str, Any] = {"code": 200, "msg": "success"}
    if data is not None:
        body["data"] = data
    return body


def error_response(http_status: int, code: int, msg: str) -> JSONResponse:
    return JSONResponse({"code": code, "msg": msg}, status_code=http_status)


async def _api_error(_req: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return error_response(exc.http_status, exc.code, exc.msg)


async def _domain_error(_req: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DomainError)
    return error_response(http_status(exc), exc.code, exc.msg)


def _field_name(loc: tuple) -> str:
    parts = [str(p) for p in loc if p != "body"]
    # drop pydantic's union/type tags such as "function-after[...]" or "list[...]"
    parts = [p for p in parts if "[" not in p]
    return ".".join(parts) or "body"


async def _validation_error(_req: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    err: dict[str, Any] = errors[0] if errors else {"loc": ("body",), "msg": "invalid request"}
    field = _field_name(tuple(err.get("loc", ())))
    if err.get("type") == "json_invalid" or (field == "body" and err.get("type") in ("missing", "model_attributes_type", "dict_type")):
        return error_response(400, ErrorCode.PARAMETER, "body: must be a JSON object")
    msg = str(err.get("msg", "invalid")).removeprefix("Value error, ")
    if err.get("type") == "missing":
        msg = "is required" + _case_hint(exc.body, err.get("loc", ()))
    elif "input" in err and err.get("type", "").endswith("_type"):
        msg += f" (got {_json_type(err['input'])} {json.dumps(err['input'], ensure_ascii=False)[:40]})"
    return error_response(400, ErrorCode.PARAMETER, f"{field}: {msg}")


def _json_type(value: Any) -> str:
    return {bool: "boolean", int: "number", float: "number", str: "string", list: "array",
            dict: "object", type(None): "null"}.get(type(value), type(value).__name__)


def _case_hint(body: Any, loc: tuple) -> str:
    """'firmwareID: is required' — say so when the client sent 'firmwareId' instead."""
    parts = [p for p in loc if p != "body"]
    for p in parts[:-1]:
        body = body.get(p) if isinstance(body, dict) else body[p] if isinstance(body, list) and isinstance(p, int) and p < len(body) else None
    if not isinstance(body, dict) or not parts:
        return ""
    wanted = str(parts[-1]).lower()
    near = [k for k in body if isinstance(k, str) and k.lower() == wanted]
    return f" (got {near[0]!r}: names are case-sensitive)" if near else ""


def database_problem(exc: Exception) -> tuple[int, str]:
    """HTTP status and message for a database failure, naming a full disk when that is the cause
    (SQLite: "database or disk is full"; PostgreSQL: "No space left on device")."""
    text = str(getattr(exc, "orig", exc) or exc)
    if "disk is full" in text or "No space left" in text:
        return 507, "database: disk full"
    return 500, "database error"


async def _db_error(_req: Request, exc: Exception) -> JSONResponse:
    log.error("database error", exc_info=exc)
    status, msg = database_problem(exc)
    return error_response(status, ErrorCode.DATABASE, msg)


_HTTP_CODES = {400: ErrorCode.PARAMETER, 401: ErrorCode.TOKEN_INVALID, 403: ErrorCode.NOT_PERMITTED,
               404: ErrorCode.NOT_FOUND, 405: ErrorCode.NOT_PERMITTED, 413: ErrorCode.PARAMETER,
               415: ErrorCode.PARAMETER, 422: ErrorCode.PARAMETER, 431: ErrorCode.PARAMETER}


async def _http_error(req: Request, exc: Exception) -> JSONResponse:
    """Starlette's and FastAPI's own errors (unknown route or method, unreadable body) in the envelope."""
    assert isinstance(exc, StarletteHTTPException)
    status = exc.status_code
    if status == 404:
        msg = f"path: no route {req.url.path}"
    elif status == 405:
        msg = f"method: {req.method} not allowed on {req.url.path}"
    elif status == 400 and "parsing the body" in str(exc.detail):  # invalid UTF-8, nested too deep
        msg = "body: must be a JSON object in UTF-8"
    else:
        msg = str(exc.detail)
    code = _HTTP_CODES.get(status, ErrorCode.SYSTEM if status >= 500 else ErrorCode.OTHER)
    response = error_response(status, code, msg)
    for k, v in (exc.headers or {}).items():  # e.g. Allow on a 405
        response.headers[k] = v
    return response


async def _unexpected_error(req: Request, exc: Exception) -> JSONResponse:
    """Anything uncaught: a generic envelope 500; the details go to the log, not to the client."""
    log.error("unhandled error on %s %s", req.method, req.url.path, exc_info=exc)
    return error_response(500, ErrorCode.SYSTEM, "internal error (details in the backend log)")


def install_error_handlers(app) -> None:  # noqa: ANN001
    """Every error answers the envelope {"code", "msg"}: ours, validation, Starlette's, uncaught ones."""
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(DomainError, _domain_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(SQLAlchemyError, _db_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected_error)


class Req(BaseModel):
    """Request bodies: strict types (no "1" for 1, no true for 1), unknown fields ignored."""
    model_config = ConfigDict(strict=True, extra="ignore", populate_by_name=True)


class Page(Req):
    page: int = Field(default=1, ge=1, le=MAX_INT64)
    size: int = Field(default=20, ge=1, le=MAX_PAGE_SIZE)

    @property
    def offset(self) -> int:
        # page x size can pass what the database's OFFSET holds; that far out every page is empty
        return min((self.page - 1) * self.size, MAX_INT64)


class Paged(Req):
    page: Page = Field(default_factory=Page)


def listing(items: list, total: int) -> dict:
    return ok({"list": items, "total": total})


def contains(column, text: str):  # noqa: ANN001, ANN201
    """`column LIKE '%text%'` with text taken literally: '%', '_' and the escape character are
    escaped, so a filter of '%' finds names containing '%', not every name."""
    return column.contains(text, autoescape=True)


# ---- dependencies -------------------------------------------------------------------

def get_runtime(request: Request) -> Runtime:
    return request.app.state.runtime


RuntimeDep = Annotated["Runtime", Depends(get_runtime)]


def get_session(request: Request):  # noqa: ANN201
    with request.app.state.runtime.db.session() as s:
        yield s


# scope="function": the transaction commits before the response is sent, so a client that
# got 200 sees its change in the next request
SessionDep = Annotated[Session, Depends(get_session, scope="function")]


def check_token(headers, expected: str) -> None:  # noqa: ANN001
    token = headers.get("ithings-token", "")
    if not token:
        auth = headers.get("authorization", "")
        if auth.lower().startswith("bearer "):
            token = auth[7:].strip()
    if not token:
        raise ApiError(401, ErrorCode.TOKEN_MALFORMED, "token: missing (send iThings-token or Authorization: Bearer)")
    if not hmac.compare_digest(token.encode(), expected.encode()):
        raise ApiError(401, ErrorCode.TOKEN_INVALID, "token: invalid")


def json_list(field: str, value: Any) -> list[str]:
    """deviceList / versionList: a JSON array, a string holding one (as iThings sends), or ""."""
    if value is None or value == "":
        return []
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise bad_request(field, "must be a JSON array of strings or a string holding one") from None
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise bad_request(field, "must be a JSON array of non-empty strings")
    seen: dict[str, None] = {}
    for v in value:
        seen.setdefault(v, None)
    return list(seen)
