"""Property-based fuzzing of every file reader with the classes of hostile input of issue 14.

For each loader (csv, parquet, movielens, irllrec, atomic, uci-restaurant, google-local, a
converted fuserec folder, a dataset YAML, ``.npy`` vectors for ``text import``, checkpoints)
hypothesis generates inputs of these classes: tables with a header only or zero rows, duplicate
column names, non-scalar (list/struct) cells, bad or overflowing values at a random row, unknown
encodings, short/long lines, pickles and ``.npy`` headers declaring sizes they do not hold,
converted folders with missing/mistyped keys or swapped tables, checkpoints with wrong shapes or
foreign objects, and plain byte mangling. For every input the outcome must be a valid Dataset (or
model state), or one :class:`FuserecError` line naming the file; a sample of the inputs also goes
through the CLI (in process), which must exit 0, or exit 2 with one ``error:`` line naming the file.

Each loader has a fast test (a few examples, default suite) and a slow one
(:data:`SLOW_EXAMPLES` = 2,000 examples, ``-m slow``). Counts are printed at the end (``-s``).
"""

from __future__ import annotations

import contextlib
import io
import json
import pickle
import struct
import zipfile
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import hostile_cases as hc
import test_fuzz_loaders_a as fa
import test_fuzz_loaders_b as fb
from fuserec.cli.main import main
from fuserec.data import store
from fuserec.data.loaders import atomic, google_local, irllrec, movielens, table, uci_restaurant
from fuserec.data.sources import load_dataset
from fuserec.errors import FuserecError

FAST_EXAMPLES = 12
SLOW_EXAMPLES = 2000
CLI_EVERY = 40          # every 40th input of a loader also runs through the CLI
COMMON = dict(deadline=None, derandomize=True, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                     HealthCheck.function_scoped_fixture])
TRIED: Counter = Counter()
OUTCOMES: dict[str, Counter] = defaultdict(Counter)
CLI_RUNS: Counter = Counter()


@pytest.fixture(scope="module", autouse=True)
def _report():
    yield
    print("\nhostile fuzzing, per loader: inputs tried -> outcomes (CLI runs)")
    for name in sorted(TRIED):
        print(f"  {name:14s} {TRIED[name]:5d} -> {dict(OUTCOMES[name])} (CLI {CLI_RUNS[name]})")
    print(f"  total {sum(TRIED.values())}")


# ---------------------------------------------------------------------- the property
def outcome(name: str, tmp: Path, load, argv: list[str] | None = None, kind: str = "") -> str:
    """Run ``load()``: a valid Dataset, or one FuserecError line naming a file under ``tmp``.
    Every :data:`CLI_EVERY`-th input of ``name`` also runs ``fuserec argv`` (exit 0, or 2 + one line)."""
    TRIED[name] += 1
    try:
        result = load()
    except FuserecError as exc:
        message = str(exc)
        assert "\n" not in message and message.strip(), message
        assert str(tmp) in message, f"the error names no file under {tmp}: {message}"
        got = "error"
    else:
        if result is not None:
            fa._assert_valid(result)
        got = "dataset"
    OUTCOMES[name][f"{kind}:{got}" if kind else got] += 1
    if argv is not None and TRIED[name] % CLI_EVERY == 1:
        CLI_RUNS[name] += 1
        err = io.StringIO()
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            code = main(["-q", *argv])
        lines = [ln for ln in err.getvalue().splitlines() if ln.strip() and not ln.startswith("warning")]
        if got == "error":
            assert code == 2 and len(lines) == 1 and lines[0].startswith("error: "), (code, err.getvalue())
            assert str(tmp) in lines[0], lines[0]
        else:
            assert code == 0, err.getvalue()
    return got


