"""fuserec's stages on Apache Spark (optional extra ``fuserec[spark]``: PySpark 4.x, Java 17).

* :mod:`fuserec.spark.session` — a SparkSession for a master URL (``local[2]``, ``spark://...``,
  ``yarn``, ``k8s://...``), with a clear message when PySpark is missing.
* :mod:`fuserec.spark.swing` — SWING neighbour lists from interactions in Parquet or a Spark
  DataFrame, equal to :mod:`fuserec.graph.swing` (same formula, caps, sample, top-k cut, ties).
* :mod:`fuserec.spark.encode` — profile texts to sentence vectors as a batch job, the model loaded
  once per Python worker, written in the vector-cache format the trainers read.

PySpark is imported inside the functions, so importing this package never needs it.
"""
