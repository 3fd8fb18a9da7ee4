"""asv plugin: every ``asv publish`` leaves a dashboard that works without internet access.

asv 0.6.6 imports the modules named under ``"plugins"`` in ``asv.conf.json`` before it runs any
command (``Command.run_from_args``), and calls their ``setup()``. A name starting with ``.`` is
imported with the config's folder on ``sys.path``, hence ``".asv_plugins.offline_dashboard"``.

``setup()`` wraps ``asv.commands.publish.Publish.run``: once asv has written the site, it calls
``make_offline(html_dir)`` from ``scripts/offline_dashboard.py``, which copies the CDN libraries
into ``html_dir/vendor/`` and rewrites the pages to load them from there. Other commands are
untouched. Set ``ASV_OFFLINE_DASHBOARD=0`` to publish the plain, CDN-dependent site.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "offline_dashboard.py"
_MODULE_NAME = "_governance_offline_dashboard"
_MARK = "_offline_dashboard_wrapped"


def load_script() -> ModuleType:
    """``scripts/offline_dashboard.py`` as a module (scripts/ is not a package)."""
    module = sys.modules.get(_MODULE_NAME)
    if module is None:
        spec = importlib.util.spec_from_file_location(_MODULE_NAME, SCRIPT)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[_MODULE_NAME] = module
        spec.loader.exec_module(module)
    return module


def setup() -> None:
    """Called by asv's plugin manager right after importing this module."""
    from asv.commands.publish import Publish

    original = Publish.__dict__["run"].__func__
    if getattr(original, _MARK, False):
        return

    @functools.wraps(original)
    def run(cls: type, conf: Any, *args: Any, **kwargs: Any) -> Any:
        result = original(cls, conf, *args, **kwargs)
        if os.environ.get("ASV_OFFLINE_DASHBOARD", "1") == "0":
            return result
        from asv import util
        from asv.console import log

        html_dir = Path(conf.html_dir).resolve()  # asv runs in the config's folder
        log.info(f"Making the dashboard self-contained (libraries in {html_dir / 'vendor'})")
        script = load_script()
        try:
            script.make_offline(html_dir)
        except script.OfflineDashboardError as error:
            raise util.UserError(f"offline dashboard: {error}") from error
        return result

    setattr(run, _MARK, True)
    Publish.run = classmethod(run)  # type: ignore[method-assign, assignment]
