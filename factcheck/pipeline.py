"""The whole check, stage by stage: post -> claims -> evidence -> signals -> verdict.

``Checker`` loads each part once (index, embedder, model) and can be called many times; the CLI, the web page,
batch runs and evaluations all go through it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import date
from functools import cached_property

from .cache import VerdictCache, rules_digest, verdict_key
from .config import Settings, load_settings
from .errors import LLMOutputError
from .judge import VERDICT_RULES_VERSION, Judge, SignalJudge, get_judge
from .retrieve import Retriever
from .schema import CheckResult, Claim, ClaimCheck, SearchOptions, Verdict
from .text import detect_lang

ClaimProgress = Callable[[int, int, ClaimCheck], None]  # (done, total, the claim just checked)


class Checker:
    """Fact-check posts against one index with one judge.

    ``llm`` may be given (any object with the LLMClient interface); otherwise it comes from the settings'
    ``llm_backend`` ('none' checks without a model: rule-based claims, signal-only verdicts).
    """

    def __init__(self, settings: Settings | None = None, *, index: str | None = None, llm=None, judge: str | None = None):
        self.settings = settings or load_settings()
        self.index_name = index or self.settings.index_name
        self._llm = llm
        self._judge_name = judge
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ parts, loaded on first use
    @cached_property
    def retriever(self) -> Retriever:
        return Retriever.open(self.settings, self.index_name)

    @cached_property
    def llm(self):
        if self._llm is not None:
            return self._llm
        if self.settings.llm_backend == "none" or self._judge_name == "signals":
            return None
        from .llm import get_llm

        return get_llm(self.settings)

    @cached_property
    def extractor(self):
        from .claims import get_claim_extractor

        return get_claim_extractor(self.settings, self.llm)

    @cached_property
    def judge(self) -> Judge:
        return get_judge(self.settings, self.llm, self._judge_name)

    @cached_property
    def cache(self) -> VerdictCache | None:
        return VerdictCache(self.settings.cache_dir / "verdicts.sqlite") if self.settings.cache_verdicts else None

    @cached_property
    def _rules(self) -> str:
        return rules_digest(VERDICT_RULES_VERSION, self.settings.verdict_settings())

    @property
    def model(self) -> str:
        return self.judge.model

    def prompt_version(self, lang: str = "zh") -> str:
        return self.judge.prompt_version(lang)

    # ------------------------------------------------------------------ the stages
    def claims(self, text: str, post_date: date | None = None) -> list[Claim]:
        return self.extractor.extract(text, post_date)

    def check_claim(self, claim: Claim, post_date: date | None = None, *, evidence_before: date | None = None) -> ClaimCheck:
        from .signals import detect_signals

        timings: dict[str, float] = {}
        t0 = time.perf_counter()
        retriever = self.retriever
        query_vec = retriever.embed_query(claim.text)
        evidence = retriever.search(claim.text, SearchOptions(k=self.settings.k, published_before=evidence_before, mode=self.settings.retrieval_mode), query_vec=query_vec)
        rumors = retriever.similar_rumors(query_vec, self.settings.known_rumor_similarity)
        if evidence_before is not None:
            rumors = [(d, s) for d, s in rumors if d.get("published_at") and d["published_at"] < evidence_before.isoformat()]
        timings["retrieve_s"] = time.perf_counter() - t0

        t1 = time.perf_counter()
        signals = detect_signals(claim, evidence, rumors, self.settings, post_date)
        timings["signals_s"] = time.perf_counter() - t1

        claim_date = post_date.isoformat() if post_date else ""
        key = None
        verdict: Verdict | None = None
        lang = claim.lang
        if self.cache is not None:
            key = verdict_key(claim.text, claim_date + "|" + (evidence_before.isoformat() if evidence_before else ""),
                              retriever.store.checksum, self.judge.model, self.judge.prompt_version(lang), self._rules)
            verdict = self.cache.get(key)
        t2 = time.perf_counter()
        if verdict is None:
            verdict = self._judge(claim, evidence, signals, claim_date)
            if self.cache is not None and key is not None:
                self.cache.put(key, verdict)
        timings["judge_s"] = time.perf_counter() - t2
        for k_, v in verdict.usage.items():
            timings[k_] = v
        return ClaimCheck(claim=claim.text, span=claim.span, lang=claim.lang, detail=claim, evidence=evidence,
                          verdict=verdict, timings={k_: round(v, 4) for k_, v in timings.items()})

    def _judge(self, claim: Claim, evidence, signals, claim_date: str) -> Verdict:
        try:
            return self.judge.judge(claim, evidence, signals, claim_date)
        except LLMOutputError as exc:
            # The model answered but never in the schema: keep what the signals alone can say, and say why.
            fallback = SignalJudge(self.settings).judge(claim, evidence, signals, claim_date)
            note = ("模型输出无法解析，本结论仅依据自动信号。" if claim.lang == "zh" else "The model's output could not be used; this verdict rests on the automatic signals only.")
            return fallback.model_copy(update={"notes": fallback.notes + [note, str(exc)], "model": self.judge.model})

    def check(self, text: str, post_date: date | None = None, *, evidence_before: date | None = None,
              progress: ClaimProgress | None = None) -> CheckResult:
        """Every claim of ``text`` with its evidence and verdict."""
        claims = self.claims(text, post_date)
        checks: list[ClaimCheck] = []
        for i, claim in enumerate(claims, 1):
            checks.append(self.check_claim(claim, post_date, evidence_before=evidence_before))
            if progress is not None:
                progress(i, len(claims), checks[-1])
        lang = detect_lang(text)
        return CheckResult(claims=checks, model=self.judge.model, prompt_version=self.judge.prompt_version(lang),
                           index_checksum=self.retriever.store.checksum, post_date=post_date)