def fuzz_pair(fn):
    """Register ``fn(tmp, data)`` as a fast test (default suite) and a slow one (2,000 examples)."""
    def fast(tmp_path_factory, data):
        fn(tmp_path_factory.mktemp(fn.__name__), data)

    def slow(tmp_path_factory, data):
        fn(tmp_path_factory.mktemp(fn.__name__), data)

    fast.__name__ = fast.__qualname__ = f"test_{fn.__name__}_fast"
    slow.__name__ = slow.__qualname__ = f"test_{fn.__name__}_slow"
    g = globals()
    g[fast.__name__] = settings(max_examples=FAST_EXAMPLES, **COMMON)(given(data=st.data())(fast))
    g[slow.__name__] = pytest.mark.slow(settings(max_examples=SLOW_EXAMPLES, **COMMON)(given(data=st.data())(slow)))
    return fn


WEIRD_CELLS = ["", "abc", "NaN", "nan", "inf", "-inf", "1e308", "3.5e38", "-1e39", "1e400", "12:00",
               "2021-13-45", "2021-01-01", '"', "\xe9", "0x10", "1,5", " 4 ", "None", "[1, 2]"]


def _table_rows(n: int = 30) -> list[list[str]]:
    return [[f"u{i % 7}", f"i{i % 11}", str(1 + i % 5), str(1_000_000 + i)] for i in range(n)]


# ---------------------------------------------------------------------- csv
@fuzz_pair
def fuzz_csv(tmp: Path, data):
    header = ["user", "item", "rating", "timestamp"]
    rows = _table_rows(data.draw(st.integers(1, 40)))
    kind = data.draw(st.sampled_from(["header_only", "duplicate", "bad_time", "huge_rating", "cells",
                                      "encoding", "bytes"]))
    encoding, bad_row = "utf-8", None
    if kind == "header_only":
        rows = []
    elif kind == "duplicate":
        i, j = data.draw(st.integers(0, 3)), data.draw(st.integers(0, 3))
        if i != j:
            header[j] = header[i]
    elif kind in ("bad_time", "huge_rating"):
        r = data.draw(st.integers(0, len(rows) - 1))
        col = 3 if kind == "bad_time" else 2
        rows[r][col] = data.draw(st.sampled_from(["abc", "", "1e400", "12:00", "nan", "2021-13-45", "x1"]
                                                 if kind == "bad_time" else ["1e308", "3.5e38", "-1e39", "1e400",
                                                                              "inf", "nan", "1e39"]))
        bad_row = r + 2
    elif kind == "cells":
        for _ in range(data.draw(st.integers(1, 4))):
            rows[data.draw(st.integers(0, len(rows) - 1))][data.draw(st.integers(0, 3))] = data.draw(
                st.sampled_from(WEIRD_CELLS))
    elif kind == "encoding":
        encoding = data.draw(st.sampled_from(["utf-8", "latin-1", "utf-16", "klingon", "zlib_codec", "ascii"]))
    text = "\n".join(",".join(r) for r in [header, *rows]) + "\n"
    raw = text.encode("utf-8")
    if kind == "encoding":
        raw = text.replace("u1", "u\xe91").encode(data.draw(st.sampled_from(["utf-8", "latin-1", "utf-16"])))
    if kind == "bytes":
        raw = fb.mangle_bytes(raw, data.draw)
    (tmp / "inter.csv").write_bytes(raw)
    (tmp / "data.yaml").write_text(f"format: csv\npath: inter.csv\noptions: {{encoding: {encoding}}}\n")
    got = outcome("csv", tmp, lambda: load_dataset(str(tmp / "data.yaml"), split=False),
                  ["data", "info", "--no-split", str(tmp / "data.yaml")], kind)
    if kind == "header_only":
        assert got == "error"
    if bad_row is not None and len(rows) > 1:  # (a lone value decides the column's kind itself)
        try:
            load_dataset(str(tmp / "data.yaml"), split=False)
        except FuserecError as exc:
            assert f"row {bad_row}" in str(exc), str(exc)  # the true row, not another
            if kind == "huge_rating" and "overflows" not in str(exc):
                assert rows[bad_row - 2][2] in ("1e400", "inf", "nan"), str(exc)
        else:
            raise AssertionError(f"row {bad_row} held a bad value and loaded")


