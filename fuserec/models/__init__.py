"""Models, registered by name (``fuserec models`` lists them).

Importing this package imports every built-in model module, which registers it; each module
depends only on torch and the project's own light modules.
"""

from __future__ import annotations

import importlib

from fuserec.models.registry import ModelInfo, get_model, list_models, model_info, register_model

#: modules that register the built-in models (one model per module)
BUILTIN_MODEL_MODULES = (
    "fuserec.models.pop",
    "fuserec.models.mf",
    "fuserec.models.lightgcn",
    "fuserec.models.simgcl",
    "fuserec.models.rlmrec_con",
    "fuserec.models.irllrec",
    "fuserec.models.dlrm.variants",
)

for _module in BUILTIN_MODEL_MODULES:
    importlib.import_module(_module)

__all__ = ["ModelInfo", "get_model", "list_models", "model_info", "register_model"]
