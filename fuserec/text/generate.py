"""Generate profile/intent texts for the users or items of a dataset: cached, resumable, checked.

:func:`generate_texts` builds each entity's fact sheet (training data and metadata only), skips
every entity whose text is already cached under the same (template version, backend, model,
input content hash), asks the generator for the rest one chunk at a time, parses every reply,
retries replies that do not parse (up to ``max_attempts`` tries in all), records what still fails
with its reason, and appends each finished chunk to the cache before starting the next.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from fuserec.config import check_range
from fuserec.data.dataset import Dataset
from fuserec.errors import ConfigError, DataError
from fuserec.text.backends.base import Failure, Prompt, TextGenerator
from fuserec.text.cache import TextStore
from fuserec.text.facts import FactsOptions, build_facts, facts_hash
from fuserec.text.parsing import ParseError, parse_output
from fuserec.text.prompts import KINDS, SIDES, final_text, render_context, template_for

log = logging.getLogger("fuserec.text")


@dataclass
class GenerationConfig:
    """How texts are generated.

    max_attempts: tries per entity when a reply does not parse (or the backend fails on it).
    chunk_size: entities sent to the backend, then appended to the cache, at a time.
    limit: only the first ``limit`` entities (by index), e.g. to try a slow backend.
    retry_failed: ask again for entities whose earlier failure is cached (default: keep the failure).
    """

    max_attempts: int = 3
    chunk_size: int = 64
    limit: int | None = None
    retry_failed: bool = False
    facts: FactsOptions = field(default_factory=FactsOptions)

    def validate(self) -> None:
        check_range(self.max_attempts, "text.max_attempts", 1)
        check_range(self.chunk_size, "text.chunk_size", 1)
        if self.limit is not None:
            check_range(self.limit, "text.limit", 1)
        self.facts.validate()


@dataclass
class TextTable:
    """The texts of one (kind, side) for a set of entities, in entity-index order.

    ids: raw ids. indices: entity indices. records: one dict per entity: ``id``, ``input_hash``,
    ``fields`` (parsed), ``text`` (the string to embed), ``raw`` (the reply), ``mode`` (how it
    parsed), ``attempts``; or, for a failure, ``error`` (the reason) instead of fields/text.
    generated: how many records this call produced (0 on a fully cached re-run).
    """

    kind: str
    side: str
    backend: str
    model: str
    version: str
    ids: list[str]
    indices: np.ndarray
    records: list[dict[str, Any]]
    generated: int = 0
    seconds: float = 0.0

    @property
    def failures(self) -> list[dict[str, Any]]:
        return [r for r in self.records if r.get("error")]

    def texts(self, on_failure: str = "error") -> list[str]:
        """The text of every entity. A failed entity raises (``on_failure="error"``) or gives ``""``
        (``"empty"``); the failures stay listed in :attr:`failures`."""
        if self.failures and on_failure == "error":
            sample = "; ".join(f"{r['id']}: {r['error']}" for r in self.failures[:3])
            raise DataError(f"{len(self.failures)} {self.side} {self.kind} text(s) failed to generate "
                            f"with backend {self.backend} ({sample}); re-run with retry_failed, or allow "
                            "failures with on_failure='empty'", field=f"{self.kind}-{self.side}")
        return [r.get("text", "") for r in self.records]

    @property
    def key(self) -> str:
        """Identifies the text set (backend, model, template version) in the vector cache."""
        return f"{self.backend}__{self.model}__{self.version}"


def normalise_kind_side(kind: str, side: str) -> tuple[str, str]:
    """Accept ``profiles``/``intents`` and ``users``/``items`` as well as the singular."""
    k = {"profiles": "profile", "intents": "intent"}.get(kind, kind)
    s = {"users": "user", "items": "item"}.get(side, side)
    if k not in KINDS:
        raise ConfigError(f"unknown text kind {kind!r}; allowed: profile(s), intent(s)", "text.kind")
    if s not in SIDES:
        raise ConfigError(f"unknown side {side!r}; allowed: user(s), item(s)", "text.side")
    return k, s


def generate_texts(dataset: Dataset, kind: str, side: str, generator: TextGenerator | str = "template",
                   cache_dir: str | None = None, config: GenerationConfig | None = None,
                   entities: Sequence[int] | None = None, progress: bool = True) -> TextTable:
    """Texts of ``kind`` (profile/intent) for ``side`` (user/item) of ``dataset``, generating what
    the cache lacks. ``entities`` (indices) restricts the set; ``config.limit`` takes the first N."""
    from fuserec.text.backends import make_generator

    kind, side = normalise_kind_side(kind, side)
    config = config or GenerationConfig()
    config.validate()
    gen = make_generator(generator) if isinstance(generator, str) else generator
    template = template_for(kind, side)
    n = dataset.n_users if side == "user" else dataset.n_items
    idx = np.arange(n) if entities is None else np.asarray(entities, dtype=np.int64)
    if config.limit is not None:
        idx = idx[:config.limit]
    start = time.perf_counter()
    sheets = build_facts(dataset, side, idx, config.facts)
    hashes = [facts_hash({"facts": s, "prompt": template.version}) for s in sheets]
    store = TextStore(cache_dir, dataset.name, kind, side, gen.name, gen.model, template.version)
    cached = store.load()

    def pending_positions() -> list[int]:
        out = []
        for pos, (sheet, h) in enumerate(zip(sheets, hashes)):
            rec = cached.get((sheet["id"], h))
            if rec is None or (config.retry_failed and rec.get("error")):
                out.append(pos)
        return out

    todo = pending_positions()
    generated = 0
    if todo:
        bar = _progress(len(todo), f"{kind} texts ({side}s, {gen.name})", progress)
        try:
            for c in range(0, len(todo), config.chunk_size):
                chunk = todo[c:c + config.chunk_size]
                # Another process may have filled part of this chunk meanwhile: re-read before asking.
                if c:
                    cached.update(store.load())
                chunk = [p for p in chunk if (sheets[p]["id"], hashes[p]) not in cached
                         or (config.retry_failed and cached[(sheets[p]["id"], hashes[p])].get("error"))]
                records = _generate_chunk(gen, template, kind, side, [sheets[p] for p in chunk],
                                          [hashes[p] for p in chunk], config.max_attempts)
                store.append(records)
                for rec in records:
                    cached[(rec["id"], rec["input_hash"])] = rec
                generated += len(records)
                bar.update(len(chunk))
        finally:
            bar.close()
    records = [cached[(s["id"], h)] for s, h in zip(sheets, hashes)]
    table = TextTable(kind, side, gen.name, gen.model, template.version, [s["id"] for s in sheets], idx,
                      records, generated, time.perf_counter() - start)
    if table.failures:
        log.warning("%d of %d %s %s texts failed (first: %s: %s)", len(table.failures), len(records), side,
                    kind, table.failures[0]["id"], table.failures[0]["error"])
    return table


def _generate_chunk(gen: TextGenerator, template, kind: str, side: str, sheets: list[dict],
                    hashes: list[str], max_attempts: int) -> list[dict[str, Any]]:
    """Ask, parse, re-ask what failed; one record per sheet (a success or a failure with its reason)."""
    base = {"backend": gen.name, "model": gen.model, "version": template.version}
    results: dict[int, dict[str, Any]] = {}
    reasons: dict[int, list[str]] = {i: [] for i in range(len(sheets))}
    pending = list(range(len(sheets)))
    for attempt in range(max_attempts):
        if not pending:
            break
        prompts = [Prompt(sheets[i]["id"], kind, side, sheets[i],
                          template.messages(render_context(sheets[i])), attempt) for i in pending]
        replies = gen.generate(prompts)
        if len(replies) != len(prompts):
            raise RuntimeError(f"backend {gen.name} returned {len(replies)} replies for {len(prompts)} prompts")
        still = []
        for i, reply in zip(pending, replies):
            if isinstance(reply, Failure):
                reasons[i].append(f"attempt {attempt + 1}: backend: {reply.reason}")
                still.append(i)
                continue
            try:
                fields, mode = parse_output(kind, side, reply)
            except ParseError as exc:
                reasons[i].append(f"attempt {attempt + 1}: unparseable reply ({exc}): {reply[:120]!r}")
                still.append(i)
                continue
            results[i] = dict(base, id=sheets[i]["id"], input_hash=hashes[i], fields=fields,
                              text=final_text(kind, side, fields), raw=reply, mode=mode, attempts=attempt + 1)
        pending = still
    for i in pending:
        results[i] = dict(base, id=sheets[i]["id"], input_hash=hashes[i], attempts=max_attempts,
                          error=" | ".join(reasons[i]))
    return [results[i] for i in range(len(sheets))]


class _NoBar:
    def update(self, n: int) -> None:
        pass

    def close(self) -> None:
        pass


def _progress(total: int, desc: str, enabled: bool):
    if not enabled:
        return _NoBar()
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="text", leave=False)
