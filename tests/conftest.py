"""Settings shared by every test folder."""

from __future__ import annotations

import pytest

# The store contracts in ``governance.testing`` check with plain ``assert``: have pytest rewrite
# them as it rewrites test modules, so a failing contract shows the values it compared. This must
# run before anything imports the module, which is why it sits in the outermost conftest.
pytest.register_assert_rewrite("governance.testing")
