"""pytest plugin: run a test suite with scikit-learn's LinearModelLoss patched.

    pytest -p fastgrad.sklearn.pytest_plugin --pyargs sklearn.linear_model.tests.test_logistic

Patches in ``pytest_configure`` (before collection imports the tests), prints the
native and fallback counts at the end, and fails the session when no call at
all was served natively (then the suite did not test fastgrad).
"""
import pytest

from . import _patch


def pytest_configure(config):
    _patch.patch()
    _patch.reset_stats()


def pytest_unconfigure(config):
    _patch.unpatch()


def _nothing_native(session):
    return session.testscollected and _patch.stats()["native"] == 0


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session, exitstatus):
    if exitstatus == 0 and _nothing_native(session):
        session.exitstatus = 1


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    s = _patch.stats()
    tr = terminalreporter
    tr.section("fastgrad.sklearn")
    tr.write_line(f"served natively: {s['native']} calls {s['native_by_method']}")
    tr.write_line(f"fallbacks: {s['fallback']} calls {s['fallback_by_reason']}")
    tr.write_line(f"reduction {s['reduction']}; losses served: "
                  f"{', '.join(s['losses_served'])}")
    if s["losses_not_served"]:
        tr.write_line(f"losses not served: {s['losses_not_served']}")
    if s["native"] == 0:
        tr.write_line("FAILED: no call was served natively (is the compiled core built?)",
                      red=True)
