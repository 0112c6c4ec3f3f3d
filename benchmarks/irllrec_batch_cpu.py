"""Process CPU and wall ms per IRLLRec training batch (384-d random text, Amazon-book, batch 4096,
1 thread): median of N batches after one warm-up, one Adam step each. Prints one JSON line.

For A/B timing of two versions of the code, alternate the trees on PYTHONPATH, e.g.::

    for i in 1 2 3; do
        PYTHONPATH=/path/to/old/tree python benchmarks/irllrec_batch_cpu.py '{}' 8
        PYTHONPATH=. python benchmarks/irllrec_batch_cpu.py '{}' 8
    done

Arguments: a JSON object of model overrides (default ``{}``) and N (default 8).
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
import warnings

import torch
from _machine import data_dir  # noqa: E402  (benchmarks/ is on sys.path when a script here runs)
from bench_irllrec import epoch_batches  # noqa: E402


def main() -> None:
    warnings.filterwarnings("ignore")
    torch.set_num_threads(1)
    from fuserec.config import from_dict
    from fuserec.data import load_dataset
    from fuserec.models import get_model

    dataset = load_dataset(f"irllrec:{data_dir() / 'irllrec' / 'amazon'}")
    cls = get_model("irllrec")
    cfg = {"profile_source": "random:384", "intent_source": "random:384"}
    cfg.update(json.loads(sys.argv[1]) if len(sys.argv) > 1 else {})
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 8
    torch.manual_seed(0)
    from fuserec.prepare import prepare_inputs

    cfg = from_dict(cls.Config, cfg)
    model = cls(prepare_inputs(dataset, cls, cfg, cache=False), cfg)
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-3)
    model.train()
    batches = epoch_batches(dataset, 4096, 0)

    def step(batch):
        opt.zero_grad(set_to_none=True)
        model.loss(batch)["loss"].backward()
        opt.step()
        model.on_step_end(0)

    step(batches[0])
    cpu, wall = [], []
    for batch in batches[1:1 + n]:
        c0, w0 = time.process_time(), time.perf_counter()
        step(batch)
        cpu.append(time.process_time() - c0)
        wall.append(time.perf_counter() - w0)
    print(json.dumps({"cpu_ms": statistics.median(cpu) * 1000, "wall_ms": statistics.median(wall) * 1000,
                      "batches": n, "load": os.getloadavg()[0]}))


if __name__ == "__main__":
    main()
