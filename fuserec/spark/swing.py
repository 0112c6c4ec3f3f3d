"""SWING on Apache Spark: the single-machine result (:mod:`fuserec.graph.swing`) as a distributed job.

Same formula, parameters, caps, sample, top-k cut and tie order; the lists are equal to the
single-machine ones (scores bit for bit where the single-machine code works in one block, else
to float rounding). Input: interactions as a Spark DataFrame or Parquet with integer user and item
indices; output: a DataFrame / Parquet of neighbour lists ``(node, rank, neighbour, score)``, or a
:class:`~fuserec.graph.swing.SwingResult` (the .npz the trainers read) when the lists fit the driver.

Plan of the job (item side; the user side swaps the two columns). ``anchor`` = item,
``conn`` = user; no step gathers the graph in one place, every shuffle is keyed:

1. **caps** — connector degrees (group by conn) filter the connectors; anchors with more
   connectors than ``max_users_per_item`` keep the ``cap`` smallest keys
   :func:`~fuserec.graph.swing.edge_uniforms` (a hash of seed, connector, anchor: the same sample
   as the single-machine code, computed per edge, anywhere), via a window partitioned by anchor.
   The caps bound the skew of what follows: an anchor yields at most ``cap²/2`` triples.
2. **weights** — ``w(u) = (|I_u| + alpha1) ** -beta`` per connector (a pandas UDF calling
   :func:`~fuserec.graph.swing.connector_weights`, so the bits equal numpy's).
3. **triples** — each anchor's (capped) connector list paired with itself, ``u < v``: one row
   per connector pair and shared anchor (the self-join on the anchor, as one shuffle keyed by it).
4. **pairs** — group by ``(u, v)``: ``c_uv`` = the group's size and its anchors; keep
   ``c_uv >= 2``; ``K_uv = w(u) w(v) / (alpha + c_uv)`` (shuffle keyed by pair; a group holds at
   most ``max_items_per_user`` anchors).
5. **scores** — every pair emits ``(i, j, K_uv)`` for its anchors ``i < j``; group by ``(i, j)``
   and sum its terms in ``(v, u)`` order (the order of the single-machine sparse product, so
   the sums, and hence exact ties, come out bit for bit when that code runs in one block); the
   sum is mirrored to ``(j, i)``.
6. **top-k** — a window per node ordered by ``(score desc, neighbour asc)``, cut at ``topk``.

The work is ``Σ_pairs c_uv²``, as on one machine; the pair and score shuffles carry it.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import pandas as pd  # the pandas UDFs' type hints are resolved in this module's globals
import scipy.sparse as sp

from fuserec.errors import DataError
from fuserec.graph.swing import SwingParams, SwingResult, binarize
from fuserec.spark.io import read_parquet, write_frame
from fuserec.spark.session import require_pyspark

NEIGHBOUR_COLUMNS = ("node", "rank", "neighbour", "score")


# ---------------------------------------------------------------------- the job
def swing_dataframe(interactions: Any, params: SwingParams, *, user_col: str = "user",
                    item_col: str = "item") -> Any:
    """SWING top-k neighbour lists of a DataFrame of interactions.

    Args:
        interactions: Spark DataFrame with integer columns ``user_col`` and ``item_col``
            (indices >= 0; a repeated pair counts once).
        params: :class:`~fuserec.graph.swing.SwingParams` (side, topk, alpha, alpha1, beta, caps, seed).
    Returns:
        DataFrame ``(node long, rank int, neighbour long, score double)``: for every node of
        ``params.side`` with a neighbour, its top-k neighbours, ``rank`` 1, 2, ... by decreasing
        score, ties by lower neighbour index. Lazy: nothing runs until it is written or collected.
    """
    require_pyspark()
    from pyspark import StorageLevel
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    params.validate()
    for name in (user_col, item_col):
        if name not in interactions.columns:
            raise DataError(f"interactions have no column {name!r} (columns: {interactions.columns})",
                            field=name)
    if params.side == "item":
        conn_col, anchor_col = user_col, item_col
        lo, hi, cap = params.min_items_per_user, params.max_items_per_user, params.max_users_per_item
    else:
        conn_col, anchor_col = item_col, user_col
        lo, hi, cap = params.min_users_per_item, params.max_users_per_item, params.max_items_per_user
    edges = interactions.select(F.col(conn_col).cast("long").alias("conn"),
                                F.col(anchor_col).cast("long").alias("anchor")).distinct()

    # 1. caps: connector degree filter, then the seeded per-anchor sample. Whether a cap binds is
    # asked first (two small aggregations), so that a cap that binds nowhere costs no shuffle.
    if lo > 1 or hi > 0:
        deg = edges.groupBy("conn").agg(F.count(F.lit(1)).alias("deg"))
        keep = F.col("deg") >= lo
        if hi > 0:
            keep = keep & (F.col("deg") <= hi)
        if deg.where(~keep).limit(1).count():
            edges = edges.join(deg.where(keep).select("conn"), "conn", "left_semi")
    edges = edges.persist(StorageLevel.MEMORY_AND_DISK)
    if cap > 0:
        sizes = edges.groupBy("anchor").agg(F.count(F.lit(1)).alias("n"))
        heavy = sizes.where(F.col("n") > cap).select("anchor")
        if heavy.limit(1).count():
            keyed = edges.join(heavy, "anchor", "left_semi").withColumn(
                "key", _edge_key_udf(params.seed)(F.col("conn"), F.col("anchor")))
            by_key = Window.partitionBy("anchor").orderBy(F.col("key").asc(), F.col("conn").asc())
            sampled = keyed.withColumn("r", F.row_number().over(by_key)).where(F.col("r") <= cap)
            edges = edges.join(heavy, "anchor", "left_anti").select("conn", "anchor").unionByName(
                sampled.select("conn", "anchor")).persist(StorageLevel.MEMORY_AND_DISK)

    # 2. connector weights on the capped graph
    weights = (edges.groupBy("conn").agg(F.count(F.lit(1)).alias("deg"))
               .select("conn", _weight_udf(params.alpha1, params.beta)(F.col("deg")).alias("w")))

    # 3. triples (u, v, anchor), u < v: each anchor's connector list (at most `cap` long) paired
    # with itself (one shuffle keyed by anchor, no join)
    lists = edges.groupBy("anchor").agg(F.array_sort(F.collect_list("conn")).alias("conns"))
    firsts = lists.select("anchor", "conns", F.explode("conns").alias("u"))
    triples = firsts.select("anchor", "u", F.explode(F.filter("conns", lambda x: x > F.col("u"))).alias("v"))

    # 4. pairs sharing >= 2 anchors and their weights
    pairs = (triples.groupBy("u", "v")
             .agg(F.count(F.lit(1)).alias("c"), F.collect_list("anchor").alias("anchors"))
             .where(F.col("c") >= 2))
    pairs = (pairs.join(weights.select(F.col("conn").alias("u"), F.col("w").alias("wu")), "u")
             .join(weights.select(F.col("conn").alias("v"), F.col("w").alias("wv")), "v"))
    pairs = pairs.select("u", "v", "anchors", ((F.col("wu") * F.col("wv"))
                                                / (F.lit(float(params.alpha)) + F.col("c").cast("double"))).alias("k"))

    # 5. per anchor pair i < j: the terms of its pairs, summed in (v, u) order, then mirrored
    per_anchor = pairs.select("u", "v", "k", "anchors", F.explode("anchors").alias("i"))
    terms = per_anchor.select("u", "v", "k", "i",
                              F.explode(F.filter("anchors", lambda x: x > F.col("i"))).alias("j"))
    summed = (terms.groupBy("i", "j")
              .agg(F.array_sort(F.collect_list(F.struct("v", "u", "k"))).alias("terms"))
              .select("i", "j", F.aggregate("terms", F.lit(0.0), lambda acc, t: acc + t["k"]).alias("score")))
    both = (summed.select(F.col("i").alias("node"), F.col("j").alias("neighbour"), "score")
            .unionByName(summed.select(F.col("j").alias("node"), F.col("i").alias("neighbour"), "score"))
            .where(F.col("score") > 0))

    # 6. top-k per node, ties by lower neighbour index
    order = Window.partitionBy("node").orderBy(F.col("score").desc(), F.col("neighbour").asc())
    ranked = both.withColumn("rank", F.row_number().over(order))
    if params.topk > 0:
        ranked = ranked.where(F.col("rank") <= params.topk)
    return ranked.select(*NEIGHBOUR_COLUMNS)


def _edge_key_udf(seed: int):
    """pandas UDF ``(conn, anchor) -> edge_uniforms(seed, conn, anchor)`` (double)."""
    from pyspark.sql.functions import pandas_udf

    @pandas_udf("double")
    def edge_key(conn: pd.Series, anchor: pd.Series) -> pd.Series:
        from fuserec.graph.swing import edge_uniforms

        return pd.Series(edge_uniforms(seed, conn.to_numpy(), anchor.to_numpy()))

    return edge_key


def _weight_udf(alpha1: float, beta: float):
    """pandas UDF ``degree -> connector_weights(degree, alpha1, beta)`` (double)."""
    from pyspark.sql.functions import pandas_udf

    @pandas_udf("double")
    def weight(degree: pd.Series) -> pd.Series:
        from fuserec.graph.swing import connector_weights

        return pd.Series(connector_weights(degree.to_numpy(), alpha1, beta))

    return weight


# ---------------------------------------------------------------------- inputs and outputs
def read_interactions(spark: Any, path: str | os.PathLike, *, user_col: str = "user",
                      item_col: str = "item") -> Any:
    """Interactions from Parquet (a file or a folder of parts), checked: both columns present,
    integer typed, no null or negative index (DataError naming the file, field and a bad value)."""
    require_pyspark()
    from pyspark.sql import functions as F
    from pyspark.sql.types import IntegralType

    frame = read_parquet(spark, path)
    types = dict((f.name, f.dataType) for f in frame.schema.fields)
    for name in (user_col, item_col):
        if name not in types:
            raise DataError(f"no column {name!r} (columns: {', '.join(types)})", path, field=name)
        if not isinstance(types[name], IntegralType):
            raise DataError(f"must hold integer indices, found {types[name].simpleString()}", path, field=name)
    for name in (user_col, item_col):
        bad = frame.where(F.col(name).isNull() | (F.col(name) < 0)).select(name).limit(1).collect()
        if bad:
            raise DataError(f"holds {bad[0][0]!r}; indices must be integers >= 0", path, field=name)
    return frame.select(user_col, item_col)


def write_neighbours(neighbours: Any, path: str | os.PathLike) -> str:
    """Write a neighbour DataFrame as Parquet sorted by (node, rank), whole or not at all."""
    return write_frame(neighbours, path, order_by=("node", "rank"))


def to_swing_result(neighbours: Any, n_nodes: int, *, ids: np.ndarray | None = None,
                    params: dict | None = None) -> SwingResult:
    """Collect a neighbour DataFrame (or a pandas frame with its columns) into a
    :class:`~fuserec.graph.swing.SwingResult` of ``n_nodes`` nodes (the driver holds the lists)."""
    frame = neighbours if hasattr(neighbours, "to_numpy") else neighbours.toPandas()
    frame = frame.sort_values(["node", "rank"], kind="stable")
    node = frame["node"].to_numpy(np.int64)
    if len(node) and (node.min() < 0 or node.max() >= n_nodes):
        raise DataError(f"neighbour lists name node {int(node.max())}, outside 0..{n_nodes - 1}", field="node")
    indptr = np.zeros(n_nodes + 1, dtype=np.int64)
    np.cumsum(np.bincount(node, minlength=n_nodes), out=indptr[1:])
    return SwingResult(indptr, frame["neighbour"].to_numpy(np.int64), frame["score"].to_numpy(np.float64),
                       ids=ids, params=params)


def result_frame(result: SwingResult) -> pd.DataFrame:
    """The lists of a :class:`~fuserec.graph.swing.SwingResult` as a pandas frame
    ``(node, rank, neighbour, score)`` (the Parquet layout), the inverse of :func:`to_swing_result`."""
    node = np.repeat(np.arange(result.n_nodes, dtype=np.int64), result.degrees)
    start = np.repeat(result.indptr[:-1], result.degrees)
    rank = (np.arange(len(node), dtype=np.int64) - start + 1).astype(np.int32)
    return pd.DataFrame({"node": node, "rank": rank, "neighbour": result.indices.astype(np.int64),
                         "score": result.scores.astype(np.float64)})


def interactions_frame(spark: Any, user_item: sp.spmatrix, *, slices: int | None = None) -> Any:
    """A ``(user, item)`` DataFrame of the positive entries of a users × items matrix."""
    coo = binarize(user_item).tocoo()
    frame = pd.DataFrame({"user": coo.row.astype(np.int64), "item": coo.col.astype(np.int64)})
    out = spark.createDataFrame(frame)
    return out.repartition(slices) if slices else out


def swing_spark(spark: Any, user_item: sp.spmatrix, params: SwingParams) -> SwingResult:
    """:func:`fuserec.graph.swing.swing_from_params` computed by Spark: a users × items matrix in,
    the same :class:`~fuserec.graph.swing.SwingResult` out (lists collected to the driver)."""
    params.validate()
    if user_item.ndim != 2:
        raise DataError(f"SWING needs a 2-d users x items matrix, got shape {user_item.shape}")
    n_nodes = user_item.shape[1] if params.side == "item" else user_item.shape[0]
    if binarize(user_item).nnz == 0:
        return SwingResult(np.zeros(n_nodes + 1, dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros(0),
                           params=params.to_dict())
    lists = swing_dataframe(interactions_frame(spark, user_item), params)
    return to_swing_result(lists, n_nodes, params=params.to_dict())


def swing_parquet(spark: Any, interactions: str | os.PathLike, out: str | os.PathLike, params: SwingParams,
                  *, user_col: str = "user", item_col: str = "item") -> str:
    """Parquet interactions in, Parquet neighbour lists out (nothing gathered on the driver)."""
    frame = read_interactions(spark, interactions, user_col=user_col, item_col=item_col)
    return write_neighbours(swing_dataframe(frame, params, user_col=user_col, item_col=item_col), out)