# ---------------------------------------------------------------------- parquet
NESTED = [[["a"], ["b", "c"]], [{"k": 1}, {"k": 2}], [[1.5], [2.5]], [{"a": [1]}, {"a": [2]}]]


@fuzz_pair
def fuzz_parquet(tmp: Path, data):
    import pyarrow as pa
    import pyarrow.parquet as pq

    n = data.draw(st.integers(0, 30))
    cols = {"user": [f"u{i % 7}" for i in range(n)], "item": [f"i{i % 5}" for i in range(n)],
            "rating": [float(1 + i % 5) for i in range(n)], "timestamp": [float(1e6 + i) for i in range(n)]}
    kind = data.draw(st.sampled_from(["rows", "duplicate", "nested", "nulls", "bytes"]))
    names = list(cols)
    arrays = [pa.array(v) for v in cols.values()]
    if kind == "duplicate":
        names[data.draw(st.integers(0, 3))] = names[data.draw(st.integers(0, 3))]
    elif kind == "nested" and n:
        k = data.draw(st.integers(0, 3))
        sample = data.draw(st.sampled_from(NESTED))
        arrays[k] = pa.array([sample[i % 2] for i in range(n)])
    elif kind == "nulls" and n:
        k = data.draw(st.integers(0, 3))
        values = list(cols[names[k]])
        values[data.draw(st.integers(0, n - 1))] = None
        arrays[k] = pa.array(values)
    buf = io.BytesIO()
    pq.write_table(pa.table(arrays, names=names), buf)
    raw = buf.getvalue()
    if kind == "bytes":
        raw = fb.mangle_bytes(raw, data.draw)
    (tmp / "inter.parquet").write_bytes(raw)
    got = outcome("parquet", tmp, lambda: load_dataset(f"parquet:{tmp / 'inter.parquet'}", split=False),
                  ["data", "info", "--no-split", f"parquet:{tmp / 'inter.parquet'}"], kind)
    if n == 0 or (kind == "nested") or (kind == "duplicate" and len(set(names)) < 4):
        assert got == "error", kind


# ---------------------------------------------------------------------- movielens
@fuzz_pair
def fuzz_movielens(tmp: Path, data):
    kind = data.draw(st.sampled_from(["u_item_lines", "u_data_cells", "ratings_header", "ratings_dup", "mangled"]))
    files = dict(fa.ML100K if kind in ("u_item_lines", "u_data_cells") or data.draw(st.booleans()) else fa.MLCSV)
    if kind == "u_item_lines" and "u.item" in files:
        lines = files["u.item"].split(b"\n")
        i = data.draw(st.integers(0, max(len(lines) - 2, 0)))
        fields = lines[i].split(b"|")
        cut = data.draw(st.integers(1, len(fields) + 3))
        lines[i] = b"|".join((fields + [b"1", b"0", b"x"])[:cut])
        files["u.item"] = b"\n".join(lines)
    elif kind == "u_data_cells":
        lines = files["u.data"].split(b"\n")
        i = data.draw(st.integers(0, len(lines) - 2))
        cells = lines[i].split(b"\t")
        cells[data.draw(st.integers(0, 3))] = data.draw(st.sampled_from([c.encode("utf-8") for c in WEIRD_CELLS]))
        lines[i] = b"\t".join(cells)
        files["u.data"] = b"\n".join(lines)
    elif kind == "ratings_header":
        files = {"ratings.csv": b"userId,movieId,rating,timestamp\n" + b"\n" * data.draw(st.integers(0, 3))}
    elif kind == "ratings_dup":
        files = dict(fa.MLCSV)
        files["ratings.csv"] = files["ratings.csv"].replace(b"rating,timestamp", data.draw(st.sampled_from(
            [b"rating,rating", b"userId,timestamp", b"rating,movieId"])), 1)
    else:
        files = data.draw(fa.mangled_files(files))
    folder = fa._materialise(files, tmp, "ml")
    got = outcome("movielens", tmp, lambda: movielens.load(folder), ["data", "info", f"movielens:{folder}"], kind)
    if kind in ("ratings_header", "ratings_dup"):
        assert got == "error", kind


