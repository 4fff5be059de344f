#!/usr/bin/env python
"""Run the CUBIC proof of Gross et al. 2024 (their published code, gbmi @ fb5b181, or a
copy with cubic.py taken from bd79dde~1 = before "Fix cubic proof") on a compact-proofs
safetensors Max-of-K model.

Mirrors notebooks_jason/max_of_K_all_models.py, get_cubic_row (lines ~1493-1534):
    cubic_proof_args = cubic.find_proof(model)
    cubic.verify_proof(model, cubic_proof_args, pbar=pbar, print_complexity=False,
                       print_results=False, include_perf=PERF_WORKING)
and reports cubic_proof_results["correct_count_lower_bound"] / ["accuracy_lower_bound"] /
["prooftime"], plus the wall seconds of find_proof + verify_proof.

Usage:
  python run_paper_cubic.py --src gbmi_src    MODEL.safetensors [MODEL ...] [--out f.csv]
  python run_paper_cubic.py --src gbmi_prefix MODEL.safetensors ...
"""
import argparse
import csv
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))

ap = argparse.ArgumentParser()
ap.add_argument("models", nargs="+")
ap.add_argument("--src", default=os.environ.get("GBMI_SRC", "gbmi_src"), help="the paper's source (default $GBMI_SRC)")
ap.add_argument("--out", default=None)
ap.add_argument("--threads", type=int, default=0)
args = ap.parse_args()

sys.path.insert(0, os.path.join(HERE, args.src))

import gbmi.exp_max_of_n.verification.cubic as cubic  # noqa: E402
import torch  # noqa: E402
from gbmi.utils.instructions import PERF_WORKING  # noqa: E402
from tl_model import load_model  # noqa: E402
from tqdm.auto import tqdm  # noqa: E402

assert os.path.abspath(cubic.__file__).startswith(os.path.join(HERE, args.src) + os.sep), cubic.__file__

if args.threads:
    torch.set_num_threads(args.threads)


rows = []
for path in args.models:
    model, meta = load_model(path)
    d_vocab, n_ctx = model.cfg.d_vocab, model.cfg.n_ctx
    k = d_vocab - 2
    t0 = time.time()
    with torch.no_grad():  # as _find_proof in the notebook
        proof_args = cubic.find_proof(model)
    with tqdm(total=k * (k + 1) * (k * 2 + 1) // 6, desc="batches for cubic",
              disable=True) as pbar:
        res = cubic.verify_proof(
            model,
            proof_args,
            pbar=pbar,
            print_complexity=False,
            print_results=False,
            include_perf=PERF_WORKING,
        )
    wall = time.time() - t0
    row = {
        "model": os.path.basename(path),
        "src": args.src,
        "correct_count_lower_bound": int(res["correct_count_lower_bound"]),
        "total_sequences": int(res["total_sequences"]),
        "accuracy_lower_bound": float(res["accuracy_lower_bound"]),
        "prooftime_s": round(float(res["prooftime"]), 3),
        "wall_s": round(wall, 3),
        "torch_threads": torch.get_num_threads(),
        "PERF_WORKING": PERF_WORKING,
    }
    print(json.dumps(row), flush=True)
    rows.append(row)

if args.out:
    new = not os.path.exists(args.out)
    with open(args.out, "a", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0].keys()))
        if new:
            w.writeheader()
        w.writerows(rows)
