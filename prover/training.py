"""Training the Max-of-K model zoo with the recipe of SPEC section 7.

Recipe: one layer, one head, attention only, d_head = d_model, no LayerNorm; every weight matrix drawn
from N(0, (0.8/sqrt(d_model))^2) (TransformerLens's default initializer range), biases zero and
frozen; AdamW (lr 1e-3, betas (0.9, 0.999), weight decay 0.01); batches of 128 sequences of iid
uniform tokens; cross-entropy at the last position against the maximum token.

Determinism: all randomness (initialisation, then the batches) comes from one ``torch.Generator``
seeded with the seed, so the global RNG is neither used nor touched; training runs single-threaded
with deterministic algorithms, so a model does not depend on the core count or on ``--jobs``. Bits
can still differ across CPU instruction sets (the kernels torch dispatches to) and torch versions.
"""

from __future__ import annotations

import importlib.metadata
import math
import multiprocessing
import re
from collections.abc import Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from contextlib import contextmanager
from pathlib import Path

import torch
from torch.nn.functional import cross_entropy

from certificates.model_file import load_model
from prover.model import AttentionOnlyTransformer
from prover.progress import progress as progress_bar
from prover.writers import save_model

BATCH_SIZE = 128
LR = 1e-3
BETAS = (0.9, 0.999)
WEIGHT_DECAY = 0.01
INIT_GAIN = 0.8
MAX_SEED = 2**63 - 1


def _package_version() -> str:
    """The installed compact-proofs version, else the one in the source tree's pyproject.toml."""
    try:
        return importlib.metadata.version("compact-proofs")
    except importlib.metadata.PackageNotFoundError:
        pyproject = Path(__file__).resolve().parents[1] / "pyproject.toml"
        text = pyproject.read_text(encoding="utf-8") if pyproject.is_file() else ""
        match = re.search(r'^version\s*=\s*"([^"]+)"', text, flags=re.MULTILINE)
        return match.group(1) if match else "unknown"


