"""Comparing checkpoint versions honestly: paired, clustered, seeded (Miller 2024).

``scores`` reads per-sample scores from Inspect logs, ``stats`` is the statistics, ``compare``
pairs two versions, ``report`` tabulates a collection, ``plot`` draws them, ``wandb_log`` logs a
comparison to W&B. (Named ``comparison`` so that ``eval_orchestrator.compare`` stays the function.)
"""
