"""Hypothesis profiles: "ci" (fast, deterministic; the default) and "long" (thorough fuzzing).

Select with the environment variable HYPOTHESIS_PROFILE, e.g. ``HYPOTHESIS_PROFILE=long pytest``.
"""

import os

from hypothesis import settings

settings.register_profile("ci", max_examples=60, deadline=None, derandomize=True)
settings.register_profile("long", max_examples=5000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
