"""W&B tracking of Inspect evals.

``rows`` (pure builders), ``progress`` (per-job counters), ``wandb_run`` (one job's W&B run),
``finish`` (a job's end: table, results, lineage) and ``hook`` (the Inspect hook; importing it
registers the hook, so nothing here imports it for you).
"""
