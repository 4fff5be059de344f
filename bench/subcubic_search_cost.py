"""Cost of one subcubic configuration's gap search, projected from sampled blocks where it is too long to run.

    python bench/subcubic_search_cost.py MODEL [--strategy NAME] [--sample-blocks N]

The gap search (``prover/subcubic_search.py``) evaluates its candidate cases ``(q, m, c, g)`` in blocks of
consecutive max tokens (at most ``BLOCK_CASES`` candidates each). This benchmark sets the configuration
up (hints, tables, EQKE decomposition: timed), then runs the search's per-block work, the attention
claims and every pass over the case bounds, on ``N`` blocks spread evenly over the max tokens, and
projects the whole search by candidate count: (sampled seconds / sampled candidates) x all candidates.
With ``--sample-blocks 0`` every block runs and nothing is projected. Prints the peak resident memory of
this process (the search holds one block at a time). No certificate is written: the final verification
pass over the chosen cases (``V^2 n`` of them, small beside the search) is not included.
"""

from __future__ import annotations

import argparse
import resource
import time
from pathlib import Path

import numpy as np
import torch

from certificates.model_file import load_model
from checker.strategies.subcubic import parse_name
from prover.strategies.subcubic import search_setup
from prover.subcubic_search import BLOCK_CASES, candidates_per_max, chosen_gaps

DEFAULT_STRATEGY = "subcubic/EUPU=max-diff-exact,attn=mean-query+diff,attn-err=exact"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", type=Path)
    parser.add_argument("--strategy", default=DEFAULT_STRATEGY)
    parser.add_argument("--sample-blocks", type=int, default=8, help="blocks to run (0: all)")
    args = parser.parse_args()

    weights = load_model(args.model)
    direct, attention, attention_error = parse_name(args.strategy)
    start = time.perf_counter()
    setup = search_setup(weights, direct, attention_error, torch.device("cpu"))
    setup_seconds = time.perf_counter() - start

    per_max = candidates_per_max(weights.d_vocab, weights.n_ctx)
    blocks = setup.candidates.maxima
    picks = range(len(blocks))
    if 0 < args.sample_blocks < len(blocks):
        picks = sorted({round(i) for i in np.linspace(0, len(blocks) - 1, args.sample_blocks)})
    sampled_cases, sampled_seconds = 0, 0.0
    for index in picks:
        start = time.perf_counter()
        block = setup.candidates.block(blocks[index])
        chosen_gaps(setup.inputs, [block], attention == "mean-query+diff")
        sampled_seconds += time.perf_counter() - start
        sampled_cases += int(per_max[blocks[index]].sum())

    total = int(per_max.sum())
    projected = sampled_seconds / max(sampled_cases, 1) * total
    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(f"model {args.model.name}: K = {weights.n_ctx}, V = {weights.d_vocab}; {args.strategy}")
    print(f"candidates {total:,} in {len(blocks)} blocks of at most {BLOCK_CASES:,}")
    print(f"set-up {setup_seconds:.1f} s")
    print(f"ran {len(picks)} blocks ({sampled_cases:,} candidates) in {sampled_seconds:.1f} s: "
          f"{sampled_seconds / max(sampled_cases, 1) * 1e6:.2f} us per candidate")
    label = "measured" if len(picks) == len(blocks) else "projected"
    print(f"search, {label}: {projected:.0f} s ({projected / 3600:.2f} h) on one core; peak memory {peak_gb:.2f} GB")


if __name__ == "__main__":
    main()
