"""fuserec: recommenders that fuse language-model knowledge with interaction data.

The library face (imported on first use, so that ``import fuserec`` stays light)::

    import fuserec
    ds = fuserec.load_dataset("synthetic")
    rec = fuserec.Recommender("lightgcn", dim=64).fit(ds, epochs=30)
    rec.recommend(["u1", "u2"], k=10); rec.evaluate("test"); rec.save("models/lgcn")
    rec = fuserec.Recommender.load("models/lgcn")
"""

from fuserec.errors import ConfigError, DataError, FuserecError

__version__ = "0.1.0"

__all__ = ["ConfigError", "DataError", "FuserecError", "Recommender", "load_dataset", "list_models",
           "__version__"]

_LAZY = {
    "Recommender": ("fuserec.estimator", "Recommender"),
    "load_dataset": ("fuserec.data.sources", "load_dataset"),
    "list_models": ("fuserec.models.registry", "list_models"),
}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        value = getattr(importlib.import_module(module), attr)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'fuserec' has no attribute {name!r}")
