"""`python -m eval_orchestrator.cli`: the same entry point as the `eval-orchestrator` script."""

import sys

from eval_orchestrator.cli import main

sys.exit(main())
