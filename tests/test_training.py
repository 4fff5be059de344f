"""Training and the zoo: bit-for-bit determinism, frozen biases, resumability, and ``zoo train``."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from certificates.model_file import load_model
from prover.training import train_model, train_zoo, training_config
from prover.zoo_cli import main

SMALL = {"k": 3, "d_vocab": 8, "d_model": 8, "steps": 50}
SMALL_ARGS = ["--k", "3", "--d-vocab", "8", "--d-model", "8", "--steps", "50", "--no-progress"]


def small_model(seed: int) -> dict[str, np.ndarray]:
    return train_model(seed, **SMALL, progress=False).to_tensors()


def assert_same_tensors(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> None:
    assert a.keys() == b.keys()
    for name in a:
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)


def test_training_is_deterministic_per_seed() -> None:
    first, again, other = small_model(7), small_model(7), small_model(8)
    assert_same_tensors(first, again)
    assert not np.array_equal(first["embed.W_E"], other["embed.W_E"])


def test_biases_stay_zero_and_frozen_and_torch_settings_are_restored() -> None:
    threads = torch.get_num_threads()
    model = train_model(7, **SMALL, progress=False)
    assert torch.get_num_threads() == threads
    assert not torch.are_deterministic_algorithms_enabled()
    for name, parameter in model.named_parameters():
        is_bias = name.rsplit(".", 1)[1].startswith("b_")
        assert parameter.requires_grad != is_bias, name
        if is_bias:
            assert not parameter.any(), name


def test_train_zoo_is_resumable_and_stores_the_recipe(tmp_path) -> None:
    paths = train_zoo([7, 8], tmp_path / "zoo", **SMALL, progress=False)
    assert [path.name for path in paths] == ["max3-v8-d8-seed7.safetensors", "max3-v8-d8-seed8.safetensors"]
    mtimes = [path.stat().st_mtime_ns for path in paths]
    assert train_zoo([8, 7], tmp_path / "zoo", **SMALL, progress=False) == paths[::-1]
    assert [path.stat().st_mtime_ns for path in paths] == mtimes
    weights = load_model(paths[0])
    assert weights.config == training_config(7, **SMALL)
    assert (weights.d_vocab, weights.n_ctx, weights.d_model, weights.d_head) == (8, 3, 8, 8)
    np.testing.assert_array_equal(weights.W_E, small_model(7)["embed.W_E"])


def test_train_zoo_rejects_bad_input_before_training(tmp_path) -> None:
    train_zoo([7], tmp_path, **SMALL, progress=False)
    with pytest.raises(ValueError, match="steps=50, not 60"):
        train_zoo([7], tmp_path, **{**SMALL, "steps": 60}, progress=False)
    for seeds, recipe, message in [
        ([1, -1], SMALL, "seed"),
        ([1, 2, 1], SMALL, "duplicate seeds: 1"),
        ([1], {**SMALL, "d_vocab": 1}, "d_vocab"),
    ]:
        with pytest.raises(ValueError, match=message):
            train_zoo(seeds, tmp_path / "never", **recipe, progress=False)
    assert not (tmp_path / "never").exists()


@pytest.mark.slow
def test_parallel_jobs_give_the_same_bits(tmp_path) -> None:
    serial = train_zoo([7, 8], tmp_path / "serial", **SMALL, progress=False)
    parallel = train_zoo([7, 8], tmp_path / "parallel", **SMALL, progress=False, jobs=2)
    assert [load_model(path).digest for path in parallel] == [load_model(path).digest for path in serial]


def test_cli_trains_from_a_seed_list_and_a_seeds_file(tmp_path, capsys) -> None:
    assert main(["train", "--seeds", "7,8", "--out", str(tmp_path), *SMALL_ARGS]) == 0
    printed = capsys.readouterr().out.split()
    assert printed == [str(tmp_path / f"max3-v8-d8-seed{seed}.safetensors") for seed in (7, 8)]
    seeds_file = tmp_path / "seeds.txt"
    seeds_file.write_text("# zoo seeds\n8\n\n7  # the example\n")
    assert main(["train", "--seeds-file", str(seeds_file), "--out", str(tmp_path), *SMALL_ARGS]) == 0
    assert capsys.readouterr().out.split() == printed[::-1]


@pytest.mark.parametrize(
    "args",
    [
        ["--seeds", "7,x"],
        ["--seeds", "7,-3"],
        ["--seeds", ""],
        ["--seeds", "7", "--steps", "0"],
        ["--seeds", "7", "--jobs", "many"],
        ["--seeds-file", "/nonexistent/seeds.txt"],
        [],
    ],
)
def test_cli_bad_input_is_one_line_and_exit_code_2(args: list[str], tmp_path, capsys) -> None:
    assert main(["train", *args, "--out", str(tmp_path / "out"), *SMALL_ARGS]) == 2
    err = capsys.readouterr().err
    assert err.startswith("zoo: error: ") and err.count("\n") == 1


def test_cli_unwritable_output_is_one_line_and_exit_code_2(tmp_path, capsys) -> None:
    not_a_directory = tmp_path / "file"
    not_a_directory.write_text("")
    assert main(["train", "--seeds", "7", "--out", str(not_a_directory / "zoo"), *SMALL_ARGS]) == 2
    err = capsys.readouterr().err
    assert err.startswith("zoo: error: ") and err.count("\n") == 1
