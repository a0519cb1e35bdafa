"""/api/v1/things/product/info/*"""

from __future__ import annotations

import secrets
import string

from fastapi import APIRouter
from pydantic import Field
from sqlalchemy import func, select

from ..db.models import Product
from .common import Paged, Req, RuntimeDep, SessionDep, bad_request, contains, duplicate, listing, not_found, ok
from .validators import Filter, Ident, KeySegment

router = APIRouter(prefix="/api/v1/things/product/info")
_ALPHABET = string.ascii_letters + string.digits


def new_product_id() -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(11))


def product_dict(p: Product) -> dict:
    return {"productID": p.product_id, "productName": p.product_name, "desc": p.desc, "createdTime": p.created_time}


def get_product(session, product_id: str) -> Product:  # noqa: ANN001
    product = session.get(Product, product_id)
    if product is None:
        raise not_found(f"product {product_id!r}")
    return product


class ProductCreate(Req):
    product_id: KeySegment | None = Field(default=None, alias="productID")
    product_name: str = Field(alias="productName", min_length=1, max_length=64)
    desc: str = Field(default="", max_length=2000)


class ProductUpdate(Req):
    product_id: Ident = Field(alias="productID")
    product_name: str | None = Field(default=None, alias="productName", min_length=1, max_length=64)
    desc: str | None = Field(default=None, max_length=2000)


class ProductRef(Req):
    product_id: Ident = Field(alias="productID")


class ProductIndex(Paged):
    product_name: Filter | None = Field(default=None, alias="productName")


@router.post("/create")
def create(req: ProductCreate, session: SessionDep) -> dict:
    product_id = req.product_id or new_product_id()
    if session.get(Product, product_id) is not None:
        raise duplicate(f"product {product_id!r}")
    session.add(Product(product_id=product_id, product_name=req.product_name, desc=req.desc))
    return ok({"productID": product_id})


@router.post("/update")
def update(req: ProductUpdate, session: SessionDep) -> dict:
    product = get_product(session, req.product_id)
    if req.product_name is not None:
        product.product_name = req.product_name
    if req.desc is not None:
        product.desc = req.desc
    return ok()


@router.post("/delete")
def delete(req: ProductRef, rt: RuntimeDep) -> dict:
    rt.engine.transaction(lambda s: rt.catalog.delete_product(s, get_product(s, req.product_id)))
    return ok()


@router.post("/read")
def read(req: ProductRef, session: SessionDep) -> dict:
    return ok(product_dict(get_product(session, req.product_id)))


@router.post("/index")
def index(req: ProductIndex, session: SessionDep) -> dict:
    q = select(Product)
    if req.product_name:
        q = q.where(contains(Product.product_name, req.product_name))
    total = session.scalar(select(func.count()).select_from(q.subquery()))
    rows = session.scalars(q.order_by(Product.created_time.desc(), Product.product_id)
                           .offset(req.page.offset).limit(req.page.size))
    return listing([product_dict(p) for p in rows], total or 0)


__all__ = ["bad_request", "get_product", "router"]
