"""The shared format between prover and checker (may import only numpy, msgpack and the stdlib).

* ``errors``: InputError (the checker's ERROR verdict) and its subclasses; messages are one line.
* ``atomic``: atomic writes and size-bounded reads.
* ``arrays``: typed arrays and strict scalars of the certificate wire format.
* ``codec``: Certificate v1 and its strict msgpack codec (SPEC section 3).
* ``safetensors``: a minimal strict safetensors reader and writer.
* ``model_file``: the TransformerLens-named model file, its validation and digest (SPEC section 1).
"""
