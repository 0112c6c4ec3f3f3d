"""Text generation: the template backend, parsing, retries, the text cache, resume, locking, leakage."""

from __future__ import annotations

import json
import multiprocessing as mp

import pytest

from fuserec.text.backends.base import Failure
from fuserec.text.backends.template import TemplateGenerator
from fuserec.text.cache import TextStore
from fuserec.text.generate import GenerationConfig, generate_texts
from fuserec.text.parsing import ParseError, parse_output
from fuserec.text.prompts import TEMPLATES, render_context
from fuserec.text.facts import build_facts

from test_text_common import MARKER, make_dataset

PAIRS = [("profile", "user"), ("profile", "item"), ("intent", "user"), ("intent", "item")]


class CountingTemplate(TemplateGenerator):
    """The real template backend, counting the prompts it answers."""

    def __init__(self):
        self.calls = 0
        self.prompts = 0

    def generate(self, prompts):
        self.calls += 1
        self.prompts += len(prompts)
        return super().generate(prompts)


class FailAfter(CountingTemplate):
    """Answers ``n_ok`` prompts, then raises (an interrupted run)."""

    def __init__(self, n_ok: int):
        super().__init__()
        self.n_ok = n_ok

    def generate(self, prompts):
        if self.prompts + len(prompts) > self.n_ok:
            raise KeyboardInterrupt("simulated interruption")
        return super().generate(prompts)


class Garbling(CountingTemplate):
    """Replies with garbage to the first ``bad_tries`` attempts of some entities."""

    def __init__(self, bad_ids: set[str], bad_tries: int):
        super().__init__()
        self.bad_ids, self.bad_tries = bad_ids, bad_tries

    def generate(self, prompts):
        good = super().generate(prompts)
        return ["{ broken" if (p.key in self.bad_ids and p.attempt < self.bad_tries) else g
                for p, g in zip(prompts, good)]


# ------------------------------------------------------------------ leakage
@pytest.mark.parametrize("kind,side", PAIRS)
def test_no_valid_or_test_review_reaches_any_text(tmp_path, kind, side):
    ds = make_dataset()
    table = generate_texts(ds, kind, side, "template", tmp_path, progress=False)
    assert len(table.records) == (ds.n_users if side == "user" else ds.n_items)
    blob = json.dumps(table.records)
    assert MARKER not in blob
    # The same texts do quote training reviews: the test would see a leak if there was one.
    if kind == "profile":
        assert "tasty" in blob or "noisy" in blob or "cheap" in blob


def test_marker_would_be_caught_if_test_reviews_were_training(tmp_path):
    """Control: relabel every interaction as training and the marker shows up in a text."""
    ds = make_dataset()
    inter = ds.interactions.copy()
    inter["split"] = 0
    leaky = ds.replace(interactions=inter)
    table = generate_texts(leaky, "profile", "user", "template", tmp_path, progress=False,
                           config=GenerationConfig(facts=__import__("fuserec.text.facts", fromlist=["x"])
                                                   .FactsOptions(max_reviews=10)))
    assert MARKER in json.dumps(table.records)


# ------------------------------------------------------------------ parsing
def test_parse_json_labels_sentence_and_plain():
    assert parse_output("profile", "user", '```json\n{"summary": "Likes spicy food.", "reasoning": "r"}\n```')[0] \
        == {"summary": "Likes spicy food.", "reasoning": "r"}
    fields, mode = parse_output("intent", "user", "Likes: thai food\nDislikes: loud bars")
    assert (fields, mode) == ({"likes": "thai food", "dislikes": "loud bars"}, "labels")
    fields, mode = parse_output("intent", "item", "Sure! It attracts users who love noodles and repels users "
                                                  "who want steak.")
    assert (fields, mode) == ({"attracts": "love noodles", "repels": "want steak"}, "sentence")
    fields, mode = parse_output("profile", "item", "A cosy place for families who enjoy pasta and quiet dinners.")
    assert mode == "plain" and fields["summary"].startswith("A cosy")
    long = " ".join(["word"] * 150)
    assert len(parse_output("profile", "user", json.dumps({"summary": long}))[0]["summary"].split()) == 101


