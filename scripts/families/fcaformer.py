#!/usr/bin/env python3
"""FcaFormer reference outputs for eformer's tests, and torch's ONNX of it for benchmarks.

Runs the family's own PyTorch code (hkzhang-git/FcaFormer, image_classification/models/fcaformer.py).

    python scripts/families/fcaformer.py --reference-repo /path/to/FcaFormer reference
        writes fixtures/families/fcaformer/reference.json: the toolbox counts of every variant at 224
        and built at 256, and a tiny random-weight model (every block type) with its logits and
        checkpoint;
    python scripts/families/fcaformer.py --reference-repo DIR torch-onnx --model fcaformer_l1 \
        --weights w.safetensors --onnx-out torch.onnx [--input x.bin --logits-out y.bin]
        the contract of scripts/torch_reference.py: eformer's weights loaded strictly,
        torch.onnx.export at opset 17, prints {"export_s": seconds}.

The reference sizes its attention tables for its build size `img_size` (B); an input R runs on it
only when ceil(R/16) = B/16 and ceil(R/32) = B/32, so a model for input R is built at
B = 32 * ceil(R/32), as eformer builds it.

Needs torch, timm, einops and safetensors. fcaformer.py imports matplotlib.pyplot and never uses
it: an empty module stands in when matplotlib is missing. eformer itself never needs Python.
"""
import importlib.util
import json
import math
import os
import sys
import types
import warnings

import numpy as np
import torch

SCRIPTS_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REPO_ROOT = os.path.dirname(SCRIPTS_DIR)
OUT_DIR = os.path.join(REPO_ROOT, 'fixtures', 'families', 'fcaformer')
REFERENCE = 'hkzhang-git/FcaFormer@7dcd8e0ed207a6c74708ab10553dcd6a6d4ea2bd'

sys.path.insert(0, SCRIPTS_DIR)
from make_fixtures import as_list, randomize_, run, shared_input, tame_heads  # noqa: E402
from reference_counts import toolbox_count  # noqa: E402

import common  # noqa: E402
from common import family_main, load_weights  # noqa: E402

VARIANTS = ['fcaformer_l1', 'fcaformer_l2', 'fcaformer_l3', 'fcaformer_l4']
COUNT_RESOLUTIONS = [224, 256]  # 256: each variant built at img_size=256 (tables for 16x16 and 8x8)
ONNX_RESOLUTION = 224

# Every block type: ConvNeXt blocks and patch merging in stages 0-1; in stage 2 a first FcaBlock
# (no cross tokens), blocks with one and with two earlier blocks' cross tokens, one where
# cab_max_d = 2 drops the oldest, and a last block that makes none; stage 3 with 2x2 -> 1 cross token.
# The input, 90, is below the build size 96 it needs (ceil chains to the 6x6 and 3x3 tables).
TINY = {'embedDims': [16, 16, 32, 48], 'depths': [1, 1, 4, 2], 'numHeads': [0, 0, 2, 3], 'cabMaxDepth': 2, 'numClasses': 10}
TINY_RESOLUTION = 90


