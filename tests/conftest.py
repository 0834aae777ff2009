# The firmware tests under tests/firmware/ are plain functions (no pytest
# features) so that tests/mp_runner.py runs them on MicroPython as well;
# tests/test_on_micropython.py does that. Modules named mp_*.py need
# micropython.* and run only there.

# Requirements and their tests (docs/requirements.md, CONTRIBUTING.md): host
# tests say @pytest.mark.req("R-012"); firmware tests, which also run on
# MicroPython, a docstring line "req: R-012". Both become the `req` mark of
# the collected test and a `req` property in the JUnit XML of `make test`
# (host_tools/traceability.py reads the source; this makes them visible to
# pytest and its plugins too).
import re  # noqa: E402

import pytest  # noqa: E402

_REQ_LINE = re.compile(r"^\s*req:\s*(.+?)\s*$", re.M)


def pytest_configure(config):
    config.addinivalue_line("markers", "req(*ids): the requirements (docs/requirements.md) "
                            "this test verifies")


def pytest_collection_modifyitems(config, items):
    for item in items:
        doc = getattr(getattr(item, "function", None), "__doc__", None) or ""
        ids = [x.strip() for m in _REQ_LINE.finditer(doc) for x in m.group(1).split(",")
               if x.strip()]
        if ids:
            item.add_marker(pytest.mark.req(*ids))
        for mark in item.iter_markers("req"):
            ids += [a for a in mark.args if a not in ids]
        if ids:
            item.user_properties.append(("req", " ".join(ids)))