@pytest.mark.parametrize("raw", ["", "   ", "{ broken", '{"likes": "x"}', "ok"])
def test_parse_rejects_with_a_reason(raw):
    with pytest.raises(ParseError) as err:
        parse_output("intent", "user", raw)
    assert str(err.value)


def test_prompts_are_versioned_and_render_the_facts():
    ds = make_dataset()
    sheet = build_facts(ds, "item", [0])[0]
    for (kind, side), tpl in TEMPLATES.items():
        assert tpl.version.endswith("/v1") and kind in tpl.version
        msgs = tpl.messages(render_context(sheet))
        assert msgs[0]["role"] == "system" and "Restaurant 0" in msgs[1]["content"]


# ------------------------------------------------------------------ retries and failures
def test_unparseable_replies_are_retried_then_recorded(tmp_path):
    ds = make_dataset()
    gen = Garbling(bad_ids={"u1", "u2"}, bad_tries=1)  # u1, u2 fail once, then succeed
    table = generate_texts(ds, "profile", "user", gen, tmp_path, GenerationConfig(max_attempts=3), progress=False)
    assert not table.failures
    by_id = {r["id"]: r for r in table.records}
    assert by_id["u1"]["attempts"] == 2 and by_id["u0"]["attempts"] == 1

    gen = Garbling(bad_ids={"u3"}, bad_tries=99)  # never parses
    table = generate_texts(ds, "intent", "user", gen, tmp_path, GenerationConfig(max_attempts=2), progress=False)
    assert [r["id"] for r in table.failures] == ["u3"]
    assert "attempt 2" in table.failures[0]["error"] and "invalid JSON" in table.failures[0]["error"]
    with pytest.raises(Exception, match="failed to generate"):
        table.texts()
    assert table.texts("empty")[ds.user_of("u3")] == ""
    # The failure is cached (listed again without asking), and retried on request.
    again = Garbling(bad_ids=set(), bad_tries=0)
    assert generate_texts(ds, "intent", "user", again, tmp_path, progress=False).failures
    assert again.prompts == 0
    fixed = generate_texts(ds, "intent", "user", again, tmp_path, GenerationConfig(retry_failed=True), progress=False)
    assert not fixed.failures and again.prompts == 1


def test_backend_failure_objects_are_recorded(tmp_path):
    class Down(CountingTemplate):
        def generate(self, prompts):
            return [Failure("HTTP 503") for _ in prompts]

    table = generate_texts(make_dataset(), "profile", "item", Down(), tmp_path, GenerationConfig(max_attempts=2),
                           progress=False)
    assert len(table.failures) == 10 and "HTTP 503" in table.failures[0]["error"]


# ------------------------------------------------------------------ cache
def test_rerun_generates_nothing_and_changed_item_only_that(tmp_path):
    ds = make_dataset()
    gen = CountingTemplate()
    first = generate_texts(ds, "profile", "item", gen, tmp_path, progress=False)
    assert gen.prompts == ds.n_items and first.generated == ds.n_items
    second = generate_texts(ds, "profile", "item", gen, tmp_path, progress=False)
    assert gen.prompts == ds.n_items and second.generated == 0
    assert [r["text"] for r in second.records] == [r["text"] for r in first.records]
    feats = ds.item_features.copy()
    feats.loc[4, "cuisine"] = "korean"
    third = generate_texts(ds.replace(item_features=feats), "profile", "item", gen, tmp_path, progress=False)
    assert gen.prompts == ds.n_items + 1 and third.generated == 1
    assert "korean" in third.records[4]["text"] and "korean" not in first.records[4]["text"]
    # Texts of other backends/models/template versions live in other files.
    assert len(list((tmp_path / "texts").rglob("*.jsonl"))) == 1


