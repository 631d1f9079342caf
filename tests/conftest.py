"""Test-process settings: a headless matplotlib backend and Hypothesis profiles.

The notebook kernels are not affected (DESIGN.md: never force Agg on them). Under CI (``CI`` set) Hypothesis is
derandomized so a submission's result does not depend on luck; locally it explores new examples each run.
"""
import os

import matplotlib
from hypothesis import HealthCheck, settings

matplotlib.use("Agg")

settings.register_profile("dev", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("ci", deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow],
                          database=None)
settings.load_profile("ci" if os.environ.get("CI") else os.environ.get("HYPOTHESIS_PROFILE", "dev"))