# ---------------------------------------------------------------------- irllrec pickles
@fuzz_pair
def fuzz_irllrec(tmp: Path, data):
    kind = data.draw(st.sampled_from(["coo", "csr", "csc"]))
    n_rows, n_cols = data.draw(st.integers(1, 6)), data.draw(st.integers(1, 6))
    nnz = data.draw(st.integers(0, 5))
    rng = np.random.default_rng(data.draw(st.integers(0, 2 ** 16)))
    m = sp.coo_matrix((np.ones(nnz), (rng.integers(0, n_rows, nnz), rng.integers(0, n_cols, nnz))),
                      shape=(n_rows, n_cols))
    m = {"coo": m, "csr": m.tocsr(), "csc": m.tocsc()}[kind]
    attack = data.draw(st.sampled_from(["shape", "indptr", "indices", "dtype", "bytes", "none"]))
    if attack == "shape":
        m._shape = data.draw(st.tuples(st.sampled_from([0, 1, 3, -1, 10 ** 6, 3 * 10 ** 8, 10 ** 12, 2 ** 40]),
                                       st.sampled_from([0, 2, -4, 10 ** 7, 10 ** 12, 2 ** 62])))
    elif attack == "indptr" and kind != "coo":
        m.indptr = np.asarray(data.draw(st.lists(st.integers(-3, 10 ** 9), min_size=0, max_size=8)), dtype=np.int64)
    elif attack == "indices":
        bad = np.asarray(data.draw(st.lists(st.integers(-5, 2 ** 40), min_size=0, max_size=6)), dtype=np.int64)
        if kind == "coo":
            m.coords = (bad, m.coords[1])
        else:
            m.indices = bad
    elif attack == "dtype":
        m.data = m.data.astype(data.draw(st.sampled_from([np.complex64, np.bool_, np.int8, "U3"])))
    raw = pickle.dumps(m, protocol=data.draw(st.integers(0, 5)))
    if attack == "bytes":
        raw = fb.mangle_bytes(raw, data.draw)
    files = fa._irllrec_files()
    files[data.draw(st.sampled_from(sorted(files)))] = raw
    folder = fa._materialise(files, tmp, "split")
    outcome("irllrec", tmp, lambda: irllrec.load(folder), ["data", "info", f"irllrec:{folder}"], attack)


# ---------------------------------------------------------------------- atomic, uci, google-local
@fuzz_pair
def fuzz_atomic(tmp: Path, data):
    files = data.draw(fa.mangled_files(fa.ATOMIC))
    folder = fa._materialise(files, tmp, "toy")
    outcome("atomic", tmp, lambda: atomic.load(folder), ["data", "info", f"atomic:{folder}"])


@fuzz_pair
def fuzz_uci_restaurant(tmp: Path, data):
    files = data.draw(fa.mangled_files(fa.UCI))
    folder = fa._materialise(files, tmp, "uci")
    outcome("uci-restaurant", tmp, lambda: uci_restaurant.load(folder), ["data", "info", f"uci-restaurant:{folder}"])


@fuzz_pair
def fuzz_google_local(tmp: Path, data):
    texts = {k: ("\n".join(json.dumps(r) for r in rows) + "\n").encode() for k, rows in
             (("review", fb.REVIEWS), ("meta", fb.META))}
    which = data.draw(st.sampled_from(["review", "meta"]))
    texts[which] = fb.mangle_bytes(texts[which], data.draw)
    gz = {k: fb.gzip.compress(v) for k, v in texts.items()}
    if data.draw(st.booleans()):
        gz[which] = fb.mangle_bytes(gz[which], data.draw)
    (tmp / "review-California.json.gz").write_bytes(gz["review"])
    (tmp / "meta-California.json.gz").write_bytes(gz["meta"])
    outcome("google-local", tmp, lambda: google_local.load(tmp / "review-California.json.gz", fb.GL_OPTIONS[0]),
            ["data", "info", f"google-local:{tmp / 'review-California.json.gz'}"])


