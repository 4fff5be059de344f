"""Run a registered strategy on a model and wrap its result into a certificate."""

from __future__ import annotations

import subprocess
import time
from importlib import metadata
from pathlib import Path

import torch

from certificates.codec import Certificate, Shard
from certificates.model_file import ModelWeights
from checker import strategies as checker_strategies
from checker.kernel.flops import COST_MODEL_VERSION
from checker.schema import Sizes
from checker.shards import shard_scope
from prover.strategies import ProofInput, StrategyInfo
from prover.writers import statement_for


def default_device() -> torch.device:
    """CUDA when present, else the CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def prover_version() -> str:
    try:
        return f"compact-proofs {metadata.version('compact-proofs')}"
    except metadata.PackageNotFoundError:
        return "compact-proofs (not installed)"


def git_revision() -> str:
    """The source checkout's git revision, or "unknown" outside a checkout."""
    try:
        result = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=Path(__file__).resolve().parent, capture_output=True, text=True, timeout=5, check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return result.stdout.strip() or "unknown"


def prove(
    weights: ModelWeights, strategy: StrategyInfo, device: torch.device, shard: Shard | None = None
) -> tuple[Certificate, float]:
    """Run ``strategy`` on ``weights`` (on one ``shard`` of the input space, :mod:`checker.shards`, if
    given); return the certificate and the proving seconds. The trace is written through the checker's
    schema of the strategy (ValueError if it does not fit, or if the strategy has no shards)."""
    checked = checker_strategies.lookup(strategy.name)
    if checked is None:
        raise ValueError(f"the checker has no strategy {strategy.name!r}")
    proof_input = ProofInput(weights=weights, device=device)
    start = time.perf_counter()
    if shard is None:
        output = strategy.prove(proof_input)
    elif strategy.prove_shard is None:
        raise ValueError(f"strategy {strategy.name!r} has no shard certificates")
    else:
        output = strategy.prove_shard(proof_input, shard_scope(shard, weights.d_vocab, weights.n_ctx))
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    seconds = time.perf_counter() - start
    certificate = Certificate(
        statement=statement_for(weights),
        strategy_name=strategy.name,
        strategy_params=output.params,
        claim_correct=int(output.claim_correct),
        trace=checked.schema.write(output.trace, Sizes.of(weights)),
        cost_model=COST_MODEL_VERSION,
        info={
            "prover": prover_version(),
            "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
            "seconds": round(seconds, 4),
            "git_revision": git_revision(),
        },
        shard=shard,
    )
    return certificate, seconds
