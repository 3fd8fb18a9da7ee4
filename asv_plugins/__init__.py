"""asv plugins of this repository, listed under ``"plugins"`` in ``asv.conf.json``.

This folder is not part of the ``governance`` package and not a benchmark module."""
