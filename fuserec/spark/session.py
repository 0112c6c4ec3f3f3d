"""A SparkSession for fuserec's Spark stages, and the check that PySpark is installed."""

from __future__ import annotations

import os
import sys
from typing import Any, Mapping

from fuserec.errors import ConfigError

EXTRA_HINT = "pip install 'fuserec[spark]' (PySpark 4.x; Spark also needs a Java 17 runtime)"

#: settings for small local jobs: few shuffle partitions, no web UI
LOCAL_DEFAULTS = {
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.shuffle.partitions": "8",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
}


def require_pyspark() -> Any:
    """The ``pyspark`` module, or a ConfigError naming the extra to install."""
    try:
        import pyspark
    except ImportError:
        raise ConfigError(f"the Spark engine needs PySpark: {EXTRA_HINT}") from None
    return pyspark


def spark_session(master: str = "local[2]", app_name: str = "fuserec",
                  conf: Mapping[str, str] | None = None) -> Any:
    """Get (or create) the SparkSession for ``master``.

    For a ``local`` master the Python workers run this interpreter (``PYSPARK_PYTHON`` is set to
    ``sys.executable`` unless already set), so they import the same fuserec and numpy; a cluster
    needs fuserec installed on its executors (or shipped with ``--py-files``). ``conf`` entries
    override :data:`LOCAL_DEFAULTS` (which apply to local masters only).
    """
    require_pyspark()
    from pyspark.sql import SparkSession

    if not master:
        raise ConfigError("give a Spark master URL, e.g. local[2] or spark://host:7077", "--master")
    builder = SparkSession.builder.master(master).appName(app_name)
    settings = dict(LOCAL_DEFAULTS) if master.startswith("local") else {}
    settings.update(conf or {})
    for key, value in settings.items():
        builder = builder.config(key, str(value))
    if master.startswith("local"):
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    try:
        spark = builder.getOrCreate()
    except Exception as exc:  # Java missing or a bad master URL: one clear line
        if "JAVA_HOME" in str(exc) or "Java gateway" in str(exc):
            raise ConfigError(f"Spark could not start its JVM ({exc}); install Java 17 "
                              "(Debian: apt-get install default-jre-headless)") from None
        raise
    spark.sparkContext.setLogLevel("ERROR")
    return spark
