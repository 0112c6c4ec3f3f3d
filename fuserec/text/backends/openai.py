"""The ``openai`` backend: any OpenAI-compatible ``/chat/completions`` endpoint over HTTP.

Standard library only (``urllib``). Each prompt is one request; requests run on a thread pool
(``concurrency``); a request that times out, gets HTTP 429/5xx, or returns a body that is not the
expected JSON is retried with exponential backoff (``backoff_s * 2**k``) up to ``max_retries``
times, then reported as a :class:`Failure` with the reason. Settings come from the config or the
environment: ``FUSEREC_OPENAI_BASE_URL`` (or ``OPENAI_BASE_URL``), ``FUSEREC_OPENAI_MODEL``,
``OPENAI_API_KEY`` (or ``FUSEREC_OPENAI_API_KEY``).
"""

from __future__ import annotations

import json
import os
import socket
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any, Callable, Sequence

from fuserec.config import check_range
from fuserec.errors import ConfigError
from fuserec.text.backends.base import Failure, Prompt

DEFAULT_BASE_URL = "https://api.openai.com/v1"
DEFAULT_MODEL = "gpt-4o-mini"


@dataclass
class OpenAIConfig:
    """Endpoint and request policy.

    base_url: up to and including ``/v1``. api_key: sent as a Bearer token (may be empty for a
    local server). timeout_s: per request. max_retries: extra tries after the first.
    backoff_s: first backoff delay (doubles each retry). concurrency: requests in flight.
    """

    base_url: str = DEFAULT_BASE_URL
    model: str = DEFAULT_MODEL
    api_key: str = ""
    timeout_s: float = 60.0
    max_retries: int = 3
    backoff_s: float = 1.0
    concurrency: int = 4
    temperature: float = 0.2
    max_tokens: int = 300

    def validate(self) -> None:
        check_range(self.timeout_s, "text.openai.timeout_s", 0, low_inclusive=False)
        check_range(self.max_retries, "text.openai.max_retries", 0)
        check_range(self.backoff_s, "text.openai.backoff_s", 0)
        check_range(self.concurrency, "text.openai.concurrency", 1)
        if not self.base_url.startswith(("http://", "https://")):
            raise ConfigError(f"base URL must start with http:// or https://, got {self.base_url!r}",
                              "text.openai.base_url")

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, **overrides: Any) -> "OpenAIConfig":
        """Defaults, then the environment, then ``overrides`` (None values ignored)."""
        env = os.environ if environ is None else environ
        cfg = cls(
            base_url=env.get("FUSEREC_OPENAI_BASE_URL") or env.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL,
            model=env.get("FUSEREC_OPENAI_MODEL") or DEFAULT_MODEL,
            api_key=env.get("OPENAI_API_KEY") or env.get("FUSEREC_OPENAI_API_KEY") or "",
        )
        cfg = replace(cfg, **{k: v for k, v in overrides.items() if v is not None})
        cfg.validate()
        return cfg


class OpenAIGenerator:
    """Chat-completion generator; ``model`` is the endpoint's model name."""

    name = "openai"

    def __init__(self, config: OpenAIConfig, sleep: Callable[[float], None] = time.sleep):
        config.validate()
        self.config = config
        self.model = config.model
        self._sleep = sleep
        self.requests_sent = 0

    def generate(self, prompts: Sequence[Prompt]) -> list[str | Failure]:
        if not prompts:
            return []
        with ThreadPoolExecutor(max_workers=min(self.config.concurrency, len(prompts))) as pool:
            return list(pool.map(self._one, prompts))

    # ------------------------------------------------------------------ one prompt
    def _one(self, prompt: Prompt) -> str | Failure:
        cfg = self.config
        body = json.dumps({"model": cfg.model, "messages": prompt.messages, "temperature": cfg.temperature,
                           "max_tokens": cfg.max_tokens, "seed": prompt.attempt}).encode("utf-8")
        reasons = []
        for k in range(cfg.max_retries + 1):
            if k:
                self._sleep(cfg.backoff_s * 2 ** (k - 1))
            ok, outcome, retry = self._request(body)
            if ok:
                return outcome
            reasons.append(outcome)
            if not retry:
                break
        return Failure(f"{len(reasons)} request(s) failed: " + "; ".join(reasons))

    def _request(self, body: bytes) -> tuple[bool, str, bool]:
        """``(True, reply text, False)`` on success, else ``(False, reason, should_retry)``."""
        cfg = self.config
        url = cfg.base_url.rstrip("/") + "/chat/completions"
        headers = {"Content-Type": "application/json"}
        if cfg.api_key:
            headers["Authorization"] = f"Bearer {cfg.api_key}"
        request = urllib.request.Request(url, data=body, headers=headers, method="POST")
        self.requests_sent += 1
        try:
            with urllib.request.urlopen(request, timeout=cfg.timeout_s) as resp:
                payload = resp.read()
        except urllib.error.HTTPError as exc:
            retry = exc.code == 429 or exc.code >= 500
            return False, f"HTTP {exc.code} {exc.reason}", retry
        except (TimeoutError, socket.timeout):
            return False, f"timed out after {cfg.timeout_s:g} s", True
        except urllib.error.URLError as exc:
            if isinstance(exc.reason, (TimeoutError, socket.timeout)):
                return False, f"timed out after {cfg.timeout_s:g} s", True
            return False, f"connection failed: {exc.reason}", True
        except (ConnectionError, OSError) as exc:
            return False, f"connection failed: {exc}", True
        try:
            data = json.loads(payload)
            content = data["choices"][0]["message"]["content"]
        except (json.JSONDecodeError, UnicodeDecodeError):
            return False, f"malformed JSON response: {payload[:80]!r}", True
        except (KeyError, IndexError, TypeError):
            return False, f"unexpected response shape: {payload[:80]!r}", True
        if not isinstance(content, str):
            return False, f"message content is {type(content).__name__}, not text", True
        return True, content, False
