"""Text embedding throughput: the fuserec pipeline against sentence-transformers called directly.

Texts: the template item profiles of the first 1,000 ML-100K movies (or any SOURCE/side/N). For each of ``--repeats``
rounds (interleaved, so machine load hits both alike):

* direct: ``SentenceTransformer.encode`` on the texts (batch 64, normalised, no progress bar);
* pipeline: :func:`fuserec.text.api.embed_table` into an empty cache (text hashing, encoding,
  atomic ``.npy`` + sidecar write).

Then the whole text_embeddings path (facts, generation, encoding; for the same entities) into an
empty cache once, and re-run on the warm cache ``--repeats`` times (nothing recomputed).
Targets: pipeline throughput ≥ 0.95 × direct; cached re-run < 5 % of the first run.
One torch thread; ``os.getloadavg()`` recorded (other jobs share this machine).

    python benchmarks/bench_text_embed.py [--dataset SOURCE] [--side item] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import tempfile
import time
from pathlib import Path

import torch
from _machine import data_dir  # noqa: E402  (benchmarks/ is on sys.path when a script here runs)

RESULTS = Path(__file__).parent / "results"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default=f"atomic:{data_dir() / 'movielens' / 'ml-100k'}",
                        help="dataset SOURCE (default: ML-100K under $FUSEREC_DATA or ../shared/data)")
    parser.add_argument("--side", default="item", choices=("user", "item"))
    parser.add_argument("--kind", default="profile", choices=("profile", "intent"))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--max-texts", type=int, default=1000, help="first N users/items (default 1000)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", default=str(RESULTS / "text_embed"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    from fuserec.data.sources import load_dataset
    from fuserec.text import generate_texts
    from fuserec.text.api import embed_table
    from fuserec.text.encode import SentenceEncoder

    load_before = os.getloadavg()
    dataset = load_dataset(args.dataset)
    work = Path(tempfile.mkdtemp(prefix="bench_text_"))
    n_side = dataset.n_users if args.side == "user" else dataset.n_items
    entities = list(range(min(args.max_texts, n_side)))

    def full_run(cache_dir: Path):
        """What text_embeddings does, for the first N entities: facts, texts, vectors (all cached)."""
        tab = generate_texts(dataset, args.kind, args.side, "template", cache_dir, entities=entities, progress=False)
        return embed_table(dataset, tab, encoder, cache_dir)[0]

    table = generate_texts(dataset, args.kind, args.side, "template", work / "texts", entities=entities,
                           progress=False)
    texts = table.texts()
    encoder = SentenceEncoder(batch_size=args.batch_size, show_progress=False)
    model = encoder.model  # loaded once, shared by both paths
    model.encode(texts[:64], batch_size=args.batch_size)  # warm-up

    # 1. The whole path once into an empty cache, then re-run on the warm cache.
    full_cache = work / "full"
    start = time.perf_counter()
    first_vecs = full_run(full_cache)
    first = time.perf_counter() - start
    cached = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        again = full_run(full_cache)
        cached.append(time.perf_counter() - start)
        assert (again == first_vecs).all()
    print(f"full path: first {first:.2f} s, cached re-runs {', '.join(f'{x:.3f}' for x in cached)} s")

    # 2. Interleaved rounds: direct sentence-transformers, then the pipeline into an empty cache.
    direct, pipeline, embed_cached = [], [], []
    for r in range(args.repeats):
        start = time.perf_counter()
        ref = model.encode(texts, batch_size=args.batch_size, normalize_embeddings=True, convert_to_numpy=True,
                           show_progress_bar=False)
        direct.append(time.perf_counter() - start)
        start = time.perf_counter()
        vecs, n_new = embed_table(dataset, table, encoder, work / f"pipe{r}")
        pipeline.append(time.perf_counter() - start)
        assert n_new == len(set(texts)) and vecs.shape == ref.shape
        start = time.perf_counter()
        _, n_again = embed_table(dataset, table, encoder, work / f"pipe{r}")
        embed_cached.append(time.perf_counter() - start)
        assert n_again == 0
        max_diff = float(abs(vecs - ref).max())
        print(f"round {r + 1}: direct {direct[-1]:.2f} s, pipeline {pipeline[-1]:.2f} s, "
              f"pipeline cached {embed_cached[-1]:.3f} s, max |diff| {max_diff:.2e}", flush=True)
        write_results(args, dataset, texts, encoder, first_vecs, first, cached, direct, pipeline, embed_cached,
                      load_before)


def write_results(args, dataset, texts, encoder, first_vecs, first, cached, direct, pipeline, embed_cached,
                  load_before) -> None:
    """Write the JSON and Markdown results (after every round, so a cut-short run still reports)."""
    from fuserec.io import atomic_write_json, atomic_write_text

    n = len(texts)
    med_d, med_p = statistics.median(direct), statistics.median(pipeline)
    result = {
        "benchmark": "text_embed",
        "dataset": dataset.name, "texts": f"template {args.side} {args.kind}s", "n_texts": n,
        "mean_words": round(sum(len(t.split()) for t in texts) / n, 1),
        "model": encoder.name, "dimension": int(first_vecs.shape[1]), "batch_size": args.batch_size,
        "torch_threads": torch.get_num_threads(), "repeats_done": len(direct), "repeats_planned": args.repeats,
        "direct_seconds": direct, "pipeline_seconds": pipeline,
        "direct_texts_per_s": round(n / med_d, 1), "pipeline_texts_per_s": round(n / med_p, 1),
        "pipeline_over_direct": round(med_d / med_p, 3), "target_pipeline_over_direct": 0.95,
        "full_first_run_seconds": round(first, 3), "full_cached_rerun_seconds": cached,
        "cached_over_first": round(statistics.median(cached) / first, 4), "target_cached_over_first": 0.05,
        "embed_stage_cached_seconds": embed_cached,
        "embed_stage_cached_over_first": round(statistics.median(embed_cached) / med_p, 4),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "loadavg_before": load_before, "loadavg_after": os.getloadavg(), "cpu_count": os.cpu_count(),
        "machine": platform.platform(), "python": platform.python_version(), "torch": torch.__version__,
        "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    atomic_write_json(args.out + ".json", result)
    md = [
        "# Text embedding benchmark", "",
        f"{n} {result['texts']} of {dataset.name} (mean {result['mean_words']} words), {encoder.name} "
        f"({result['dimension']}-d), batch {args.batch_size}, {result['torch_threads']} torch thread, "
        f"median of {len(direct)} interleaved runs (of {args.repeats} planned). Load average before/after: "
        f"{', '.join(f'{x:.1f}' for x in load_before)} / {', '.join(f'{x:.1f}' for x in result['loadavg_after'])} "
        f"on {os.cpu_count()} cores (other jobs shared the machine: absolute speeds are low, the ratios "
        "are what the runs compare).", "",
        "| measure | value | target |", "|---|---|---|",
        f"| direct sentence-transformers | {result['direct_texts_per_s']} texts/s | |",
        f"| fuserec pipeline (hash + encode + cache write) | {result['pipeline_texts_per_s']} texts/s | |",
        f"| pipeline / direct | {result['pipeline_over_direct']} | ≥ 0.95 |",
        f"| full text_embeddings path, first run (facts + texts + vectors) | {first:.2f} s | |",
        f"| full text_embeddings path, cached re-run (median) | {statistics.median(cached):.3f} s | |",
        f"| cached / first | {result['cached_over_first']:.2%} | < 5 % |",
        f"| embedding stage only, cached / first | {result['embed_stage_cached_over_first']:.2%} | |",
        f"| peak RSS | {result['peak_rss_mib']} MiB | |", "",
        f"Runs (s): direct {', '.join(f'{x:.2f}' for x in direct)}; pipeline "
        f"{', '.join(f'{x:.2f}' for x in pipeline)}; full cached re-runs {', '.join(f'{x:.3f}' for x in cached)}.",
        "sentence-transformers sorts each encode call by length itself, so the pipeline passes texts as they are.",
        f"Machine: {result['machine']}, Python {result['python']}, torch {result['torch']}, {result['date_utc']}.", "",
    ]
    atomic_write_text(args.out + ".md", "\n".join(md))
    print("\n".join(md), flush=True)


if __name__ == "__main__":
    main()
