"""The model registry: short names → model classes, filled by the ``@register_model`` decorator.

A model is an ``nn.Module`` built as ``Cls(inputs, cfg)`` where ``inputs`` is the
:class:`~fuserec.prepare.inputs.PreparedInputs` the prepared-inputs stage made for it (from a
dataset and ``cfg``: :func:`fuserec.prepare.prepare_inputs`) and ``cfg`` an instance of the
class's own config dataclass ``Cls.Config`` (built from the YAML ``model:`` section with
:func:`fuserec.config.from_dict`). Contract (see DESIGN.md):

* ``needs``: class attribute, the prepared inputs it scores with (``interactions``,
  ``profile_text``, ``intent_text``, ``features``, ``semantic``, ``pca``, ``swing``; see
  :mod:`fuserec.prepare`); the model holds parameters, scoring and loss only;

* ``task``: class attribute, ``"ranking"`` (BPR batches, full-ranking evaluation) or
  ``"pointwise"`` (labelled examples, classification metrics);
* ``trainable``: class attribute, False for models fitted in their constructor (no epochs);
* ``loss(batch) -> dict[str, Tensor]``: the total under ``"loss"``, every other term logged;
* ``score(users, items=None) -> Tensor``: ``(B, n_items)`` for all items, ``(B,)`` for pairs;
* ``embeddings() -> dict[str, Tensor]``: ``"user"`` ``(n_users, d)`` and/or ``"item"`` ``(n_items, d)``;
* optional hooks ``on_epoch_start(epoch)``, ``on_step_end(step)``, and ``step_diagnostics()``
  (logged, never added to the loss; see :class:`~fuserec.train.trainer.Trainer`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Callable, TypeVar

from fuserec.errors import ConfigError

T = TypeVar("T", bound=type)

TASKS = ("ranking", "pointwise")


@dataclass(frozen=True)
class ModelInfo:
    """A registered model: its short name, one-line description and class."""

    name: str
    description: str
    cls: type


class ModelRegistry:
    """Name → :class:`ModelInfo`; one instance per process, filled at import of the model modules."""

    def __init__(self) -> None:
        self._models: dict[str, ModelInfo] = {}

    def register(self, name: str, description: str) -> Callable[[T], T]:
        def decorator(cls: T) -> T:
            _check_model_class(name, cls)
            if name in self._models and self._models[name].cls is not cls:
                raise ValueError(f"model name {name!r} is already registered by "
                                 f"{self._models[name].cls.__module__}.{self._models[name].cls.__name__}")
            self._models[name] = ModelInfo(name, description, cls)
            cls.registered_name = name
            return cls

        return decorator

    def get(self, name: str) -> ModelInfo:
        try:
            return self._models[name]
        except KeyError:
            import difflib

            close = difflib.get_close_matches(name, list(self._models), n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise ConfigError(f"unknown model {name!r}{hint}; available: {', '.join(sorted(self._models))}",
                              "model.name") from None

    def names(self) -> list[str]:
        return sorted(self._models)

    def infos(self) -> list[ModelInfo]:
        return [self._models[n] for n in self.names()]


def _check_model_class(name: str, cls: type) -> None:
    task = getattr(cls, "task", None)
    if task not in TASKS:
        raise TypeError(f"model {name!r}: class attribute task must be one of {TASKS}, got {task!r}")
    config = getattr(cls, "Config", None)
    if config is None or not dataclasses.is_dataclass(config):
        raise TypeError(f"model {name!r}: needs a dataclass class attribute Config")
    for method in ("loss", "score", "embeddings"):
        if not callable(getattr(cls, method, None)):
            raise TypeError(f"model {name!r}: missing method {method}()")


#: The process-wide registry (populated by importing :mod:`fuserec.models`).
REGISTRY = ModelRegistry()


def register_model(name: str, description: str) -> Callable[[T], T]:
    """Class decorator: register a model class under ``name`` with a one-line ``description``."""
    return REGISTRY.register(name, description)


def get_model(name: str) -> type:
    """The model class registered as ``name`` (:class:`ConfigError` listing the names if unknown).

    A built-in model imports only its own module (loading a saved model stays light)."""
    if name not in REGISTRY.names() and name in BUILTIN_MODELS:
        import importlib

        importlib.import_module(BUILTIN_MODELS[name])
    if name not in REGISTRY.names():
        _load_builtin_models()
    return REGISTRY.get(name).cls


def model_info(name: str) -> ModelInfo:
    get_model(name)
    return REGISTRY.get(name)


def list_models() -> list[ModelInfo]:
    """Every registered model, sorted by name."""
    _load_builtin_models()
    return REGISTRY.infos()


#: the built-in models and the module that registers each (imported on first use)
BUILTIN_MODELS = {
    "pop": "fuserec.models.pop",
    "mf": "fuserec.models.mf",
    "lightgcn": "fuserec.models.lightgcn",
    "simgcl": "fuserec.models.simgcl",
    "rlmrec_con": "fuserec.models.rlmrec_con",
    "irllrec": "fuserec.models.irllrec",
    "dlrm": "fuserec.models.dlrm.variants",
    "dlrm_raw": "fuserec.models.dlrm.variants",
    "two_step": "fuserec.models.dlrm.variants",
    "dlrrec": "fuserec.models.dlrm.variants",
    "dlrrec_leaky": "fuserec.models.dlrm.variants",
}
BUILTIN_MODEL_MODULES = tuple(dict.fromkeys(BUILTIN_MODELS.values()))


def _load_builtin_models() -> None:
    """Import the built-in model modules (plugins: they import this module, not the other way)."""
    import importlib

    for module in BUILTIN_MODEL_MODULES:
        importlib.import_module(module)
