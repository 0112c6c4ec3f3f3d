"""Shared fixtures. Real-data helpers live in ``helpers.py`` (``from helpers import real_data``)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture
def one_torch_thread():
    """One intra-op torch thread for the test (tiny ops only lose from threading on 2 cores)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def spark():
    """One local[2] SparkSession for the whole test session (a JVM start costs ~10 s); skips
    without PySpark (extra fuserec[spark]) or Java."""
    import shutil

    pytest.importorskip("pyspark", reason="PySpark not installed (pip install 'fuserec[spark]')")
    if shutil.which("java") is None:
        pytest.skip("no Java runtime for Spark (Debian: apt-get install default-jre-headless)")
    from fuserec.spark.session import spark_session

    session = spark_session("local[2]", "fuserec-tests", {"spark.sql.shuffle.partitions": "2",
                                                          "spark.default.parallelism": "2"})
    yield session
    session.stop()