def test_interrupted_generation_resumes(tmp_path):
    ds = make_dataset(n_users=30)
    cfg = GenerationConfig(chunk_size=4)
    with pytest.raises(KeyboardInterrupt):
        generate_texts(ds, "intent", "user", FailAfter(n_ok=10), tmp_path, cfg, progress=False)
    store = TextStore(tmp_path, ds.name, "intent", "user", "template", TemplateGenerator.model,
                      TEMPLATES[("intent", "user")].version)
    assert len(store.load()) == 8  # two whole chunks were saved before the interruption
    gen = CountingTemplate()
    table = generate_texts(ds, "intent", "user", gen, tmp_path, cfg, progress=False)
    assert gen.prompts == 30 - 8 and not table.failures and len(table.records) == 30
    reference = generate_texts(ds, "intent", "user", "template", tmp_path / "fresh", progress=False)
    assert [r["text"] for r in table.records] == [r["text"] for r in reference.records]


def test_truncated_last_line_is_ignored_and_regenerated(tmp_path):
    ds = make_dataset()
    generate_texts(ds, "profile", "user", "template", tmp_path, progress=False)
    path = next((tmp_path / "texts").rglob("*.jsonl"))
    data = path.read_bytes()
    path.write_bytes(data[:-40])  # a crash in the middle of the last record
    gen = CountingTemplate()
    table = generate_texts(ds, "profile", "user", gen, tmp_path, progress=False)
    assert gen.prompts == 1 and len(table.records) == ds.n_users
    lines = path.read_text().splitlines()
    assert sum(1 for line in lines if _is_json(line)) == ds.n_users
    assert TextStore.__name__  # the store's compaction keeps one line per entity
    store = TextStore(tmp_path, ds.name, "profile", "user", "template", TemplateGenerator.model,
                      TEMPLATES[("profile", "user")].version)
    store.compact()
    assert store.line_count() == ds.n_users


def _is_json(line: str) -> bool:
    try:
        json.loads(line)
        return True
    except json.JSONDecodeError:
        return False


def _fill(cache_dir: str, seed: int, queue) -> None:
    ds = make_dataset(n_users=60, n_items=20)
    table = generate_texts(ds, "profile", "user", "template", cache_dir, GenerationConfig(chunk_size=3),
                           progress=False)
    queue.put([r["text"] for r in table.records])


def test_two_processes_fill_the_same_cache(tmp_path):
    ctx = mp.get_context("fork")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_fill, args=(str(tmp_path), k, queue)) for k in range(2)]
    for p in procs:
        p.start()
    results = [queue.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    assert results[0] == results[1]
    path = next((tmp_path / "texts").rglob("*.jsonl"))
    lines = path.read_text().splitlines()
    assert all(_is_json(line) for line in lines)  # no interleaved writes
    assert len({json.loads(line)["id"] for line in lines}) == 60
    gen = CountingTemplate()
    generate_texts(make_dataset(n_users=60, n_items=20), "profile", "user", gen, tmp_path, progress=False)
    assert gen.prompts == 0


def test_text_config_from_yaml_mapping_validates_keys():
    from fuserec.config import from_dict
    from fuserec.errors import ConfigError
    from fuserec.text.config import TextConfig

    cfg = from_dict(TextConfig, {"backend": "openai", "cache_dir": "c", "generation": {"max_attempts": 5},
                                 "openai": {"timeout_s": 3, "concurrency": 2}}, prefix="text")
    assert cfg.generation.max_attempts == 5 and cfg.generator().config.timeout_s == 3.0
    with pytest.raises(ConfigError, match="text.generation.max_atempts"):
        from_dict(TextConfig, {"generation": {"max_atempts": 5}}, prefix="text")
    with pytest.raises(ConfigError, match="text.openai.concurency"):
        from_dict(TextConfig, {"openai": {"concurency": 2}}, prefix="text")
    with pytest.raises(ConfigError, match="text.backend"):
        from_dict(TextConfig, {"backend": "gpt"}, prefix="text")
