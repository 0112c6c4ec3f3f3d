"""fuserec: recommenders that fuse language-model knowledge with interaction data."""

from fuserec.errors import ConfigError, DataError, FuserecError

__version__ = "0.1.0"

__all__ = ["ConfigError", "DataError", "FuserecError", "__version__"]
