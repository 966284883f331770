"""W&B tracking of Inspect evals.

``rows`` (pure builders), ``progress`` (per-job counters), ``wandb_run`` (one job's W&B run),
``finish`` (a job's end: table, results, lineage), ``core`` (the open runs of a process: start, rows,
end), ``writer`` (the same in a W&B writer process, for large plans) and ``hook`` (the Inspect hook;
importing it registers the hook, so nothing here imports it for you).
"""
