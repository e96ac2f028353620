#!/usr/bin/env python3
"""Full-size reference checkpoints and logits, for bench/full-size-equivalence.js.

Builds efficientformer_l1 and efficientformerv2_s0 from a snap-research/EfficientFormer
checkout, moves BatchNorm statistics, layer scales and attention biases far from their init
values, saves each as torch.save({'model': state_dict}) (zip format) and writes the eval-mode
logits for the shared test input as raw float32. efficientformer_l7 (~330 MB) is there for
the load-time benchmark. Needs torch and timm; eformer never does.

    python scripts/full_size_reference.py --reference-repo /path/to/EfficientFormer --out DIR
"""
import argparse
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from reference_counts import timm_compat  # noqa: E402


def shared_input():
    """The input every eformer fixture uses: sin(i*0.37)*1.5 + cos(i*0.011), as float32."""
    i = np.arange(3 * 224 * 224, dtype=np.float64)
    return torch.from_numpy((np.sin(i * 0.37) * 1.5 + np.cos(i * 0.011)).astype(np.float32).reshape(1, 3, 224, 224))


def perturb(model, generator):
    """Non-trivial values where the defaults would hide folding mistakes (ones, zeros, 1e-5)."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if 'layer_scale' in name:
                p.uniform_(0.1, 0.6, generator=generator)
            elif 'attention_biases' in name:
                p.uniform_(-1, 1, generator=generator)
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.2, 0.2, generator=generator)
                m.running_var.uniform_(0.5, 2, generator=generator)
                m.weight.uniform_(0.5, 1.5, generator=generator)
                m.bias.uniform_(-0.2, 0.2, generator=generator)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--reference-repo', default='/tmp/efref')
    ap.add_argument('--out', required=True)
    args = ap.parse_args()
    sys.path.insert(0, args.reference_repo)
    timm_compat()
    import models.efficientformer as v1
    import models.efficientformer_v2 as v2

    os.makedirs(args.out, exist_ok=True)
    torch.manual_seed(0)
    for name, ctor in [('efficientformer_l1', v1.efficientformer_l1), ('efficientformerv2_s0', v2.efficientformerv2_s0),
                       ('efficientformer_l7', v1.efficientformer_l7)]:
        model = ctor()
        perturb(model, torch.Generator().manual_seed(1))
        model.eval()  # caches the attention bias tables
        with torch.no_grad():
            logits = model(shared_input())
        torch.save({'model': model.state_dict()}, os.path.join(args.out, f'{name}.pth'))
        logits.numpy().astype(np.float32).tofile(os.path.join(args.out, f'{name}.logits.f32'))
        print(f'{name}: max |logit| {logits.abs().max().item():.3f}', file=sys.stderr)


if __name__ == '__main__':
    main()
