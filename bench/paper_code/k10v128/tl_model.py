"""Loading one of our safetensors models into a TransformerLens ``HookedTransformer`` for the paper's code."""
import json

import torch
from safetensors import safe_open
from transformer_lens import HookedTransformer, HookedTransformerConfig


def load_model(path: str) -> tuple[HookedTransformer, dict]:
    """The model in ``path`` as a ``HookedTransformer`` (every tensor checked to land exactly; only
    TransformerLens's buffers are left at their defaults) and the training config from the metadata."""
    with safe_open(path, "pt") as f:
        meta = json.loads(f.metadata()["config"])
        sd = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 (safe_open is not iterable)
    cfg = HookedTransformerConfig(
        n_layers=meta["n_layers"],
        n_heads=meta["n_heads"],
        d_model=meta["d_model"],
        d_head=meta["d_head"],
        d_vocab=meta["d_vocab"],
        d_vocab_out=meta["d_vocab"],
        n_ctx=meta["n_ctx"],
        attn_only=meta["attn_only"],
        normalization_type=meta["normalization_type"],
        act_fn="relu",  # unused (attn_only); avoids a config warning
        device="cpu",
        seed=0,
    )
    model = HookedTransformer(cfg)
    missing, unexpected = model.load_state_dict(sd, strict=False)
    assert not unexpected, unexpected
    # 'missing' are only TransformerLens buffers (IGNORE, mask), which are not weights
    assert all(k.endswith(("IGNORE", "mask")) for k in missing), missing
    msd = model.state_dict()
    for k, v in sd.items():
        assert torch.equal(msd[k], v), f"tensor {k} did not land"
    model.eval()
    return model, meta
