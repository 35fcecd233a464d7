"""The JSON shapes of the API (they are also what `tracuu ask --json` prints)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from server.search import SearchResult
from tracuu.core.registry import Entry
from tracuu.core.store import StoredPassage


class Citation(BaseModel):
    doc_id: str
    title: str
    source: str = Field(description="File name inside the corpus folder")
    paragraph: int = Field(description="1-based paragraph number in the cleaned document")
    start: int = Field(description="Offset of the first character in the source file's text")
    end: int = Field(description="Offset after the last character: file_text[start:end] == text")
    page: int | None = Field(None, description="PDF page the passage starts on")
    place: str | None = Field(None, description="Place in a legal text, e.g. 'Điều 5, khoản 2'")


class AnswerSpan(BaseModel):
    text: str = Field(description="The sentence (or clause) of the passage that best answers the question")
    start: int = Field(description="Offset into the source file's text, like the citation")
    end: int


class SearchHit(BaseModel):
    rank: int
    score: float
    passage_id: str
    text: str
    citation: Citation
    answer: AnswerSpan | None = None


class ReferenceOut(BaseModel):
    """A Party or State document that the corpus cites."""

    key: str
    type: str = Field(description="Quy định, Chỉ thị, Nghị quyết, …")
    number: str | None
    symbol: str | None = Field(description="e.g. QĐ/TW")
    date: str | None = Field(description="Issue date, ISO 8601")
    issuer: str | None
    title: str | None
    name: str | None = Field(description="For documents named rather than numbered, e.g. Luật An ninh mạng")
    citing_passages: int


class ReferenceDetail(ReferenceOut):
    passages: list[SearchHit] = Field(description="Every passage citing the document")


class SearchResponse(BaseModel):
    query: str
    restored_query: str | None = Field(
        None, description="The question with its diacritics restored (typed without them), as the dense side read it")
    mode: str = Field(description="dense | lexical | hybrid")
    took_ms: float
    timings: dict[str, float] = Field(default_factory=dict, description="Milliseconds per stage of this query")
    notice: str | None = Field(None, description="A remark for the user, e.g. no query word occurs in the corpus")
    language: Literal["vi", "en"] = Field(
        "vi", description="The question's language; for 'en' the answerable signal cannot judge (it counts the "
                          "question's words in the passage) and stays false")
    answerable: bool = Field(description="Whether the top passages seem to answer the question")
    confidence: float = Field(description="0-1 confidence behind `answerable`")
    references: list[ReferenceOut] = Field(description="Documents the query names (their citing passages rank first)")
    results: list[SearchHit]


class PassageOut(BaseModel):
    passage_id: str
    paragraph: int
    start: int
    end: int
    text: str
    kind: str
    page: int | None = None
    place: str | None = None


class DocumentResponse(BaseModel):
    doc_id: str
    title: str
    source: str
    byline: str | None
    kind: str = Field(description="text | html | pdf | docx: for all but plain text, `text` is the extracted text")
    date: str | None
    text: str
    passages: list[PassageOut]


class ShardHealth(BaseModel):
    name: str
    passages: int | None  # None while the shard does not answer
    status: str  # "up" | "down"


class Health(BaseModel):
    status: str  # "ok", or "degraded" (HTTP 503) when a shard is down
    passages: int
    model: str
    index_version: str
    store: str  # "embedded" | "postgresql"
    shards: list[ShardHealth] | None = None


def reference(e: Entry) -> ReferenceOut:
    return ReferenceOut(key=e.key, type=e.type, number=e.number, symbol=e.symbol, date=e.date, issuer=e.issuer,
                        title=e.title, name=e.name, citing_passages=len(e.passages))


def citation(p: StoredPassage) -> Citation:
    return Citation(doc_id=p.doc_id, title=p.title, source=p.source, paragraph=p.paragraph, start=p.start, end=p.end,
                    page=p.page, place=p.place)


def search_response(result: SearchResult) -> SearchResponse:
    return SearchResponse(
        query=result.query,
        restored_query=result.restored_query,
        mode=result.mode,
        took_ms=round(result.took_ms, 2),
        timings=result.timings,
        notice=result.notice,
        language=result.language,
        answerable=result.answerable,
        confidence=round(result.confidence, 4),
        references=[reference(e) for e in result.references],
        results=[
            SearchHit(
                rank=h.rank,
                score=round(h.score, 6),
                passage_id=h.passage.id,
                text=h.passage.text,
                citation=citation(h.passage),
                answer=AnswerSpan(text=h.answer.text, start=h.answer.start, end=h.answer.end) if h.answer else None,
            )
            for h in result.hits
        ],
    )
