"""compact-proofs from Python: load a model, prove lower bounds on its accuracy, check them.

The ``prove`` and ``zoo`` command lines, the zoo report and the demo go through this API (``check`` is
the checker's own). Proving needs the ``prover`` extra (torch), imported on the first proof; loading and
checking do not.

Prove and check a bound on a model file::

    import compact_proofs as cp

    model = cp.load_model("models/max4-v64-d32-seed123.safetensors")
    verdict = cp.check(cp.prove(model, "cubic"), model)
    print(verdict.status, verdict.bound, verdict.flops)

``verdict.status`` is ``"VALID"``, ``"INVALID"`` (a claim failed; ``verdict.message`` names it) or
``"ERROR"`` (unreadable or mismatched input); a VALID verdict has the certified accuracy lower bound
``verdict.bound`` as an exact :class:`~fractions.Fraction` and the proof length ``verdict.flops``.

A model held in memory, e.g. a TransformerLens ``HookedTransformer`` ``ht``::

    model = cp.model_from_state_dict(ht.state_dict(), ht.cfg)

It is read by the checker's own model reader, so it has the statement and digest of the model file with
the same tensors and config; the checker refuses config keys it does not know (one line naming the key).

More than one strategy: ``cp.prove_many(model, ["cubic", "subcubic"])`` (names, family prefixes or
``"all"``; ``cp.strategies()`` lists them with their family and complexity). Certificates go to and
from files with ``cp.save_certificate(path, certificate)`` and ``cp.read_certificate(path, model)``;
``cp.check`` also takes a certificate file's path or bytes. Checking many certificates against one
``Model`` computes the checker's exact tables once, while each verdict's FLOPs still count everything
that certificate's replay reads.

Brute force in shards, resumably (a restarted run re-checks what it finds and proves the rest)::

    run = cp.prove_shards(model, "shards/")
    verdict = cp.check_shards("shards/", model)

Where brute force is out of reach, ``cp.estimate(model, samples, confidence, seed)`` gives a
Clopper-Pearson interval for the accuracy from uniform samples, each decided rigorously: a statistical
statement, never a verdict (:mod:`compact_proofs.estimating`).
"""

from __future__ import annotations

from certificates.codec import Certificate
from certificates.errors import InputError
from checker.verify import ERROR, INVALID, VALID, Verdict
from compact_proofs.checking import check
from compact_proofs.estimating import Estimate, estimate
from compact_proofs.files import certificate_filename, read_certificate
from compact_proofs.models import Model, load_model, model_from_state_dict
from compact_proofs.proving import RequestError, prove, prove_many, resolve_device, resolve_strategies, strategies
from compact_proofs.sharding import check_shards, prove_shards
from prover.writers import write_certificate as save_certificate

__all__ = [
    "ERROR",
    "INVALID",
    "VALID",
    "Certificate",
    "Estimate",
    "InputError",
    "Model",
    "RequestError",
    "Verdict",
    "certificate_filename",
    "check",
    "check_shards",
    "estimate",
    "load_model",
    "model_from_state_dict",
    "prove",
    "prove_many",
    "prove_shards",
    "read_certificate",
    "resolve_device",
    "resolve_strategies",
    "save_certificate",
    "strategies",
]
