"""Models, registered by name (``fuserec models`` lists them).

Importing this package imports every built-in model module (listed in
:data:`fuserec.models.registry.BUILTIN_MODEL_MODULES`), which registers it; each module depends
only on torch and the project's own light modules, and receives its inputs prepared
(:mod:`fuserec.prepare`).
"""

from __future__ import annotations

from fuserec.models.registry import (BUILTIN_MODEL_MODULES, ModelInfo, _load_builtin_models, get_model, list_models,
                                     model_info, register_model)

_load_builtin_models()

__all__ = ["BUILTIN_MODEL_MODULES", "ModelInfo", "get_model", "list_models", "model_info", "register_model"]
