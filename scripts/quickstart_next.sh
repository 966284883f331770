# What to try next, from the repository root (the .env the quickstart wrote points these at its registry,
# store and W&B dir). `make quickstart` prints these lines; tests/test_quickstart.py runs them verbatim.
.venv/bin/eval-orchestrator registry ls
.venv/bin/eval-orchestrator run --config configs/quickstart.yaml --checkpoint local-registry/tiny-gpt2:v1 --log-dir .quickstart/logs --display none
.venv/bin/eval-orchestrator compare local-registry/tiny-gpt2:v0 local-registry/tiny-gpt2:v1 --log-dir .quickstart/logs