# ---------------------------------------------------------------------- converted folders
_CONVERTED: dict[str, bytes] = {}


def _converted_files() -> dict[str, bytes]:
    if not _CONVERTED:
        import tempfile

        with tempfile.TemporaryDirectory() as t:
            folder = hc.converted(Path(t))
            truth = io.BytesIO()
            np.savez(truth, user_taste=np.ones((7, 2)))
            (folder / "ground_truth.npz").write_bytes(truth.getvalue())
            _CONVERTED.update({p.name: p.read_bytes() for p in folder.iterdir()})
    return dict(_CONVERTED)


HEADER_VALUES = st.sampled_from([None, 1, "x", [], {}, [{"name": "g"}], {"a": 1}, 2.5, True, [1, 2]])


@fuzz_pair
def fuzz_fuserec_folder(tmp: Path, data):
    files = _converted_files()
    kind = data.draw(st.sampled_from(["header_key", "header_json", "swap", "table_bytes", "truth"]))
    if kind == "header_key":
        header = json.loads(files["fuserec.json"])
        key = data.draw(st.sampled_from(["name", "fields", "meta", "format_version", "extra"]))
        if data.draw(st.booleans()):
            header.pop(key, None)
        else:
            header[key] = data.draw(HEADER_VALUES)
        files["fuserec.json"] = json.dumps(header).encode()
    elif kind == "header_json":
        files["fuserec.json"] = fb.mangle_bytes(files["fuserec.json"], data.draw)
    elif kind == "swap":
        a, b = data.draw(st.permutations(["interactions.parquet", "users.parquet", "items.parquet"]))[:2]
        files[a], files[b] = files[b], files[a]
    elif kind == "table_bytes":
        name = data.draw(st.sampled_from(["interactions.parquet", "users.parquet", "items.parquet"]))
        files[name] = fb.mangle_bytes(files[name], data.draw)
    else:
        shape = data.draw(st.tuples(st.sampled_from([0, 7, 10 ** 9, -1]), st.sampled_from([2, 10 ** 6])))
        dtype = data.draw(st.sampled_from(["<f8", "|O", "<i4", "V8"]))
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as z:
            z.writestr("user_taste.npy", hc.npy_header(shape, dtype, bytes(data.draw(st.integers(0, 200)))))
        files["ground_truth.npz"] = buf.getvalue()
    folder = fa._materialise(files, tmp, "conv")
    outcome("fuserec", tmp, lambda: store.load(folder), ["data", "info", "--no-split", str(folder)], kind)


# ---------------------------------------------------------------------- dataset YAML
@fuzz_pair
def fuzz_dataset_yaml(tmp: Path, data):
    (tmp / "inter.csv").write_text(hc.inter_csv(40))
    body = data.draw(st.one_of(
        st.sampled_from(["", "# only a comment\n", "---\n", "null\n", "[1, 2]\n", "format: csv\n", "path: inter.csv\n",
                         "format: nope\npath: inter.csv\n", "format: csv\npath: inter.csv\noptions: {encoding: x}\n",
                         "format: csv\npath: inter.csv\noptions: {columns: {usr: user}}\n",
                         "format: csv\npath: [inter.csv\n", "format: csv\n\tpath: inter.csv\n",
                         "format: csv\npath: inter.csv\nsplit: {valid: 2.0}\n", "format: csv\npath: missing.csv\n",
                         "format: csv\npath: inter.csv\n", "dataset: {format: csv, path: inter.csv}\n"]),
        st.text(max_size=60)))
    (tmp / "data.yaml").write_text(body)
    outcome("dataset-yaml", tmp, lambda: load_dataset(str(tmp / "data.yaml"), split=False),
            ["data", "info", "--no-split", str(tmp / "data.yaml")])


