#!/usr/bin/env bash
# The quickstart on the embedded default: a tiny real checkpoint, the local registry, W&B offline.
# Everything lives under .quickstart/ so a second run reuses it (no bytes copied, no sample re-run).
set -euo pipefail
cd "$(dirname "$0")/.."

export QUICKSTART_DIR="${QUICKSTART_DIR:-$PWD/.quickstart}"
export EVAL_ORCHESTRATOR_REGISTRY="$QUICKSTART_DIR/registry"
export WANDB_ARTIFACT_DIR="$QUICKSTART_DIR/artifacts"
export WANDB_DIR="$QUICKSTART_DIR"
export WANDB_MODE="${WANDB_MODE:-offline}"
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
mkdir -p "$QUICKSTART_DIR"

if ! eval-orchestrator registry ls tiny-gpt2 >/dev/null 2>&1; then
  if [ ! -f "$QUICKSTART_DIR/build/trained/config.json" ]; then
    echo "== building the tiny GPT-2 checkpoints (v0 untrained, v1 trained on the demo task)"
    python scripts/build_tiny_checkpoint.py "$QUICKSTART_DIR/build/untrained" --train-steps 0
    python scripts/build_tiny_checkpoint.py "$QUICKSTART_DIR/build/trained" --train-steps 300
  fi
  echo "== registering them in the local registry"
  eval-orchestrator registry add "$QUICKSTART_DIR/build/untrained" --name tiny-gpt2 --alias untrained \
    --metadata train_steps=0
  eval-orchestrator registry add "$QUICKSTART_DIR/build/trained" --name tiny-gpt2 --alias trained \
    --metadata train_steps=300
fi
eval-orchestrator registry ls tiny-gpt2

echo "== evaluating both versions (configs/quickstart.yaml)"
eval-orchestrator run --config configs/quickstart.yaml --log-dir "$QUICKSTART_DIR/logs" --display none

echo "== is v1 better than v0? (paired statistics over the same questions)"
eval-orchestrator compare local-registry/tiny-gpt2:v0 local-registry/tiny-gpt2:v1 --log-dir "$QUICKSTART_DIR/logs" \
  --plot "$QUICKSTART_DIR/forest.png" --fail-on-regression
echo "forest plot: $QUICKSTART_DIR/forest.png"

# Leave a working place: a .env (read by the CLI and the library) naming the quickstart's registry,
# store and W&B dir, so what runs here next finds what the quickstart made. Never over a .env of yours.
if [ ! -e .env ]; then
  cat > .env <<ENV
# Written by \`make quickstart\` (delete it to start afresh): the CLI and the library read it here.
EVAL_ORCHESTRATOR_REGISTRY=$EVAL_ORCHESTRATOR_REGISTRY
WANDB_ARTIFACT_DIR=$WANDB_ARTIFACT_DIR
WANDB_DIR=$WANDB_DIR
WANDB_MODE=$WANDB_MODE
HF_HUB_OFFLINE=1
TRANSFORMERS_OFFLINE=1
ENV
  echo "wrote .env: the quickstart's registry, store and W&B dir for what you run here next"
elif ! grep -q "^EVAL_ORCHESTRATOR_REGISTRY=" .env; then
  echo "your .env is left as it is; to use the quickstart's registry here, add:"
  echo "  EVAL_ORCHESTRATOR_REGISTRY=$EVAL_ORCHESTRATOR_REGISTRY"
  echo "  WANDB_ARTIFACT_DIR=$WANDB_ARTIFACT_DIR"
  echo "  WANDB_DIR=$WANDB_DIR"
fi
echo
echo "== next: try these here (then register your own checkpoint: see README, 'Your own checkpoint')"
grep -v '^#' scripts/quickstart_next.sh | sed 's/^/  /'
