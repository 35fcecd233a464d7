"""A search request's parameters (q, k, mode), checked by one path for the page and the API alike, and
the API's error contract: every 4xx body is {"detail": "<a Vietnamese sentence>"}.

The API declares the bounds in its OpenAPI schema (q: 1-1000 characters, k: 1-50, mode: an enum) and
FastAPI enforces them; when it refuses a request, the message is the one `search_params` gives for the
same raw values, which is also what the page shows. `search_params` parses k with the same pydantic
integer parsing as the API, so "5.0" or " 7 " mean the same on both, and "²" or 5,000 digits are
refused by both with a 422, never a 500.
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass, replace
from typing import Annotated, Literal

from fastapi import Query as FromQuery
from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, TypeAdapter, ValidationError

from server.search import MAX_K, BadQuery, check_options
from tracuu.core.query import MAX_QUERY_CHARS, Query

Mode = Literal["dense", "lexical", "hybrid"]  # server.search.MODES (tests/test_api.py checks they agree)

_LIMIT = f"{MAX_QUERY_CHARS:,}".replace(",", ".")  # 1.000, as Vietnamese writes thousands
QParam = Annotated[str, FromQuery(
    min_length=1, max_length=MAX_QUERY_CHARS,
    description=f"Câu hỏi hoặc từ khóa, tối đa {_LIMIT} ký tự. Câu hỏi chỉ gồm khoảng trắng hay ký tự vô hình, "
                "hoặc có ký tự điều khiển (như NUL), bị từ chối với mã 422.",
)]
KParam = Annotated[int, FromQuery(ge=1, le=MAX_K, description=f"Số kết quả, 1–{MAX_K}")]
ModeParam = Annotated[Mode, FromQuery(description="dense (ngữ nghĩa) | lexical (từ khóa) | hybrid (kết hợp)")]
DEFAULTS = {"k": 5, "mode": "hybrid"}  # the API's; the page shows 10 results

_K = TypeAdapter(Annotated[int, Field(ge=1, le=MAX_K)])


class ErrorDetail(BaseModel):
    """What every refused request gets: one sentence saying what to fix."""

    detail: str = Field(description="Thông báo lỗi bằng tiếng Việt")


def errors(*codes: int) -> dict:
    """`responses=` for a route: the documented error bodies (FastAPI would claim a list for 422)."""
    said = {404: "Không tìm thấy", 422: "Tham số không hợp lệ (thông báo bằng tiếng Việt)"}
    return {code: {"model": ErrorDetail, "description": said[code]} for code in codes}


def _shown(raw: str) -> str:
    raw = "".join(c if c.isprintable() else "�" for c in raw.strip())
    return raw if len(raw) <= 20 else raw[:20] + "…"


def parse_k(raw: str | int) -> int:
    """k as the API's integer parameter accepts it, or BadQuery saying what was received."""
    try:
        return _K.validate_python(raw)
    except ValidationError as exc:
        shown = _shown(str(raw))
        if exc.errors()[0]["type"].startswith("int_parsing"):
            raise BadQuery(f"Số kết quả k phải là số nguyên từ 1 đến {MAX_K} (nhận được '{shown}').") from None
        raise BadQuery(f"Số kết quả k phải từ 1 đến {MAX_K} (nhận được {shown}).") from None


def search_params(q: str | None, k: str | int, mode: str) -> tuple[Query, int, str]:
    """The one validation of a search from the web: the parsed query, k and mode, or BadQuery with the
    message to show. Checked in the order q, k, mode; the first problem is the one reported."""
    if q is None:
        raise BadQuery("Thiếu câu hỏi: tham số q là bắt buộc.")
    if len(q) > MAX_QUERY_CHARS:  # as sent, like the schema's maxLength (the parsed text is checked too)
        raise BadQuery(f"Câu hỏi dài {len(q)} ký tự, vượt quá giới hạn {MAX_QUERY_CHARS} ký tự.")
    query = Query.parse(q)
    count = parse_k(k)
    check_options(count, mode)
    return query, count, mode


def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    """FastAPI refused a parameter: say, in Vietnamese, what the page would say for the same values."""
    params = request.query_params
    wrong = {str(e["loc"][-1]) for e in exc.errors()}
    if wrong <= {"q", "k", "mode", "from", "to"}:
        try:
            search_params(params.get("q"), params.get("k", DEFAULTS["k"]), params.get("mode", DEFAULTS["mode"]))
            parse_filters(None, None, params.get("from"), params.get("to"))
        except BadQuery as bad:
            return JSONResponse(status_code=422, content={"detail": str(bad)})
    problems = "; ".join(f"tham số '{e['loc'][-1]}': {e['msg']}" for e in exc.errors())
    return JSONResponse(status_code=422, content={"detail": f"Yêu cầu không hợp lệ: {problems}"})


