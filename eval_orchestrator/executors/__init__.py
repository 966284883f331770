"""Where a plan's evals run: here (``orchestrate.execute``), on a Ray cluster (``ray_executor``), or as a
Determined experiment (``det/``)."""
