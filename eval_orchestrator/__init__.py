"""eval-orchestrator: evaluate registered checkpoints with Inspect AI, track results in W&B."""

__version__ = "0.1.0"
