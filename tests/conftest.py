"""Shared fixtures: every numeric test runs on both backends.

`backend` is a fixture parametrized over the two implementations; numeric test modules use it
for every test (``pytestmark = pytest.mark.usefixtures("backend")``) or request it by name.
A backend that does not import is skipped with the reason, except when the environment sets
MXEMU_REQUIRE_NATIVE=1 (CI does), where a missing native extension fails the run.
"""
import os
import sys

import pytest
from hypothesis import HealthCheck, settings

sys.path.insert(0, os.path.dirname(__file__))  # `import oracle` from the test modules

# Hypothesis: "ci" is deterministic and prints the reproduction blob of a failure.
settings.register_profile(
    "ci", derandomize=True, print_blob=True, deadline=None, max_examples=200,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
settings.register_profile(
    "dev", deadline=None, max_examples=100, print_blob=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
settings.load_profile("ci" if os.environ.get("CI") else os.environ.get("HYPOTHESIS_PROFILE",
                                                                       "dev"))

BACKENDS = ("reference", "native")


def _why_unavailable(name):
    """None if the backend imports, else the reason."""
    try:
        from emulator import _backend
    except Exception as exc:  # the package itself does not import
        return f"emulator does not import: {exc!r}"
    if name in _backend.available():
        return None
    if name == "native":
        try:
            import emulator._native  # noqa: F401
        except Exception as exc:
            return f"the native extension emulator._native does not import: {exc!r}"
    return f"backend {name!r} is not available (available: {_backend.available()})"


@pytest.fixture(params=BACKENDS)
def backend(request):
    """Run the test with `emulator._backend.using(name)`; yields the backend's name."""
    name = request.param
    why = _why_unavailable(name)
    if why is not None:
        if name == "native" and os.environ.get("MXEMU_REQUIRE_NATIVE") == "1":
            pytest.fail(f"MXEMU_REQUIRE_NATIVE=1 but {why}")
        pytest.skip(why)
    from emulator import _backend
    with _backend.using(name):
        assert _backend.current() == name
        yield name