# ---- filters: applied after ranking on the candidate rows (search deeper, keep what passes, cut to k) ----

DocParam = Annotated[list[str], FromQuery(
    description="Chỉ giữ các đoạn thuộc tài liệu này (doc_id, như trong /api/documents/{doc_id}); lặp lại để "
                "chọn nhiều tài liệu: doc=a&doc=b.")]
RefParam = Annotated[str, FromQuery(
    description="Chỉ giữ các đoạn trích dẫn văn bản này (khóa trong danh mục /api/references, ví dụ "
                "quy-dinh-58-qd-tw).")]
FromParam = Annotated[str, FromQuery(
    alias="from", json_schema_extra={"format": "date"}, description="Chỉ giữ các đoạn của tài liệu đăng từ ngày này trở đi (YYYY-MM-DD).")]
ToParam = Annotated[str, FromQuery(
    alias="to", json_schema_extra={"format": "date"}, description="Chỉ giữ các đoạn của tài liệu đăng đến hết ngày này (YYYY-MM-DD).")]


@dataclass(frozen=True)
class Filters:
    docs: tuple[str, ...] = ()
    ref: str | None = None
    date_from: str | None = None  # ISO dates, inclusive
    date_to: str | None = None

    def __bool__(self) -> bool:
        return bool(self.docs or self.ref or self.date_from or self.date_to)

    @property
    def backwards(self) -> str | None:
        """What to tell the user when the date range is empty (it is not refused: it keeps nothing)."""
        if self.date_from and self.date_to and self.date_from > self.date_to:
            return (f"Khoảng ngày từ {self.date_from} đến {self.date_to} không chứa ngày nào "
                    "(ngày bắt đầu sau ngày kết thúc), nên không có kết quả.")
        return None

    def keep(self, reader, hits: list) -> list:
        """The hits that pass, in their order (their ranks are the caller's to renumber)."""
        if not self:
            return hits
        cited = None
        if self.ref:
            entry = reader.registry.get(self.ref)
            cited = set(entry.passages) if entry else set()
        info = reader.document_info(sorted({h.passage.doc_id for h in hits}))
        kept = []
        for hit in hits:
            p = hit.passage
            date = (info.get(p.doc_id, {}).get("date") or "")[:10]
            if self.docs and p.doc_id not in self.docs:
                continue
            if cited is not None and p.id not in cited:
                continue
            if self.date_from and not (date and date >= self.date_from):
                continue
            if self.date_to and not (date and date <= self.date_to):
                continue
            kept.append(hit)
        return kept


def _iso_date(raw: str | None, name: str, strict: bool) -> str | None:
    """An ISO date (YYYY-MM-DD exactly). The page's form sends an empty field for "no date"; the API, whose
    schema says format: date, refuses it."""
    if raw is None or (not strict and not raw.strip()):
        return None
    try:
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", raw.strip()):
            raise ValueError
        return datetime.date.fromisoformat(raw.strip()).isoformat()
    except ValueError:
        raise BadQuery(f"Ngày '{_shown(raw)}' (tham số {name}) không hợp lệ: hãy viết theo dạng YYYY-MM-DD, "
                       "ví dụ 2022-02-08.") from None


def parse_filters(docs: list[str] | None, ref: str | None, date_from: str | None, date_to: str | None,
                  strict: bool = False) -> Filters:
    """The filters of a request, or BadQuery with the Vietnamese message (a bad date, a range backwards).
    strict (the API): an empty date is refused rather than read as no date."""
    start, end = _iso_date(date_from, "from", strict), _iso_date(date_to, "to", strict)
    return Filters(docs=tuple(d for d in (docs or []) if d.strip()), ref=(ref or "").strip() or None,
                   date_from=start, date_to=end)


def filtered(reader, result, filters: Filters, k: int):
    """result with only the hits that pass the filters, ranked again from 1, cut to k."""
    if filters.backwards:
        result.notice = filters.backwards
    if filters:
        kept = filters.keep(reader, result.hits)
        result.hits = [replace(h, rank=i) for i, h in enumerate(kept, 1)]
    result.hits = result.hits[:k]
    return result
