"""The typed edges of the system: every record that crosses a module boundary or leaves the program.

Inside modules data is plain (dicts, numpy arrays); at the edges it is one of these models.
"""

from __future__ import annotations

from datetime import date
from enum import Enum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

DocKind = Literal["release", "debunk"]


class Label(str, Enum):
    supported = "supported"
    refuted = "refuted"
    misleading = "misleading"
    unverified = "unverified"


class TacticName(str, Enum):
    fabricated = "fabricated"
    old_news_recycled = "old_news_recycled"
    spliced = "spliced"
    fake_official_source = "fake_official_source"
    pseudo_science = "pseudo_science"
    impersonation = "impersonation"
    exaggeration = "exaggeration"


# In the fact-checker's words, for tables and the web page.
TACTIC_WORDS = {
    "zh": {
        "fabricated": "凭空捏造",
        "old_news_recycled": "翻炒旧闻",
        "spliced": "拼凑剪辑、半真半假",
        "fake_official_source": "冒充官方发布",
        "pseudo_science": "伪科学",
        "impersonation": "AI 冒充他人",
        "exaggeration": "夸大其词",
    },
    "en": {
        "fabricated": "fabricated",
        "old_news_recycled": "old news recycled",
        "spliced": "spliced half-truth",
        "fake_official_source": "fake official source",
        "pseudo_science": "pseudo-science",
        "impersonation": "impersonation",
        "exaggeration": "exaggeration",
    },
}

LABEL_WORDS = {
    "zh": {"supported": "属实", "refuted": "不实", "misleading": "误导", "unverified": "无法核实"},
    "en": {"supported": "supported", "refuted": "refuted", "misleading": "misleading", "unverified": "unverified"},
}


class Document(BaseModel):
    """One authoritative release or prior debunk, as stored in the corpus."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1)
    kind: DocKind
    title: str = ""
    text: str
    publisher: str = ""
    published_at: date | None = None
    url: str | None = None
    lang: str = "zh"
    rumor: str | None = Field(None, description="For debunks: the rumor as it spread.")
    rating: str | None = Field(None, description="For debunks: the debunker's rating (谣言, false, misleading, ...).")
    tags: list[str] = Field(default_factory=list)

    @field_validator("text")
    @classmethod
    def _text_not_blank(cls, v: str) -> str:
        if not v or not v.strip():
            raise ValueError("text is empty")
        return v

    @field_validator("url")
    @classmethod
    def _url_or_none(cls, v: str | None) -> str | None:
        return v or None


def passage_id(doc_id: str, position: int) -> str:
    """The id of a document's ``position``-th passage; ``doc_id_of`` reads it back."""
    return f"{doc_id}#p{position}"


def doc_id_of(passage_id: str) -> str:
    return passage_id.rsplit("#", 1)[0]


class Passage(BaseModel):
    """A few sentences of one document: the unit that is embedded, searched and cited."""

    id: str
    doc_id: str
    text: str
    start: int = Field(ge=0, description="Offset of the passage in its document's text.")
    end: int = Field(ge=0)
    position: int = Field(ge=0, description="Ordinal of the passage within its document.")


class Evidence(BaseModel):
    """A passage returned for a query, with its document's provenance and how it was found."""

    doc_id: str
    passage_id: str
    score: float
    text: str
    title: str = ""
    kind: DocKind
    publisher: str = ""
    published_at: date | None = None
    url: str | None = None
    lang: str = "zh"
    rumor: str | None = None
    rating: str | None = None
    dense_rank: int | None = None
    bm25_rank: int | None = None


class Claim(BaseModel):
    """A check-worthy, self-contained statement taken from a post."""

    text: str = Field(min_length=1)
    span: tuple[int, int] = Field(description="[start, end) of the claim's source text in the post.")
    lang: str = "zh"
    dates: list[str] = Field(default_factory=list, description="Dates it names or implies, as written.")
    places: list[str] = Field(default_factory=list)
    people: list[str] = Field(default_factory=list)
    sources: list[str] = Field(default_factory=list, description="Bodies or media it attributes itself to.")


