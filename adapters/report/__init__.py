"""The HTML report of a run (`python -m worker report DIR`): load.py reads the run's
directory, stats.py computes its figures, page.py draws it, build.py writes it."""
