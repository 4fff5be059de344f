"""Models as the checker reads them: from a safetensors file, or from a state dict held in memory.

Both ways end in the checker's own model reader (:mod:`certificates.model_file`), so a model built from
a state dict has exactly the statement and digest of the file holding the same tensors and config, and
is refused for exactly what that file would be refused for.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from certificates.model_file import CONFIG_KEY, IGNORED_TENSORS, TENSOR_NAMES, ModelWeights, load_model_bytes
from checker.limits import Limits
from checker.verify import DEFAULT_LIMITS, CheckedModel, checked_model, read_model
from prover.writers import encode_safetensors

STATE_DICT_NAME = "<state dict>"
"""The name a model built from a state dict goes by unless it is given one."""


@dataclass(frozen=True)
class Model:
    """A model read and validated by the checker, with the size limits it was read under.

    ``checked`` holds the checker's exact tables, computed when a certificate first needs them and shared
    by every certificate checked against this object; each check is still charged the FLOPs of everything
    it reads, so a verdict does not depend on what was checked before.
    """

    checked: CheckedModel
    limits: Limits = DEFAULT_LIMITS

    @property
    def name(self) -> str:
        """The model's file, or a description of where it came from."""
        return self.checked.name

    @property
    def weights(self) -> ModelWeights:
        """The float32 weights, exactly as read."""
        return self.checked.weights

    @property
    def digest(self) -> str:
        """The statement digest a certificate about this model must name."""
        return self.weights.digest


def load_model(path: str | os.PathLike[str], limits: Limits = DEFAULT_LIMITS) -> Model:
    """The model file at ``path``, read by the checker under ``limits``.

    Raises :class:`certificates.errors.InputError` (one line) for a file the checker refuses: missing,
    malformed, an unsupported architecture or config key, or sizes beyond ``limits``.
    """
    return Model(read_model(path, limits), limits)


def model_from_state_dict(
    state_dict: Mapping[str, object], config: object, *, name: str = STATE_DICT_NAME, limits: Limits = DEFAULT_LIMITS
) -> Model:
    """The model of ``state_dict`` (TransformerLens names -> torch tensors or numpy arrays, such as
    ``HookedTransformer.state_dict()``) with ``config`` (a dict, or an object with ``to_dict()`` such as a
    ``HookedTransformerConfig``), read by the checker with the size limits ``limits`` (V, n, d, h).

    Guarantee: the result is what :func:`load_model` gives for the file that ``prover.writers.save_model``
    writes from the same tensors and config: the same weights, statement and digest, after the same
    validation (the bytes of that file are built in memory and read by the checker's reader). Nothing is
    cast: a tensor the checker reads that is not float32 raises ValueError (casting it would certify a
    different model). The buffers the checker ignores (``blocks.0.attn.mask``, ``blocks.0.attn.IGNORE``)
    are left out, whatever their dtype. Config values that JSON cannot hold (a torch dtype or device) are
    stored as their ``str()``, numpy scalars as the Python number they hold. Raises
    :class:`certificates.errors.InputError` (one line) for anything the checker's reader refuses, such as
    a config key it does not know or a second layer.
    """
    tensors = {key: _as_array(key, value) for key, value in state_dict.items() if key not in IGNORED_TENSORS}
    for key, array in tensors.items():
        if key in TENSOR_NAMES and (array.dtype.kind != "f" or array.dtype.itemsize != 4):
            raise ValueError(
                f"tensor {key} has dtype {array.dtype}; the checker reads float32 only, and casting it here "
                "would certify a different model (cast it yourself if that is the model you mean)"
            )
    data = encode_safetensors(tensors, {CONFIG_KEY: _config_json(config)})
    return Model(checked_model(load_model_bytes(data), limits, name), limits)


def _config_json(config: object) -> str:
    """``config`` (a mapping, or an object whose ``to_dict()`` returns one) as the JSON text a model file
    stores; TypeError for anything else, ValueError for a value JSON cannot hold exactly (NaN, infinity)."""
    mapping = config.to_dict() if hasattr(config, "to_dict") else config
    if not isinstance(mapping, Mapping):
        raise TypeError(f"config must be a mapping or have to_dict(), got {type(config).__name__}")
    try:
        return json.dumps(dict(mapping), default=_json_value, allow_nan=False)
    except ValueError as error:
        raise ValueError(f"config cannot be stored as JSON: {error}") from None


def _json_value(value: object) -> object:
    """A JSON stand-in for a config value json cannot write: a numpy scalar's Python number, else ``str()``."""
    return value.item() if isinstance(value, np.generic) else str(value)


def _as_array(key: str, value: object) -> np.ndarray:
    """``value`` (a torch tensor on any device, or anything numpy reads) as a numpy array of its own dtype."""
    if not hasattr(value, "detach"):
        return np.asarray(value)
    try:  # a torch tensor; torch itself is not imported here
        return value.detach().cpu().numpy()
    except TypeError:  # bfloat16 and the other dtypes numpy has no equivalent for
        raise ValueError(
            f"tensor {key} has dtype {value.dtype}, which a model file cannot hold here (the checker reads float32)"
        ) from None