def check_recipe(seed: int, *, k: int, d_vocab: int, d_model: int, steps: int) -> None:
    """Raise ValueError unless the seed and sizes describe a trainable Max-of-K model."""
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
        raise ValueError(f"seed must be an integer in 0..{MAX_SEED}, got {seed!r}")
    for name, value, least in (
        ("k", k, 1),
        ("d_vocab", d_vocab, 2),
        ("d_model", d_model, 1),
        ("steps", steps, 1),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or value < least:
            raise ValueError(f"{name} must be an integer >= {least}, got {value!r}")


def model_filename(seed: int, *, k: int, d_vocab: int, d_model: int) -> str:
    """The zoo's file name for one model, e.g. ``max4-v64-d32-seed123.safetensors``."""
    return f"max{k}-v{d_vocab}-d{d_model}-seed{seed}.safetensors"


def training_config(seed: int, *, k: int, d_vocab: int, d_model: int, steps: int) -> dict:
    """The config metadata stored with a trained model (JSON numbers are ints; floats are strings)."""
    return {
        "task": "max",
        "d_vocab": d_vocab,
        "n_ctx": k,
        "d_model": d_model,
        "d_head": d_model,
        "n_heads": 1,
        "n_layers": 1,
        "attn_only": True,
        "normalization_type": None,
        "seed": seed,
        "steps": steps,
        "batch_size": BATCH_SIZE,
        "lr": str(LR),
        "weight_decay": str(WEIGHT_DECAY),
        "init_std": f"{INIT_GAIN}/sqrt(d_model)",
        "trainer": f"compact-proofs {_package_version()}",
    }


@contextmanager
def _deterministic_single_thread() -> Iterator[None]:
    """Run torch single-threaded with deterministic algorithms; restore the caller's settings after."""
    threads = torch.get_num_threads()
    deterministic = torch.are_deterministic_algorithms_enabled()
    warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(deterministic, warn_only=warn_only)
        torch.set_num_threads(threads)


def _initialise(model: AttentionOnlyTransformer, generator: torch.Generator) -> None:
    """Draw every weight matrix from N(0, (INIT_GAIN/sqrt(d_model))^2) in state-dict order; zero and
    freeze every bias."""
    std = INIT_GAIN / math.sqrt(model.d_model)
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if name.rsplit(".", 1)[1].startswith("W_"):
                parameter.normal_(0.0, std, generator=generator)
            else:
                parameter.zero_()
                parameter.requires_grad_(False)


def train_model(
    seed: int,
    *,
    k: int = 4,
    d_vocab: int = 64,
    d_model: int = 32,
    steps: int = 3000,
    progress: bool = True,
) -> AttentionOnlyTransformer:
    """Train one float32 Max-of-``k`` model over ``d_vocab`` tokens; the same arguments give the same
    bits on the same machine. ``progress`` shows a bar when stderr is a terminal."""
    check_recipe(seed, k=k, d_vocab=d_vocab, d_model=d_model, steps=steps)
    generator = torch.Generator().manual_seed(seed)
    model = AttentionOnlyTransformer(d_vocab, k, d_model, d_model)
    with _deterministic_single_thread():
        _initialise(model, generator)
        trainable = [parameter for parameter in model.parameters() if parameter.requires_grad]
        optimiser = torch.optim.AdamW(trainable, lr=LR, betas=BETAS, weight_decay=WEIGHT_DECAY)
        bar = progress_bar(range(steps), desc=f"seed {seed}", enabled=None if progress else False, leave=False)
        for _ in bar:
            tokens = torch.randint(0, d_vocab, (BATCH_SIZE, k), generator=generator)
            loss = cross_entropy(model.last_logits(tokens), tokens.max(dim=-1).values)
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
    return model


def _train_and_save(seed: int, path: Path, *, k: int, d_vocab: int, d_model: int, steps: int, progress: bool) -> None:
    """Train one zoo model and write it atomically to ``path`` (a worker of ``train_zoo``)."""
    model = train_model(seed, k=k, d_vocab=d_vocab, d_model=d_model, steps=steps, progress=progress)
    save_model(path, model.to_tensors(), training_config(seed, k=k, d_vocab=d_vocab, d_model=d_model, steps=steps))


def _check_finished(path: Path, expected: dict) -> None:
    """Raise ValueError if the finished model at ``path`` was trained with another recipe than ``expected``
    (the trainer version may differ)."""
    found = load_model(path).config
    for key, value in expected.items():
        if key != "trainer" and found.get(key) != value:
            raise ValueError(
                f"{path} exists but was trained with {key}={found.get(key)!r}, not {value!r}; "
                "remove it or choose another output directory"
            )


def train_zoo(
    seeds: Iterable[int],
    out_dir: str | Path,
    *,
    k: int = 4,
    d_vocab: int = 64,
    d_model: int = 32,
    steps: int = 3000,
    progress: bool = True,
    jobs: int = 1,
) -> list[Path]:
    """Train one model per seed into ``out_dir``; return the model paths in the order of ``seeds``.

    Resumable: a model whose file already exists is not retrained (files are written atomically, so
    an existing file is a finished one); its stored recipe must match, else ValueError (and
    ModelFileError if it is not a valid model file). Every input error (bad seed, duplicate seed, bad
    size, mismatched or invalid existing file) is raised before any training.
    ``jobs`` > 1 trains in that many worker processes, with the same bits as ``jobs`` = 1.
    """
    seeds = list(seeds)
    for seed in seeds:
        check_recipe(seed, k=k, d_vocab=d_vocab, d_model=d_model, steps=steps)
    if len(set(seeds)) != len(seeds):
        raise ValueError("duplicate seeds: " + ", ".join(str(s) for s in sorted(set(seeds)) if seeds.count(s) > 1))
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"jobs must be an integer >= 1, got {jobs!r}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / model_filename(seed, k=k, d_vocab=d_vocab, d_model=d_model) for seed in seeds]
    todo = []
    for seed, path in zip(seeds, paths, strict=True):
        if path.exists():
            _check_finished(path, training_config(seed, k=k, d_vocab=d_vocab, d_model=d_model, steps=steps))
        else:
            todo.append((seed, path))

    recipe = {"k": k, "d_vocab": d_vocab, "d_model": d_model, "steps": steps}
    enabled = None if progress else False
    if jobs == 1 or len(todo) <= 1:
        for seed, path in progress_bar(todo, desc="zoo", enabled=enabled):
            _train_and_save(seed, path, **recipe, progress=progress)
    else:
        # spawn, not fork: a forked child inherits torch's thread pools in an undefined state.
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=min(jobs, len(todo)), mp_context=context) as pool:
            futures = [pool.submit(_train_and_save, seed, path, **recipe, progress=False) for seed, path in todo]
            for future in progress_bar(as_completed(futures), total=len(futures), desc="zoo", enabled=enabled):
                future.result()
    return paths