def reference_module(repo):
    try:
        import matplotlib.pyplot  # noqa: F401
    except ImportError:
        for name in ('matplotlib', 'matplotlib.pyplot'):
            sys.modules.setdefault(name, types.ModuleType(name))
    path = os.path.join(repo, 'image_classification', 'models', 'fcaformer.py')
    spec = importlib.util.spec_from_file_location('fcaformer_reference', path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # timm's register_model looks the module up
    with warnings.catch_warnings():  # timm's deprecated import paths, re-registered model names
        warnings.simplefilter('ignore')
        spec.loader.exec_module(module)
    return module


def build_size(resolution):
    return 32 * math.ceil(resolution / 32)


def build_tiny(ref):
    c = TINY
    return ref.FcaFormer(img_size=build_size(TINY_RESOLUTION), embed_dims=c['embedDims'], depths=c['depths'],
                         num_heads=c['numHeads'], cab_max_d=c['cabMaxDepth'], num_classes=c['numClasses'])


def tiny_rules():
    """The family's own parameters, which randomize_'s built-in rules do not know."""
    cx_norm = lambda suffix: lambda n: n.startswith(('layer_0.', 'layer_1.')) and n.endswith('.norm.' + suffix)  # noqa: E731
    return [
        (cx_norm('weight'), 0.5, 1.5),  # the file's own LayerNorm class, not nn.LayerNorm
        (cx_norm('bias'), -0.2, 0.2),
        (lambda n: n.endswith(('.gamma_1', '.gamma_2')), 0.1, 0.6),
        (lambda n: n.endswith('.s_token_bias'), -1.0, 1.0),
        (lambda n: n.endswith('.s_scale_factors'), 0.5, 1.5),
    ]


def check_tiny_structure(model):
    blocks = model.layer_2.blocks
    widths = [b.s_token_bias.shape[-1] if b.inner_depth > 0 else 0 for b in blocks]
    # 6x6 grid: 4 cross tokens a block; block 3 keeps only the last two blocks' (cab_max_d = 2).
    if widths != [0, 4, 8, 8] or [b.s_up for b in blocks] != [True, True, True, False]:
        raise SystemExit(f'tiny stage 2 is not the intended one: cross widths {widths}')
    if [b.s_token_bias.shape[-1] for b in model.layer_3.blocks[1:]] != [1]:
        raise SystemExit('tiny stage 3 is not the intended one')


def make_reference(repo):
    torch.set_num_threads(1)  # one thread: the same summation order on every run
    ref = reference_module(repo)
    counts = []
    for name in VARIANTS:
        for res in COUNT_RESOLUTIONS:
            model = getattr(ref, name)(img_size=res).eval()
            tb_params, tb_macs = toolbox_count(model, (), res)
            total = sum(p.numel() for p in model.parameters())
            counts.append({'model': name, 'resolution': res, 'params': {'toolbox': tb_params, 'total': total},
                           'macs': {'toolbox': tb_macs}})
            print(f'{name} @{res}: toolbox {tb_params} params, {tb_macs} MACs; {total} total')

    model = build_tiny(ref)
    check_tiny_structure(model)
    randomize_(model, seed=7, extra_rules=tiny_rules())
    model.eval()
    x = shared_input(TINY_RESOLUTION)
    logits = tame_heads(model, [model.head], x, run(model, x))
    os.makedirs(OUT_DIR, exist_ok=True)
    checkpoint = 'fcaformer_tiny.pth'
    torch.save(model.state_dict(), os.path.join(OUT_DIR, checkpoint))
    print(f'fcaformer_tiny @{TINY_RESOLUTION}: max |logit| {float(np.abs(logits).max()):.4g}, '
          f'{os.path.getsize(os.path.join(OUT_DIR, checkpoint))} bytes')

    import timm
    doc = {
        'generator': {'script': 'scripts/families/fcaformer.py', 'reference': REFERENCE,
                      'torch': torch.__version__, 'timm': timm.__version__},
        'counts': counts,
        'fixtures': [{'name': 'fcaformer_tiny', 'config': TINY, 'resolution': TINY_RESOLUTION,
                      'checkpoints': {'reference': checkpoint}, 'logits': as_list(logits)}],
    }
    with open(os.path.join(OUT_DIR, 'reference.json'), 'w') as f:
        json.dump(doc, f, indent=1)
        f.write('\n')


def torch_onnx(args):
    model = getattr(reference_module(args.reference_repo), args.model)(img_size=ONNX_RESOLUTION)
    common.torch_onnx(load_weights(model, args.weights), args)


def main():
    family_main(__doc__, 'hkzhang-git/FcaFormer', VARIANTS, lambda args: make_reference(args.reference_repo), torch_onnx,
                resolution=ONNX_RESOLUTION, fixed_resolution=True)


if __name__ == '__main__':
    main()
