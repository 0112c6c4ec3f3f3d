"""The ``openai`` backend against a small OpenAI-compatible stub server on 127.0.0.1."""

from __future__ import annotations

import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from fuserec.errors import ConfigError
from fuserec.text.backends.openai import OpenAIConfig, OpenAIGenerator
from fuserec.text.generate import GenerationConfig, generate_texts

from test_text_common import MARKER, make_dataset


class Stub:
    """Scripted behaviour by the restaurant named in the prompt (first request for it, or always)."""

    def __init__(self):
        self.bodies: list[dict] = []
        self.headers: list[dict] = []
        self.seen: dict[str, int] = {}
        self.lock = threading.Lock()
        self.in_flight = 0
        self.max_in_flight = 0

    def reply(self, body: dict) -> tuple[int, bytes, float]:
        prompt = body["messages"][-1]["content"]
        m = re.search(r"Restaurant (\d+)", prompt)
        name = m.group(0) if m else "someone"
        with self.lock:
            self.seen[name] = self.seen.get(name, 0) + 1
            nth = self.seen[name]
        ok = json.dumps({"choices": [{"message": {"role": "assistant", "content": json.dumps(
            {"summary": f"Stub summary about {name} for people who like good food.", "reasoning": "stub",
             "likes": "stub likes", "dislikes": "stub dislikes", "attracts": "like stubs",
             "repels": "hate stubs"})}}]}).encode()
        if name == "Restaurant 1" and nth == 1:
            return 200, ok, 1.5          # slower than the client's timeout: the retry succeeds
        if name == "Restaurant 2" and nth == 1:
            return 500, b'{"error": "boom"}', 0.0
        if name == "Restaurant 3":
            return 200, b'{"choices": [ this is not json', 0.0
        return 200, ok, 0.05


@pytest.fixture
def server():
    stub = Stub()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server naming
            length = int(self.headers.get("Content-Length", 0))
            body = json.loads(self.rfile.read(length))
            with stub.lock:
                stub.bodies.append(body)
                stub.headers.append(dict(self.headers))
                stub.in_flight += 1
                stub.max_in_flight = max(stub.max_in_flight, stub.in_flight)
            try:
                status, payload, delay = stub.reply(body)
                time.sleep(delay)
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (timeout)
            finally:
                with stub.lock:
                    stub.in_flight -= 1

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    stub.url = f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    yield stub
    httpd.shutdown()
    httpd.server_close()


def _generator(url: str, **kw) -> OpenAIGenerator:
    cfg = OpenAIConfig.from_env({"FUSEREC_OPENAI_BASE_URL": url, "OPENAI_API_KEY": "sk-test",
                                 "FUSEREC_OPENAI_MODEL": "stub-model"},
                                **{"timeout_s": 0.5, "max_retries": 2, "backoff_s": 0.01, "concurrency": 3, **kw})
    return OpenAIGenerator(cfg)


def test_timeouts_500s_and_malformed_json_are_retried_then_recorded(tmp_path, server):
    ds = make_dataset()
    gen = _generator(server.url)
    table = generate_texts(ds, "profile", "item", gen, tmp_path, GenerationConfig(max_attempts=1), progress=False)
    by_id = {r["id"]: r for r in table.records}
    assert by_id["r1"]["text"].startswith("Stub summary about Restaurant 1")   # timed out once, then fine
    assert by_id["r2"]["text"].startswith("Stub summary about Restaurant 2")   # HTTP 500 once, then fine
    assert [r["id"] for r in table.failures] == ["r3"]                          # malformed every time
    assert "3 request(s) failed" in by_id["r3"]["error"] and "malformed JSON" in by_id["r3"]["error"]
    assert server.seen["Restaurant 1"] == 2 and server.seen["Restaurant 2"] == 2
    assert server.seen["Restaurant 3"] == 3 and server.seen["Restaurant 0"] == 1
    assert 1 < server.max_in_flight <= 3
    assert all(h.get("Authorization") == "Bearer sk-test" for h in server.headers)
    assert {b["model"] for b in server.bodies} == {"stub-model"}
    # Cached: a re-run sends nothing (the failure stays listed).
    before = len(server.bodies)
    again = generate_texts(ds, "profile", "item", gen, tmp_path, progress=False)
    assert len(server.bodies) == before and [r["id"] for r in again.failures] == ["r3"]


@pytest.mark.parametrize("kind,side", [("profile", "user"), ("intent", "user"), ("profile", "item"),
                                       ("intent", "item")])
def test_prompts_sent_carry_no_valid_or_test_review(tmp_path, server, kind, side):
    ds = make_dataset(n_users=4, n_items=8)
    generate_texts(ds, kind, side, _generator(server.url, max_retries=0), tmp_path, progress=False)
    sent = json.dumps(server.bodies)
    assert MARKER not in sent
    assert "rated" in sent  # training reviews and ratings do reach the prompts


def test_config_from_environment_and_validation():
    cfg = OpenAIConfig.from_env({"OPENAI_BASE_URL": "http://h:1/v1", "OPENAI_API_KEY": "k"}, model="m")
    assert (cfg.base_url, cfg.api_key, cfg.model) == ("http://h:1/v1", "k", "m")
    with pytest.raises(ConfigError, match="concurrency"):
        OpenAIConfig.from_env({}, concurrency=0)
    with pytest.raises(ConfigError, match="http"):
        OpenAIConfig.from_env({"FUSEREC_OPENAI_BASE_URL": "ftp://x"})


def test_unreachable_endpoint_is_a_recorded_failure(tmp_path):
    gen = _generator("http://127.0.0.1:9/v1", max_retries=1)
    table = generate_texts(make_dataset(n_users=3, n_items=8), "profile", "item", gen, tmp_path,
                           GenerationConfig(max_attempts=1), progress=False)
    assert len(table.failures) == 8 and "connection failed" in table.failures[0]["error"]
