"""Build the quickstart's tiny GPT-2 checkpoint into a directory (offline, CPU, seconds)."""

import argparse

from eval_orchestrator.tiny_checkpoint import build_checkpoint

parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument("out_dir")
parser.add_argument("--train-steps", type=int, default=0, help="0: untrained; ~300 fits the demo task")
args = parser.parse_args()
print(build_checkpoint(args.out_dir, train_steps=args.train_steps))
