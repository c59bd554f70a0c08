"""Cursor paging shared by every list route."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel

from broadcast.core.validation import BigRowId, RowId

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None


CursorParam = Annotated[
    RowId, Query(alias="cursor", description="next_cursor of the previous page")
]
BigCursorParam = Annotated[
    BigRowId, Query(alias="cursor", description="next_cursor of the previous page")
]
"""The cursor of a list of rows with 64-bit ids (deliveries)."""
LimitParam = Annotated[int, Query(ge=1, le=500)]


def page_of(items: Sequence[T], ids: Sequence[int | None], limit: int) -> Page[T]:
    last = ids[-1] if ids else None
    return Page[T](
        items=list(items), next_cursor=str(last) if len(items) == limit and last else None
    )
