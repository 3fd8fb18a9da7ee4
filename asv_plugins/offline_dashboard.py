"""asv plugin: every ``asv publish`` leaves a dashboard that works without internet access, with
the repository's own pages.

asv 0.6.6 imports the modules named under ``"plugins"`` in ``asv.conf.json`` before it runs any
command (``Command.run_from_args``), and calls their ``setup()``. A name starting with ``.`` is
imported with ``"."`` put first on ``sys.path`` for the duration of the import only
(``PluginManager.import_plugin``); asv's ``main`` has already changed into the config's folder,
so ``"."`` is the repository root, hence ``".asv_plugins.offline_dashboard"``. The ``scripts``
package is imported here, at import time, while that root is on the path.

``setup()`` wraps ``asv.commands.publish.Publish.run``: once asv has written the site, it calls
``scripts.dashboard_pages.build_from_config(conf)`` (the stages and changes pages, the fixes of
asv's pages), then ``scripts.offline_dashboard.make_offline(html_dir)``, which copies the CDN
libraries into ``html_dir/vendor/``, rewrites the pages to load them from there and fails if any
page still loads something from outside. Other commands are untouched. Set
``ASV_OFFLINE_DASHBOARD=0`` to publish asv's plain, CDN-dependent site.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any

import scripts
from scripts import dashboard_data, dashboard_pages, offline_dashboard

ROOT = Path(__file__).resolve().parents[1]
_MARK = "_offline_dashboard_wrapped"

if Path(scripts.__file__).resolve().parent != ROOT / "scripts":
    raise ImportError(f"`scripts` was imported from {scripts.__file__}, not from {ROOT}: "
                      "another package of that name comes first on sys.path")


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
        try:
            summary = dashboard_pages.build_from_config(conf)
            log.info(dashboard_pages.report(summary, html_dir))
            log.info(f"Making the dashboard self-contained (libraries in {html_dir / 'vendor'})")
            offline_dashboard.make_offline(html_dir)
        except (offline_dashboard.OfflineDashboardError, dashboard_pages.DashboardPagesError,
                dashboard_data.DashboardDataError) as error:
            raise util.UserError(f"dashboard: {error}") from error
        return result

    setattr(run, _MARK, True)
    Publish.run = classmethod(run)  # type: ignore[method-assign, assignment]