# ---------------------------------------------------------------------- .npy vectors (text import)
@fuzz_pair
def fuzz_npy_vectors(tmp: Path, data):
    from fuserec.text.importing import read_vectors

    kind = data.draw(st.sampled_from(["header", "truncate", "bytes", "object", "empty"]))
    good = io.BytesIO()
    np.save(good, np.ones((11, 4), dtype=np.float32))
    if kind == "header":
        shape = data.draw(st.tuples(st.sampled_from([0, 11, 12, -1, 10 ** 7, 2 ** 62]),
                                    st.sampled_from([4, 0, 10 ** 9])))
        dtype = data.draw(st.sampled_from(["<f4", "<f8", "|O", "<i8", "<U3", "|V16", "<c8"]))
        raw = hc.npy_header(shape, dtype, bytes(data.draw(st.integers(0, 400))))
    elif kind == "truncate":
        raw = good.getvalue()[:data.draw(st.integers(0, len(good.getvalue()) - 1))]
    elif kind == "bytes":
        raw = fb.mangle_bytes(good.getvalue(), data.draw)
    elif kind == "object":
        buf = io.BytesIO()
        np.save(buf, np.array([None] * 11, dtype=object), allow_pickle=True)
        raw = buf.getvalue()
    else:
        raw = b""
    (tmp / "v.npy").write_bytes(raw)
    (tmp / "ids.txt").write_text("\n".join(f"i{k}" for k in range(11)) + "\n")
    outcome("npy-vectors", tmp, lambda: (read_vectors(tmp / "v.npy", tmp / "ids.txt"), None)[1], None, kind)


# ---------------------------------------------------------------------- checkpoints
_MODEL: dict = {}


def _model_and_state():
    if not _MODEL:
        from fuserec.data.dataset import build_dataset
        from fuserec.models.mf import MF

        frame = pd.DataFrame(_table_rows(30), columns=["user", "item", "rating", "timestamp"])
        ds = build_dataset("t", frame, source="t")
        model = MF(ds)
        _MODEL.update(model=model, state={"format": 1, "epoch": 1, "model": model.state_dict()})
    return _MODEL["model"], _MODEL["state"]


@fuzz_pair
def fuzz_checkpoint(tmp: Path, data):
    from fuserec.train.checkpoint import check_model_state, load_checkpoint

    model, state = _model_and_state()
    state = {**state, "model": dict(state["model"])}
    kind = data.draw(st.sampled_from(["shape", "drop", "add", "foreign", "bytes", "format"]))
    name = data.draw(st.sampled_from(sorted(state["model"])))
    if kind == "shape":
        t = state["model"][name]
        state["model"][name] = torch.zeros(tuple(max(0, d + data.draw(st.integers(-2, 2))) for d in t.shape)
                                           + ((1,) if data.draw(st.booleans()) else ()))
    elif kind == "drop":
        state["model"].pop(name)
    elif kind == "add":
        state["model"][name + ".x"] = torch.zeros(2)
    elif kind == "foreign":
        state["trainer"] = data.draw(st.sampled_from([hc.Payload(), hc.Context(), Path("/x"), Counter()]))
    elif kind == "format":
        state["format"] = data.draw(st.sampled_from([None, 0, 2, "1"]))
    buf = io.BytesIO()
    torch.save(state, buf)
    raw = buf.getvalue()
    if kind == "bytes":
        raw = fb.mangle_bytes(raw, data.draw)
    (tmp / "best.pt").write_bytes(raw)

    def load():
        loaded = load_checkpoint(tmp / "best.pt")
        check_model_state(model, loaded.get("model"), loaded.path)

    outcome("checkpoint", tmp, load, None, kind)


def test_a_fuzz_seed_of_each_kind_loads():
    """The unmangled seeds load (so the failures above come from the mangling)."""
    for files, load in ((fa.ML100K, movielens.load), (fa.MLCSV, movielens.load), (fa.ATOMIC, atomic.load),
                        (fa.UCI, uci_restaurant.load), (fa._irllrec_files(), irllrec.load),
                        (_converted_files(), store.load)):
        import tempfile

        with tempfile.TemporaryDirectory() as t:
            fa._assert_valid(load(fa._materialise(files, Path(t), "x")))
    _ = struct, table  # imported for the strategies' readers
