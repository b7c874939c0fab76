"""zheap.testing.leak_check: the fixture passes a clean test and fails a leaking one."""

import textwrap

import pytest

import zheap
from zheap.testing import leak_check  # noqa: F401 -- a fixture, used by name below

pytest_plugins = ["pytester"]


def test_leak_check_is_a_debug_allocator(leak_check):  # noqa: F811
    assert isinstance(leak_check, zheap.DebugAllocator)
    leak_check.free(leak_check.alloc(10))


def test_leak_check_fails_a_leaking_test(pytester):
    pytester.makepyfile(
        textwrap.dedent(
            """
            from zheap.testing import leak_check  # noqa: F401

            def test_clean(leak_check):
                leak_check.free(leak_check.alloc(8))

            def test_leaks(leak_check):
                leak_check.alloc(8)
            """
        )
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(["*LeakError*"])


def test_fixtures_module_is_a_plugin():
    from zheap.testing import fixtures

    assert fixtures.leak_check is zheap.testing.leak_check
    with pytest.raises(AttributeError):
        zheap.testing.no_such_thing  # noqa: B018
