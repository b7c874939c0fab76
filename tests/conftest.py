import os

from hypothesis import HealthCheck, settings

settings.register_profile("dev", max_examples=30, stateful_step_count=30)
settings.register_profile(
    "ci",
    parent=settings.get_profile("ci"),
    max_examples=60,
    stateful_step_count=40,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "thorough",
    max_examples=1000,
    stateful_step_count=100,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.getenv("HYPOTHESIS_PROFILE", "dev"))
