"""Hand-built hostile and broken inputs, one per case, grouped by the class of failure (issue 14).

Each case builds its files under a temporary folder and returns the ``fuserec`` command line to
run on them and what the outcome must be: exit code 2 with one ``error:`` line naming a file
(``names``), or exit 0 with a warning naming the file (``warns``). ``tests/test_hostile_inputs.py``
runs every case through the CLI; ``scripts/hostile_inputs.py`` prints the count per class.
"""

from __future__ import annotations

import io
import json
import pickle
import shutil
import struct
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch

#: class -> description (the closing note of issue 14 reports counts under these names)
CLASSES = {
    "internal-error": "inputs that crashed with an internal error (exit 1) before",
    "declared-size": "files declaring sizes they do not hold (pickled shapes, .npy headers, counts)",
    "silently-wrong": "inputs that loaded wrongly without a word (duplicate columns, list cells, empty YAML)",
    "location": "errors that must name the right row and value",
    "one-line": "failures whose message was not one clean line (YAML, checkpoints, warnings, overflow)",
}


@dataclass
class Case:
    cls: str
    name: str
    build: Callable[[Path, "Context"], list[str]]
    names: str = ""              # substring the error line must contain (a file name), "" = none
    code: int = 2
    says: tuple[str, ...] = ()   # further substrings the output must contain
    warns: bool = False          # exit 0 with a warning naming the file


@dataclass
class Context:
    """Things several cases share (built once): a trained run folder."""

    run: Path | None = None
    extra: dict = field(default_factory=dict)


CASES: list[Case] = []


def case(cls: str, names: str = "", code: int = 2, says: tuple[str, ...] = (), warns: bool = False):
    def register(fn):
        CASES.append(Case(cls, fn.__name__.removeprefix("case_"), fn, names, code, says, warns))
        return fn
    return register


# ---------------------------------------------------------------------- small valid pieces
RATINGS = "userId,movieId,rating,timestamp\n1,10,4.5,1000\n1,20,2.0,1001\n2,10,3.5,1002\n2,30,5.0,1003\n"
U_DATA = "1\t1\t5\t874965758\n1\t2\t3\t876893171\n2\t1\t4\t888550871\n3\t2\t1\t889237455\n"
FLAGS = "|".join(["0"] * 19)


def inter_csv(n: int = 60) -> str:
    rows = [f"u{i % 7},i{i % 11},{1 + i % 5},{1_000_000 + i}" for i in range(n)]
    return "user,item,rating,timestamp\n" + "\n".join(rows) + "\n"


def yaml_for(folder: Path, body: str, name: str = "data.yaml") -> Path:
    path = folder / name
    path.write_text(body)
    return path


def _pickle_with_shape(kind: str, shape: tuple[int, int]) -> bytes:
    """A one-entry matrix pickled, then given ``shape`` in its state (as a hostile file would)."""
    m = sp.coo_matrix((np.ones(1), ([0], [0])), shape=(2, 2))
    m = {"coo": m, "csr": m.tocsr(), "csc": m.tocsc()}[kind]
    m._shape = shape
    return pickle.dumps(m, protocol=4)


def irllrec_folder(tmp: Path, train: bytes) -> Path:
    folder = tmp / "split"
    folder.mkdir()
    small = pickle.dumps(sp.coo_matrix((np.ones(1), ([0], [0])), shape=(2, 2)), protocol=4)
    (folder / "trn_mat.pkl").write_bytes(train)
    (folder / "val_mat.pkl").write_bytes(small)
    (folder / "tst_mat.pkl").write_bytes(small)
    return folder


