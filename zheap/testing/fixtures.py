"""pytest fixtures: ``leak_check``, a DebugAllocator that fails the test on a leak.

Use it from a test module or a conftest.py::

    from zheap.testing import leak_check  # noqa: F401  (a fixture)

    def test_parser(leak_check):
        buf = leak_check.alloc(100)
        ...
        leak_check.free(buf)  # forget this and the test fails with zheap.LeakError

The leak is found at the fixture's teardown, so pytest reports it as an error at
teardown ("ERROR at teardown of test_parser"), which fails the run like a failed test.

or enable it for a whole suite with ``pytest_plugins = ["zheap.testing.fixtures"]``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .. import DebugAllocator

__all__ = ["leak_check"]


@pytest.fixture
def leak_check() -> Iterator[DebugAllocator]:
    """Yield a DebugAllocator; at teardown, any block left live raises zheap.LeakError.

    The error's ``leaks`` lists each block with the Python trace of its allocation.
    """
    gpa = DebugAllocator(raise_on_leak=True)
    yield gpa
    gpa.deinit()