class Signal(BaseModel):
    """A deterministic finding about a claim, computed without a model."""

    kind: Literal["old_news_recycled", "fake_official_source", "known_rumor"]
    strength: float = Field(ge=0, le=1)
    detail: str
    passage_ids: list[str] = Field(default_factory=list)
    rating: str | None = None
    tactics: list[TacticName] = Field(default_factory=list, description="known_rumor: the tactics the debunk names.")


class Citation(BaseModel):
    """A verified quote: the text appears verbatim (after whitespace folding) in the cited passage, or, for a
    debunk, in the rumor it quotes (``section`` says which)."""

    passage_id: str
    doc_id: str
    quote: str
    section: Literal["text", "rumor"] = Field("text", description="'rumor': the words are the debunked rumor as it "
                                              "spread, which the debunk refutes; such a quote backs only refuted or misleading.")
    aligned_from: str | None = Field(None, description="The model's own words, when they were not verbatim in the evidence "
                                     "and ``quote`` is the passage's sentence that best matches them.")
    url: str | None = None
    publisher: str = ""
    published_at: date | None = None
    kind: DocKind


class Tactic(BaseModel):
    name: TacticName
    passage_ids: list[str] = Field(default_factory=list, description="The evidence that shows the tactic.")


class Verdict(BaseModel):
    label: Label
    tactics: list[Tactic] = Field(default_factory=list)
    confidence: float = Field(ge=0, le=1)
    rationale: str
    citations: list[Citation] = Field(default_factory=list)
    signals: list[Signal] = Field(default_factory=list)
    dropped_citations: int = Field(0, ge=0, description="Quotes the model gave that matched nothing in the evidence shown.")
    aligned_citations: int = Field(0, ge=0, description="Quotes the model gave inexactly, replaced by the evidence's own words.")
    notes: list[str] = Field(default_factory=list, description="What the checker changed after the model answered, and why.")
    model: str = ""
    prompt_version: str = ""
    cached: bool = False
    usage: dict[str, float] = Field(default_factory=dict, description="prompt_tokens, completion_tokens, llm_s, attempts.")


class ClaimCheck(BaseModel):
    """One claim of a post with its evidence and verdict."""

    claim: str
    span: tuple[int, int]
    lang: str = "zh"
    detail: Claim | None = None
    evidence: list[Evidence] = Field(default_factory=list)
    verdict: Verdict
    timings: dict[str, float] = Field(default_factory=dict, description="Seconds per stage, and tokens.")


class CheckResult(BaseModel):
    claims: list[ClaimCheck]
    model: str
    prompt_version: str
    index_checksum: str = ""
    post_date: date | None = None


class Manifest(BaseModel):
    """``manifest.json`` of a built index: enough to refuse loading it with the wrong embedder."""

    model_config = ConfigDict(extra="forbid")

    format_version: int = 1
    name: str
    embedder: str
    dim: int
    faiss_kind: Literal["flat", "hnsw", "ivfpq"]
    documents: int
    passages: int
    corpus_checksum: str
    built_at: str
    updated_at: str
    chunk_chars: int
    sources: list[str] = Field(default_factory=list)
    skipped_empty: int = 0
    duplicates_dropped: int = 0


class SearchOptions(BaseModel):
    """What a search may be narrowed by. Unknown options are an error, not silently ignored."""

    model_config = ConfigDict(extra="forbid")

    k: int = Field(5, ge=1, le=200)
    kind: DocKind | None = None
    lang: str | None = None
    publisher: str | None = None
    published_before: date | None = None
    mode: Literal["hybrid", "dense", "bm25"] = "hybrid"
    one_per_document: bool = True

    @model_validator(mode="after")
    def _strip(self) -> "SearchOptions":
        if self.publisher is not None and not self.publisher.strip():
            self.publisher = None
        return self
