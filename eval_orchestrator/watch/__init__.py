"""Closing the loop: every new registered version evaluated once, compared with a baseline, and
promoted (an alias moved) or held.

``settings`` (the run config's ``watch:`` section), ``ledger`` (the durable, exactly-once state),
``sources`` (one listing of a collection per poll), ``decide`` (evaluate -> compare -> gate ->
promote for one version), ``loop`` (the watcher), ``webhook`` (W&B Automations' POSTs).
"""