def npy_header(shape: tuple, dtype: str = "<f4", payload: bytes = b"") -> bytes:
    header = repr({"descr": dtype, "fortran_order": False, "shape": shape}).encode()
    header += b" " * (63 - (10 + len(header)) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header + payload


def converted(tmp: Path) -> Path:
    """A converted (fuserec) folder of a small CSV dataset."""
    from fuserec.data import store
    from fuserec.data.sources import load_dataset

    (tmp / "inter.csv").write_text(inter_csv())
    return store.save(load_dataset(f"csv:{tmp / 'inter.csv'}"), tmp / "conv")


def header_edit(folder: Path, edit: Callable[[dict], None]) -> None:
    path = folder / "fuserec.json"
    header = json.loads(path.read_text())
    edit(header)
    path.write_text(json.dumps(header))


def run_copy(tmp: Path, ctx: Context) -> Path:
    out = tmp / "run"
    shutil.copytree(ctx.run, out)
    return out


def set_weights(run: Path, state: dict | bytes) -> None:
    """Replace the run's saved-model weights (what evaluate, recommend and export read)."""
    path = run / "model" / "weights.pt"
    if isinstance(state, bytes):
        path.write_bytes(state)
    else:
        torch.save(state, path)


def weights_state(ctx: Context) -> dict:
    return torch.load(ctx.run / "model" / "weights.pt", weights_only=True)


class Payload:
    """Pickles a call to os.system: a checkpoint holding it must be refused, never run."""

    def __reduce__(self):
        import os
        return (os.system, ("echo PAYLOAD-RAN",))


# ====================================================================== internal errors before
@case("internal-error", names="inter.csv", says=("no rows",))
def case_csv_header_only(tmp, ctx):
    (tmp / "inter.csv").write_text("user,item,rating\n")
    return ["data", "info", f"csv:{tmp / 'inter.csv'}"]


@case("internal-error", names="inter.parquet", says=("no rows",))
def case_parquet_zero_rows(tmp, ctx):
    pd.DataFrame({"user": pd.Series([], dtype=str), "item": pd.Series([], dtype=str)}).to_parquet(
        tmp / "inter.parquet")
    return ["data", "info", f"parquet:{tmp / 'inter.parquet'}"]


@case("internal-error", names="ratings.csv", says=("no rows",))
def case_ratings_csv_header_only(tmp, ctx):
    (tmp / "ml").mkdir()
    (tmp / "ml" / "ratings.csv").write_text("userId,movieId,rating,timestamp\n")
    return ["data", "info", f"movielens:{tmp / 'ml'}"]


@case("internal-error", names="u.data", says=("empty",))
def case_u_data_blank_lines_only(tmp, ctx):
    (tmp / "ml").mkdir()
    (tmp / "ml" / "u.data").write_text("\n\n\n \n")
    return ["data", "info", f"movielens:{tmp / 'ml'}"]


@case("internal-error", names="data.yaml", says=("unknown text encoding", "encoding"))
def case_unknown_encoding_csv(tmp, ctx):
    (tmp / "inter.csv").write_text(inter_csv())
    y = yaml_for(tmp, "format: csv\npath: inter.csv\noptions: {encoding: klingon-8}\n")
    return ["data", "info", str(y)]


@case("internal-error", names="data.yaml", says=("unknown text encoding", "item_encoding"))
def case_unknown_encoding_movielens(tmp, ctx):
    (tmp / "ml").mkdir()
    (tmp / "ml" / "u.data").write_text(U_DATA)
    y = yaml_for(tmp, f"format: movielens\npath: {tmp / 'ml'}\noptions: {{item_encoding: nope}}\n")
    return ["data", "info", str(y)]


@case("internal-error", names="data.yaml", says=("unknown text encoding", "encoding"))
def case_binary_codec_as_encoding(tmp, ctx):
    (tmp / "inter.csv").write_text(inter_csv())
    y = yaml_for(tmp, "format: csv\npath: inter.csv\noptions: {encoding: zlib_codec}\n")
    return ["data", "info", str(y)]


def _import_args(tmp: Path, vectors: Path) -> list[str]:
    (tmp / "inter.csv").write_text(inter_csv())
    (tmp / "ids.txt").write_text("\n".join(f"i{k}" for k in range(11)) + "\n")
    return ["text", "import", "--dataset", f"csv:{tmp / 'inter.csv'}", "--side", "item", "--vectors",
            str(vectors), "--ids", str(tmp / "ids.txt"), "--out", str(tmp / "out.npy")]


@case("internal-error", names="v.npy", says=("empty file",))
def case_import_empty_npy(tmp, ctx):
    (tmp / "v.npy").write_bytes(b"")
    return _import_args(tmp, tmp / "v.npy")


@case("internal-error", names="v.npy", says=("not a .npy",))
def case_import_garbled_npy(tmp, ctx):
    (tmp / "v.npy").write_bytes(b"\x93NUMPY\x01\x00garbage" + bytes(range(256)))
    return _import_args(tmp, tmp / "v.npy")


@case("internal-error", names="v.npy", says=("not a .npy",))
def case_import_text_as_npy(tmp, ctx):
    (tmp / "v.npy").write_text("0.1,0.2\n0.3,0.4\n")
    return _import_args(tmp, tmp / "v.npy")


@case("internal-error", names="v.npy", says=("truncated",))
def case_import_truncated_npy(tmp, ctx):
    buf = io.BytesIO()
    np.save(buf, np.ones((11, 4), dtype=np.float32))
    (tmp / "v.npy").write_bytes(buf.getvalue()[:-7])
    return _import_args(tmp, tmp / "v.npy")


@case("internal-error", names="v.npy", says=("object",))
def case_import_object_npy(tmp, ctx):
    np.save(tmp / "v.npy", np.array([{"a": 1}] * 11, dtype=object), allow_pickle=True)
    return _import_args(tmp, tmp / "v.npy")


@case("internal-error", names="ids.txt", says=("UTF-8",))
def case_import_binary_id_list(tmp, ctx):
    np.save(tmp / "v.npy", np.ones((11, 4), dtype=np.float32))
    argv = _import_args(tmp, tmp / "v.npy")
    (tmp / "ids.txt").write_bytes(b"\xff\xfe\x00i\x00d")
    return argv


@case("internal-error", names="fuserec.json", says=("name",))
def case_converted_missing_key(tmp, ctx):
    folder = converted(tmp)
    header_edit(folder, lambda h: h.pop("name"))
    return ["data", "info", str(folder)]


@case("internal-error", names="fuserec.json", says=("fields",))
def case_converted_mistyped_fields(tmp, ctx):
    folder = converted(tmp)
    header_edit(folder, lambda h: h.update(fields="genres"))
    return ["data", "info", str(folder)]


@case("internal-error", names="fuserec.json", says=("meta",))
def case_converted_mistyped_meta(tmp, ctx):
    folder = converted(tmp)
    header_edit(folder, lambda h: h.update(meta=[1, 2]))
    return ["data", "info", str(folder)]


@case("internal-error", names="fuserec.json", says=("fields[0]",))
def case_converted_bad_field_entry(tmp, ctx):
    folder = converted(tmp)
    header_edit(folder, lambda h: h.update(fields=[{"name": 3}]))
    return ["data", "info", str(folder)]


@case("internal-error", names="fuserec.json", says=("JSON object",))
def case_converted_header_is_a_list(tmp, ctx):
    folder = converted(tmp)
    (folder / "fuserec.json").write_text("[1, 2, 3]")
    return ["data", "info", str(folder)]


@case("internal-error", names="interactions.parquet", says=("right table",))
def case_converted_swapped_tables(tmp, ctx):
    folder = converted(tmp)
    a, b = folder / "interactions.parquet", folder / "users.parquet"
    data_a, data_b = a.read_bytes(), b.read_bytes()
    a.write_bytes(data_b)
    b.write_bytes(data_a)
    return ["data", "info", str(folder)]


@case("internal-error", names="items.parquet", says=("__id__",))
def case_converted_items_replaced_by_interactions(tmp, ctx):
    folder = converted(tmp)
    shutil.copy(folder / "interactions.parquet", folder / "items.parquet")
    return ["data", "info", str(folder)]


@case("internal-error", names="interactions.parquet", says=("outside",))
def case_converted_index_out_of_range(tmp, ctx):
    folder = converted(tmp)
    frame = pd.read_parquet(folder / "interactions.parquet")
    frame.loc[3, "item"] = 10 ** 6
    frame.to_parquet(folder / "interactions.parquet", index=False)
    return ["data", "info", str(folder)]


@case("internal-error", names="interactions.parquet", says=("dtype",))
def case_converted_mistyped_column(tmp, ctx):
    folder = converted(tmp)
    frame = pd.read_parquet(folder / "interactions.parquet")
    frame["user"] = frame["user"].astype(str)
    frame.to_parquet(folder / "interactions.parquet", index=False)
    return ["data", "info", str(folder)]


@case("internal-error", names="users.parquet")
def case_converted_garbled_table(tmp, ctx):
    folder = converted(tmp)
    (folder / "users.parquet").write_bytes(b"PAR1" + bytes(100) + b"PAR1")
    return ["data", "info", str(folder)]


for _cmd in ("evaluate", "recommend", "export"):
    def _wrong_shape(tmp, ctx, _cmd=_cmd):
        run = run_copy(tmp, ctx)
        state = weights_state(ctx)
        name = next(iter(state))
        t = state[name]
        state[name] = torch.zeros((t.shape[0] + 3, *t.shape[1:]))
        set_weights(run, state)
        extra = {"evaluate": [], "recommend": ["--user", "u1"], "export": ["--out", str(tmp / "e.parquet")]}[_cmd]
        return [_cmd, "--run", str(run), *extra]
    _wrong_shape.__name__ = f"case_checkpoint_wrong_shape_{_cmd}"
    case("internal-error", names="weights.pt", says=("size mismatch", "model."))(_wrong_shape)


@case("internal-error", names="weights.pt", says=("lacks",))
def case_checkpoint_missing_parameter(tmp, ctx):
    run = run_copy(tmp, ctx)
    state = weights_state(ctx)
    state.pop(next(iter(state)))
    set_weights(run, state)
    return ["evaluate", "--run", str(run)]


@case("internal-error", names="weights.pt", says=("not in the model",))
def case_checkpoint_unexpected_parameter(tmp, ctx):
    run = run_copy(tmp, ctx)
    state = weights_state(ctx)
    state["intruder.weight"] = torch.zeros(2)
    set_weights(run, state)
    return ["evaluate", "--run", str(run)]


@case("internal-error", names="weights.pt", says=("not a dict of tensors",))
def case_weights_not_a_state_dict(tmp, ctx):
    run = run_copy(tmp, ctx)
    set_weights(run, [1, 2, 3])
    return ["evaluate", "--run", str(run)]


# ====================================================================== declared sizes
for _kind in ("coo", "csr", "csc"):
    for _shape in ((10 ** 12, 10 ** 12), (300_000_000, 300_000_000), (2, 10 ** 12)):
        def _huge(tmp, ctx, _kind=_kind, _shape=_shape):
            return ["data", "info", f"irllrec:{irllrec_folder(tmp, _pickle_with_shape(_kind, _shape))}"]
        _huge.__name__ = f"case_pickle_{_kind}_shape_{_shape[0]:.0e}x{_shape[1]:.0e}"
        case("declared-size", names="trn_mat.pkl", says=("shape",))(_huge)


@case("declared-size", names="trn_mat.pkl", says=("indptr",))
def case_pickle_csr_indptr_short(tmp, ctx):
    m = sp.csr_matrix((np.ones(1), ([0], [0])), shape=(5, 5))
    m.indptr = np.array([0, 1], dtype=np.int32)
    return ["data", "info", f"irllrec:{irllrec_folder(tmp, pickle.dumps(m, protocol=4))}"]


@case("declared-size", names="trn_mat.pkl", says=("shape",))
def case_pickle_negative_shape(tmp, ctx):
    return ["data", "info", f"irllrec:{irllrec_folder(tmp, _pickle_with_shape('coo', (-5, 2)))}"]


@case("declared-size", names="trn_mat.pkl", says=("shape",))
def case_pickle_shape_not_ints(tmp, ctx):
    return ["data", "info", f"irllrec:{irllrec_folder(tmp, _pickle_with_shape('coo', (2.5, 'x')))}"]


for _shape in ((10 ** 7, 10 ** 7), (2 ** 62, 1), (5, 4)):
    def _npy(tmp, ctx, _shape=_shape):
        (tmp / "v.npy").write_bytes(npy_header(_shape, payload=bytes(64)))
        return _import_args(tmp, tmp / "v.npy")
    _npy.__name__ = f"case_npy_header_claims_{'x'.join(map(str, _shape))}"
    case("declared-size", names="v.npy", says=("declare",))(_npy)


@case("declared-size", names="v.npy", says=("negative",))
def case_npy_header_negative(tmp, ctx):
    (tmp / "v.npy").write_bytes(npy_header((-3, 4), payload=bytes(64)))
    return _import_args(tmp, tmp / "v.npy")


@case("declared-size", names="ground_truth.npz", says=("declare",))
def case_npz_member_claims_more(tmp, ctx):
    folder = converted(tmp)
    with zipfile.ZipFile(folder / "ground_truth.npz", "w") as z:
        z.writestr("user_taste.npy", npy_header((10 ** 9, 10 ** 3), payload=bytes(32)))
    return ["data", "info", str(folder)]


@case("declared-size", names="ground_truth.npz", says=("object",))
def case_npz_object_member(tmp, ctx):
    folder = converted(tmp)
    np.savez(folder / "ground_truth.npz", user_taste=np.array([{"a": 1}], dtype=object))
    return ["data", "info", str(folder)]


# ====================================================================== silently wrong before
@case("silently-wrong", names="inter.csv", says=("duplicate column",))
def case_csv_duplicate_column(tmp, ctx):
    body = inter_csv().replace("user,item,rating,timestamp", "user,item,rating,rating")
    (tmp / "inter.csv").write_text(body)
    return ["data", "info", f"csv:{tmp / 'inter.csv'}"]


@case("silently-wrong", names="ratings.csv", says=("duplicate column",))
def case_ratings_csv_duplicate_column(tmp, ctx):
    (tmp / "ml").mkdir()
    (tmp / "ml" / "ratings.csv").write_text(RATINGS.replace("rating,timestamp", "rating,rating"))
    return ["data", "info", f"movielens:{tmp / 'ml'}"]


@case("silently-wrong", names="inter.parquet", says=("duplicate column",))
def case_parquet_duplicate_column(tmp, ctx):
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table([pa.array(["a", "b"]), pa.array(["x", "y"]), pa.array([1.0, 2.0]), pa.array([3.0, 4.0])],
                     names=["user", "item", "rating", "rating"])
    pq.write_table(table, tmp / "inter.parquet")
    return ["data", "info", f"parquet:{tmp / 'inter.parquet'}"]


@case("silently-wrong", names="inter.parquet", says=("lists",))
def case_parquet_list_cells_as_user(tmp, ctx):
    frame = pd.DataFrame({"user": [[f"u{i % 3}", f"u{i % 5}"] for i in range(60)],
                          "item": [f"i{i}" for i in range(60)]})
    frame.to_parquet(tmp / "inter.parquet")
    return ["data", "info", f"parquet:{tmp / 'inter.parquet'}"]


@case("silently-wrong", names="inter.parquet", says=("lists",))
def case_parquet_struct_cells_as_rating(tmp, ctx):
    frame = pd.DataFrame({"user": ["a", "b"], "item": ["x", "y"], "rating": [{"v": 1}, {"v": 2}]})
    frame.to_parquet(tmp / "inter.parquet")
    return ["data", "info", f"parquet:{tmp / 'inter.parquet'}"]


@case("silently-wrong", names="data.yaml", says=("empty",))
def case_empty_dataset_yaml(tmp, ctx):
    y = yaml_for(tmp, "")
    return ["data", "convert", str(y), "--out", str(tmp / "out")]


@case("silently-wrong", names="data.yaml", says=("format",))
def case_dataset_yaml_without_format(tmp, ctx):
    y = yaml_for(tmp, "path: inter.csv\n")
    return ["data", "info", str(y)]


@case("silently-wrong", names="data.yaml", says=("empty",))
def case_dataset_yaml_only_comments(tmp, ctx):
    y = yaml_for(tmp, "# nothing here\n\n")
    return ["data", "info", str(y)]


@case("silently-wrong", names="u.item", code=0, says=("line 2",), warns=True)
def case_u_item_short_line(tmp, ctx):
    (tmp / "ml").mkdir()
    (tmp / "ml" / "u.data").write_text(U_DATA)
    (tmp / "ml" / "u.item").write_text(f"1|Toy Story (1995)|01-Jan-1995||http://x|{FLAGS}\n2|Heat (1995)\n")
    return ["data", "info", f"movielens:{tmp / 'ml'}"]


@case("silently-wrong", names="u.item", says=("line 2",))
def case_u_item_long_line(tmp, ctx):
    (tmp / "ml").mkdir()
    (tmp / "ml" / "u.data").write_text(U_DATA)
    (tmp / "ml" / "u.item").write_text(f"1|Toy Story (1995)|01-Jan-1995||http://x|{FLAGS}\n"
                                       f"2|Heat (1995)|01-Jan-1995||http://x|{FLAGS}|1|1\n")
    return ["data", "info", f"movielens:{tmp / 'ml'}"]


# ====================================================================== wrong location before
def _timestamps(tmp: Path, bad_row: int, value: str) -> Path:
    lines = inter_csv(80).splitlines()
    cells = lines[bad_row - 1].split(",")
    cells[3] = value
    lines[bad_row - 1] = ",".join(cells)
    (tmp / "inter.csv").write_text("\n".join(lines) + "\n")
    return tmp / "inter.csv"


for _row, _value in ((62, "abc"), (2, "yesterday"), (81, "12:00"), (40, "1e400"), (17, "")):
    def _ts(tmp, ctx, _row=_row, _value=_value):
        return ["data", "info", f"csv:{_timestamps(tmp, _row, _value)}"]
    _ts.__name__ = f"case_bad_timestamp_row_{_row}_{_value or 'empty'}"
    case("location", names="inter.csv", says=(f"row {_row}",) + ((repr(_value),) if _value else ()))(_ts)


@case("location", names="u.data", says=("row 3", "'x'"))
def case_u_data_bad_rating_row(tmp, ctx):
    (tmp / "ml").mkdir()
    (tmp / "ml" / "u.data").write_text(U_DATA.replace("2\t1\t4", "2\t1\tx"))
    return ["data", "info", f"movielens:{tmp / 'ml'}"]


# ====================================================================== one clean line
@case("one-line", names="bad.yaml", says=("not valid YAML",))
def case_invalid_yaml_config(tmp, ctx):
    (tmp / "bad.yaml").write_text("model:\n  dim: [1, 2\n  lr: {a: b\n")
    return ["train", "--config", str(tmp / "bad.yaml"), "--out", str(tmp / "r")]


@case("one-line", names="data.yaml", says=("not valid YAML",))
def case_invalid_yaml_dataset(tmp, ctx):
    y = yaml_for(tmp, "format: csv\npath: [x\n\tbad: : :\n")
    return ["data", "info", str(y)]


@case("one-line", names="weights.pt", says=("refused", "posix.system"))
def case_checkpoint_payload(tmp, ctx):
    run = run_copy(tmp, ctx)
    state = weights_state(ctx)
    state["extra"] = Payload()
    set_weights(run, state)
    return ["evaluate", "--run", str(run)]


@case("one-line", names="weights.pt", says=("refused", "Context"))
def case_checkpoint_custom_class(tmp, ctx):
    run = run_copy(tmp, ctx)
    state = weights_state(ctx)
    state["trainer"] = Context()
    set_weights(run, state)
    return ["recommend", "--run", str(run), "--user", "u1"]


@case("one-line", names="weights.pt", says=("empty weights file",))
def case_checkpoint_empty(tmp, ctx):
    run = run_copy(tmp, ctx)
    set_weights(run, b"")
    return ["evaluate", "--run", str(run)]


@case("one-line", names="weights.pt", says=("truncated",))
def case_checkpoint_truncated(tmp, ctx):
    run = run_copy(tmp, ctx)
    set_weights(run, (ctx.run / "model" / "weights.pt").read_bytes()[:300])
    return ["export", "--run", str(run)]


@case("one-line", names="weights.pt", says=("not a dict of tensors",))
def case_checkpoint_plain_tensor(tmp, ctx):
    run = run_copy(tmp, ctx)
    buf = io.BytesIO()
    torch.save(torch.zeros(3), buf)
    set_weights(run, buf.getvalue())
    return ["evaluate", "--run", str(run)]


@case("one-line", names="weights.pt", says=("cannot read weights file",))
def case_checkpoint_random_bytes(tmp, ctx):
    run = run_copy(tmp, ctx)
    set_weights(run, bytes(np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8)))
    return ["evaluate", "--run", str(run)]


