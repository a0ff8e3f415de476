"""One hypothesis profile for the suite: bounded examples keep it fast, no deadline on shared CI cores.

Import this module from a test module that uses hypothesis. HYPOTHESIS_PROFILE=thorough runs
ten times more examples.
"""

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "qa-bot",
    deadline=None,
    max_examples=100,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
settings.register_profile("thorough", parent=settings.get_profile("qa-bot"), max_examples=1_000)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "qa-bot"))
