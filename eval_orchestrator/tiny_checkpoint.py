"""Build a tiny real Hugging Face checkpoint offline: GPT-2 architecture, a byte-level BPE
tokenizer trained with ``tokenizers``, optionally trained on the demo task's facts.

Needs the ``hf`` extra (torch, transformers, tokenizers). Used by the quickstart and the tests.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from eval_orchestrator.tasks.capitals import CAPITALS, question

EOS = "<|endoftext|>"


def training_texts() -> list[str]:
    # Inspect's hf provider renders a chat with no template as "user: <input>\n".
    return [f"user: {question(country)}\n{city}{EOS}" for country, city in CAPITALS]


def build_tokenizer(vocab_size: int = 400):  # type: ignore[no-untyped-def]
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=[EOS],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator([t.replace(EOS, "") for t in training_texts()] * 4, trainer=trainer)
    return PreTrainedTokenizerFast(  # type: ignore[no-untyped-call]
        tokenizer_object=tokenizer, eos_token=EOS, bos_token=EOS, unk_token=EOS
    )


POSITIONS = 2048  # long enough for real task prompts (inspect_evals' own), not only the demo's


def build_checkpoint(out_dir: str | Path, train_steps: int = 0, seed: int = 0, positions: int = POSITIONS) -> Path:
    """Save a ~108k-parameter GPT-2 with a ``positions``-token context to ``out_dir``; ``train_steps`` > 0
    fits it to the demo facts."""
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(seed)
    tokenizer = build_tokenizer()
    config = GPT2Config(
        vocab_size=len(tokenizer),
        n_positions=64,
        n_embd=32,
        n_layer=2,
        n_head=2,
        bos_token_id=tokenizer.eos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    model = GPT2LMHeadModel(config)
    if train_steps:
        tokenizer.pad_token = EOS
        batch = tokenizer(training_texts(), return_tensors="pt", padding=True)
        labels = batch["input_ids"].clone()
        labels[batch["attention_mask"] == 0] = -100
        # The pad token is EOS: keep each text's first EOS as a label so the model learns to stop.
        for row, length in enumerate(batch["attention_mask"].sum(dim=1).tolist()):
            if length < labels.shape[1]:
                labels[row, length] = tokenizer.eos_token_id
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
        model.train()
        for _ in range(train_steps):
            loss = model(**batch, labels=labels).loss
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
        model.eval()  # type: ignore[no-untyped-call]
    if positions > config.n_positions:
        _extend_positions(model, positions, seed)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


def _extend_positions(model: Any, positions: int, seed: int) -> None:
    """Grow the position table after training (built and trained at 64 positions, so the demo's
    scores do not change): the first rows are the trained ones, the others freshly initialised."""
    import torch

    old = model.transformer.wpe.weight.data
    table = torch.nn.Embedding(positions, old.shape[1])
    generator = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        table.weight.normal_(0.0, model.config.initializer_range, generator=generator)
        table.weight[: old.shape[0]] = old
    model.transformer.wpe = table
    model.config.n_positions = positions
