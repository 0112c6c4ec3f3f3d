"""Text knowledge: LLM-written profiles and intents for users and items, and their embeddings.

* :mod:`fuserec.text.facts`: what a text may be written from (training data and metadata only).
* :mod:`fuserec.text.prompts`: versioned prompt templates; :mod:`fuserec.text.parsing`: replies to fields.
* :mod:`fuserec.text.backends`: ``template``, ``local`` and ``openai`` generators, one interface.
* :mod:`fuserec.text.generate`: cached, resumable generation; :mod:`fuserec.text.encode`: offline
  sentence embeddings; :mod:`fuserec.text.cache`: the on-disk cache; :mod:`fuserec.text.importing`:
  precomputed vectors.
* :func:`text_embeddings`: the one call models use.
"""

from __future__ import annotations

from fuserec.text.api import embed_table, text_embeddings
from fuserec.text.generate import GenerationConfig, TextTable, generate_texts

__all__ = ["GenerationConfig", "TextTable", "embed_table", "generate_texts", "text_embeddings"]
