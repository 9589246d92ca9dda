"""schema.org ClaimReview JSON-LD for verdicts: the format fact-checkers publish in and search engines read."""

from __future__ import annotations

from datetime import date
from typing import Any

from .schema import LABEL_WORDS, CheckResult, ClaimCheck

# schema.org ratings are 1 (false) .. 5 (true); unverified has no place on that scale.
RATING_VALUE = {"refuted": 1, "misleading": 2, "unverified": None, "supported": 5}


def claim_review(check: ClaimCheck, *, author: str = "factcheck", url: str | None = None,
                 published: date | None = None, appearance: str | None = None) -> dict[str, Any]:
    """One ClaimReview object for one checked claim."""
    v = check.verdict
    lang = "zh" if check.lang == "zh" else "en"
    rating: dict[str, Any] = {"@type": "Rating", "alternateName": LABEL_WORDS[lang][v.label.value],
                              "bestRating": 5, "worstRating": 1}
    if RATING_VALUE[v.label.value] is not None:
        rating["ratingValue"] = RATING_VALUE[v.label.value]
    review: dict[str, Any] = {
        "@context": "https://schema.org",
        "@type": "ClaimReview",
        "datePublished": (published or date.today()).isoformat(),
        "claimReviewed": check.claim,
        "reviewRating": rating,
        "reviewBody": v.rationale,
        "author": {"@type": "Organization", "name": author},
        "inLanguage": "zh-CN" if lang == "zh" else "en",
        "itemReviewed": {"@type": "Claim"},
        "citation": [
            {"@type": "CreativeWork", "text": c.quote, "url": c.url, "publisher": {"@type": "Organization", "name": c.publisher},
             "datePublished": c.published_at.isoformat() if c.published_at else None}
            for c in v.citations
        ],
    }
    if appearance:
        review["itemReviewed"]["appearance"] = {"@type": "CreativeWork", "url": appearance}
    if url:
        review["url"] = url
    for c in review["citation"]:
        for key in [k for k, val in c.items() if val is None]:
            del c[key]
    return review


def claim_reviews(result: CheckResult, **kwargs: Any) -> list[dict[str, Any]]:
    """ClaimReview objects for every claim of a checked post (``kwargs`` as for :func:`claim_review`)."""
    return [claim_review(c, **kwargs) for c in result.claims]
