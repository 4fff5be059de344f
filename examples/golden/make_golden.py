"""Regenerate the golden examples: a tiny trained model, one certificate per strategy family, a few hostile
variants, and the checker's expected answer for each (``expected.json``).

Run from the repository root, only when the certificates or the cost model change on purpose:

    python examples/golden/make_golden.py

``tests/test_golden.py`` then checks, drat-trim style, that the ``check`` command answers exactly
``expected.json`` for every file (verdict, counts, FLOPs, message), and for the brute force in shards of
depth 0 in ``shards/`` (``check --shards``). The model is trained by the zoo's recipe (seed 0, Max-of-3,
V = 8, d = 8, 1,500 steps); its brute force certifies 511 of the 512 inputs.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import torch

from certificates.codec import Shard, TraceStep
from certificates.model_file import load_model
from checker.kernel.flops import COST_MODEL_VERSION
from checker.shard_set import check_shard_set
from checker.verify import DEFAULT_LIMITS, check_bytes, read_model
from prover import strategies
from prover.certify import prove
from prover.demo import DEFAULT_STRATEGIES
from prover.shards import shard_filename
from prover.training import train_model, training_config
from prover.writers import encode_certificate, save_model, write_bytes_atomic

HERE = Path(__file__).resolve().parent
SEED, K, D_VOCAB, D_MODEL, STEPS = 0, 3, 8, 8, 1500
MODEL = HERE / "model.safetensors"
SHARDS = HERE / "shards"
EXPECTED = HERE / "expected.json"


def file_name(strategy: str) -> str:
    return strategy.replace("/", "_").replace(",", "_").replace("=", "-") + ".cert"


def with_array(certificate, step: str, array: str, change) -> object:
    """The certificate with one trace array replaced by ``change(copy of it)``."""
    trace = []
    for item in certificate.trace:
        if item.step == step:
            values = item.arrays[array].copy()
            item = TraceStep(item.step, item.arrays | {array: change(values)})
        trace.append(item)
    return dataclasses.replace(certificate, trace=tuple(trace))


def set_first(value):
    def change(values: np.ndarray) -> np.ndarray:
        values.reshape(-1)[0] = value
        return values
    return change


def main() -> None:
    model = train_model(SEED, k=K, d_vocab=D_VOCAB, d_model=D_MODEL, steps=STEPS, progress=False)
    save_model(MODEL, model.to_tensors(), training_config(SEED, k=K, d_vocab=D_VOCAB, d_model=D_MODEL, steps=STEPS))
    weights, checked = load_model(MODEL), read_model(MODEL)
    proofs = {name: prove(weights, strategies.lookup(name), torch.device("cpu"))[0] for name in DEFAULT_STRATEGIES}
    cubic, chord, brute = proofs["cubic"], proofs["cubic-ov-chord"], proofs["brute-force"]
    subcubic = proofs[DEFAULT_STRATEGIES[3]]
    hostile = {
        "invalid-claim-above-the-proof.cert": dataclasses.replace(cubic, claim_correct=cubic.claim_correct + 1),
        "invalid-bound-below-its-enclosure.cert": with_array(subcubic, "bounds", "bound", set_first(-1.0e30)),
        "invalid-chord-weight-zero.cert": with_array(chord, "chords", "weight", set_first(0.0)),
        "invalid-listed-failure-out-of-range.cert": with_array(brute, "failures", "sequences", set_first(-1)),
        "error-old-cost-model.cert": dataclasses.replace(cubic, cost_model=1),
        "error-shard-index-out-of-range.cert": dataclasses.replace(brute, shard=Shard(depth=0, index=D_VOCAB)),
    }
    files = {file_name(name): certificate for name, certificate in proofs.items()} | hostile
    expected = []
    for name, certificate in files.items():
        certificate = dataclasses.replace(certificate, info={"prover": "examples/golden/make_golden.py"})
        data = encode_certificate(certificate)
        write_bytes_atomic(HERE / name, data)
        verdict = check_bytes(data, checked, name=name)
        expected.append({
            "file": name, "strategy": verdict.strategy, "status": verdict.status, "claimed": verdict.claimed,
            "certified_count": verdict.certified_count, "flops": verdict.flops,
            "bookkeeping_ops": verdict.bookkeeping, "message": verdict.message,
        })
    summary = {"model": MODEL.name, "model_digest": weights.digest, "cost_model": COST_MODEL_VERSION,
               "certificates": expected, "shard_set": shard_set(weights, checked)}
    write_bytes_atomic(EXPECTED, (json.dumps(summary, indent=1) + "\n").encode())


def shard_set(weights, checked) -> dict[str, object]:
    """Write the brute-force shards of depth 0 into SHARDS; the checker's expected answer on the set."""
    SHARDS.mkdir(exist_ok=True)
    for index in range(D_VOCAB):
        certificate, _ = prove(weights, strategies.lookup("brute-force"), torch.device("cpu"), Shard(0, index))
        certificate = dataclasses.replace(certificate, info={"prover": "examples/golden/make_golden.py"})
        write_bytes_atomic(SHARDS / shard_filename(0, index, D_VOCAB), encode_certificate(certificate))
    verdict = check_shard_set(sorted(SHARDS.glob("*.cert")), checked, DEFAULT_LIMITS)
    return {"directory": SHARDS.name, "status": verdict.status, "claimed": verdict.claimed,
            "certified_count": verdict.certified_count, "flops": verdict.flops, "message": verdict.message}


if __name__ == "__main__":
    main()
