#!/usr/bin/env python3
"""The peer of `fastprefix bench` on the GPU machine: the same P-Tuning v2 step in PyTorch + Hugging Face
transformers + PEFT (prefix tuning), measured the same way, so bench/gpu/run.sh can print the ratio.

Same model as the bench: a randomly initialised BERT of the given shape (no weights needed), full rows of random
tokens, a prefix of --prefix virtual tokens in every layer (PEFT PrefixTuningConfig, no projection), a two-label
sequence-classification head, dropout 0.1. A training step is forward, loss, backward (only the prefix and the head
train), global-norm clipping at 1.0 and AdamW, then a wait for the GPU; an inference pass is a forward and a wait.

--weights fp32 (default): fp32 weights under torch.autocast(bfloat16), which is what the Hugging Face Trainer's
bf16=True does. --weights bf16: the frozen backbone stored in bfloat16 as FastPrefix stores it (trainable parameters
stay fp32), still under autocast. Prints one human line and one JSON line (the bench's keys) per mode.
"""
import argparse
import json
import math
import os
import statistics
import sys
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import torch  # noqa: E402
import peft  # noqa: E402
import transformers  # noqa: E402
from peft import PrefixTuningConfig, TaskType, get_peft_model  # noqa: E402
from transformers import BertConfig, BertForSequenceClassification  # noqa: E402

SHAPES = {"bert-base": (12, 768, 12, 3072), "bert-large": (24, 1024, 16, 4096)}


def flops_forward(layers, hidden, inter, batch, seq, prefix):
    """Model FLOPs of a pass, counted as `fastprefix bench` counts them (BenchFlops.Forward)."""
    n, keys = batch * seq, prefix + seq
    projections = 2 * n * hidden * (3 * hidden + hidden + 2 * inter)
    attention = 2 * 2 * n * keys * hidden
    return layers * (projections + attention) + 2.0 * batch * hidden * hidden


def flops_train(layers, hidden, inter, batch, seq, prefix):
    """BenchFlops.TrainStep: the forward plus the input gradients of the prefix-only model."""
    n, keys = batch * seq, prefix + seq
    input_gradients = 2 * n * hidden * (hidden + 2 * inter) * layers + 2 * n * hidden * 3 * hidden * (layers - 1)
    attention = 4 * 2 * n * keys * hidden * layers
    return flops_forward(layers, hidden, inter, batch, seq, prefix) + input_gradients + attention + 2.0 * batch * hidden * hidden


def timed(step, warmup, steps):
    for _ in range(warmup):
        step()
    torch.cuda.synchronize()
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        step()
        torch.cuda.synchronize()
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    return times


def percentile(sorted_ms, q):
    return sorted_ms[min(len(sorted_ms) - 1, math.ceil(q * len(sorted_ms)) - 1)]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--shape", choices=sorted(SHAPES), default="bert-base")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--seq", type=int, default=128)
    ap.add_argument("--prefix", type=int, default=20)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--mode", choices=["train", "infer", "both"], default="both")
    ap.add_argument("--weights", choices=["fp32", "bf16"], default="fp32")
    args = ap.parse_args()
    if not torch.cuda.is_available():
        sys.exit("torch_peer.py: no CUDA device for torch")

    layers, hidden, heads, inter = SHAPES[args.shape]
    device = torch.device("cuda")
    torch.manual_seed(1)
    config = BertConfig(vocab_size=30522, hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=heads,
                        intermediate_size=inter, max_position_embeddings=max(512, args.seq), type_vocab_size=2,
                        hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1, num_labels=2)
    model = BertForSequenceClassification(config)
    model = get_peft_model(model, PrefixTuningConfig(task_type=TaskType.SEQ_CLS, num_virtual_tokens=args.prefix))
    model.to(device)
    if args.weights == "bf16":
        for p in model.parameters():
            if not p.requires_grad:
                p.data = p.data.to(torch.bfloat16)
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=1e-3)

    generator = torch.Generator(device="cpu").manual_seed(3)
    ids = torch.randint(1000, config.vocab_size, (args.batch, args.seq), generator=generator)
    ids[:, 0] = 101
    ids = ids.to(device)
    mask = torch.ones_like(ids)
    labels = (torch.arange(args.batch) % 2).to(device)
    autocast = lambda: torch.autocast("cuda", dtype=torch.bfloat16)  # noqa: E731

    def train_step():
        with autocast():
            loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(trainable, 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    def infer_step():
        with torch.no_grad(), autocast():
            model(input_ids=ids, attention_mask=mask).logits.float()

    backend = f"torch {torch.__version__} + transformers {transformers.__version__} + peft {peft.__version__}, " \
              f"{'fp32' if args.weights == 'fp32' else 'bf16'} weights, autocast bf16, {torch.cuda.get_device_name(0)}"
    print(f"peer: {args.shape}, batch {args.batch} x {args.seq}, prefix {args.prefix} on {backend}", flush=True)
    for mode in (["train", "infer"] if args.mode == "both" else [args.mode]):
        model.train(mode == "train")
        torch.cuda.reset_peak_memory_stats()
        ms = timed(train_step if mode == "train" else infer_step, args.warmup, args.steps)
        median, p90 = statistics.median(ms), percentile(ms, 0.9)
        flops = (flops_train if mode == "train" else flops_forward)(layers, hidden, inter, args.batch, args.seq, args.prefix)
        tokens = args.batch * args.seq / (median / 1000)
        tflops = flops / (median / 1000) / 1e12
        peak = torch.cuda.max_memory_allocated()
        print(f"{mode}: {median:.2f} ms/step median, {p90:.2f} p90 ({args.steps} steps after {args.warmup} warm-up); "
              f"{tokens:,.0f} tokens/s; {tflops:.2f} TFLOP/s; peak memory {peak / 2**20:.0f} MiB", flush=True)
        print(json.dumps({"mode": mode, "graphs": False, "shape": args.shape, "backend": backend, "batch": args.batch,
                          "seq": args.seq, "prefix": args.prefix, "ms_median": round(median, 3), "ms_p90": round(p90, 3),
                          "tokens_per_s": round(tokens), "tflops": round(tflops, 3), "peak_bytes": peak}, separators=(",", ":")), flush=True)


if __name__ == "__main__":
    main()