@case("one-line", names="inter.csv", says=("overflows float32",))
def case_rating_1e308(tmp, ctx):
    (tmp / "inter.csv").write_text(inter_csv().replace(",u3,i3,4,", ",u3,i3,1e308,").replace(
        "u3,i3,4,", "u3,i3,1e308,"))
    return ["data", "info", f"csv:{tmp / 'inter.csv'}"]


@case("one-line", names="ratings.csv", says=("overflows float32", "row 3"))
def case_movielens_rating_1e308(tmp, ctx):
    (tmp / "ml").mkdir()
    (tmp / "ml" / "ratings.csv").write_text(RATINGS.replace("1,20,2.0", "1,20,1e308"))
    return ["data", "info", f"movielens:{tmp / 'ml'}"]


@case("one-line", names="u.data", says=("overflows float32",))
def case_u_data_rating_1e300_no_numpy_warning(tmp, ctx):
    (tmp / "ml").mkdir()
    (tmp / "ml" / "u.data").write_text(U_DATA.replace("1\t2\t3", "1\t2\t1e300"))
    return ["data", "info", f"movielens:{tmp / 'ml'}"]


@case("one-line", names="inter.csv", says=("not valid utf-8",))
def case_csv_latin1_bytes(tmp, ctx):
    (tmp / "inter.csv").write_bytes(inter_csv().replace("u1,", "u\xe91,").encode("latin-1"))
    return ["data", "info", f"csv:{tmp / 'inter.csv'}"]


@case("silently-wrong", names="users.parquet", says=("swapped",))
def case_converted_users_and_items_swapped(tmp, ctx):
    folder = converted(tmp)
    a, b = folder / "users.parquet", folder / "items.parquet"
    data_a, data_b = a.read_bytes(), b.read_bytes()
    a.write_bytes(data_b)
    b.write_bytes(data_a)
    return ["data", "info", str(folder)]


@case("declared-size", names="fuserec.json", says=("counts",))
def case_converted_counts_mistyped(tmp, ctx):
    folder = converted(tmp)
    header_edit(folder, lambda h: h.update(counts={"users": -5}))
    return ["data", "info", str(folder)]
