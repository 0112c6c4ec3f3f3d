"""Models, registered by name (``fuserec models`` lists them).

The built-in model modules (:data:`fuserec.models.registry.BUILTIN_MODELS`) register themselves
when imported, which :func:`get_model` does on first use of a name (only that model's module)
and :func:`list_models` for all. Each module depends only on torch and the project's own light
modules, and receives its inputs prepared (:mod:`fuserec.prepare`).
"""

from __future__ import annotations

from fuserec.models.registry import (BUILTIN_MODEL_MODULES, BUILTIN_MODELS, ModelInfo, get_model, list_models,
                                     model_info, register_model)

__all__ = ["BUILTIN_MODELS", "BUILTIN_MODEL_MODULES", "ModelInfo", "get_model", "list_models", "model_info",
           "register_model"]
