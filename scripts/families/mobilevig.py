#!/usr/bin/env python3
"""MobileViG's reference figures and fixtures, from the SLDGroup/MobileViG code itself.

    python scripts/families/mobilevig.py --reference-repo /path/to/MobileViG reference
        writes fixtures/families/mobilevig/reference.json (toolbox and total counts of every
        variant at 224 and 256; tiny random-weight fixtures with their logits) and the
        fixtures' checkpoints beside it.

    python scripts/families/mobilevig.py --reference-repo /path/to/MobileViG torch-onnx \\
        --model mobilevig_ti --weights w.safetensors --onnx-out torch.onnx [--input x.bin --logits-out y.bin]
        the contract of scripts/torch_reference.py: the reference variant with eformer's weights
        (loaded strictly), exported by torch.onnx.export at opset 17; prints {"export_s": seconds}.

Needs torch, timm (the reference imports it) and safetensors; eformer itself never needs them.
"""
import json
import os
import sys
import warnings

import numpy as np
import torch

SCRIPTS_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REPO_ROOT = os.path.dirname(SCRIPTS_DIR)
OUT_DIR = os.path.join(REPO_ROOT, 'fixtures', 'families', 'mobilevig')
REFERENCE = 'SLDGroup/MobileViG@087df4f4fc11d04a26af2d5eea746eeb538014b9'

sys.path.insert(0, SCRIPTS_DIR)
from make_fixtures import as_list, randomize_, run, shared_input  # noqa: E402
from reference_counts import toolbox_count  # noqa: E402

import common  # noqa: E402
from common import family_main, load_weights  # noqa: E402

VARIANTS = ['mobilevig_ti', 'mobilevig_s', 'mobilevig_m', 'mobilevig_b']
COUNT_RESOLUTIONS = [224, 256]
TARGET_ABS_LOGIT = 4.0

# Tiny models with every block type: stem, inverted residuals, the Downsamples between local
# stages, into the graph stages and between two graph stages (no released variant has a second
# graph stage, the code allows it), Grapher (MRConv4d with shifts along both axes) + FFN, the
# prediction conv and both heads. At 100 px the graph stages run at 7x7 (shifts 2, 4, 6) and 4x4
# (shift 2), both reached through odd sizes (25 -> 13 -> 7 -> 4). The second fixture has K = 3,
# one head and one graph stage at 7x7 (shifts 3, 6).
FIXTURES = [
    dict(name='mobilevig_tiny', resolution=100, seed=11,
         config=dict(localBlocks=[1, 2], localChannels=[8, 16], globalBlocks=[2, 1], globalChannels=[24, 32],
                     embDims=40, k=2, distillation=True, numClasses=10)),
    dict(name='mobilevig_tiny_k3', resolution=224, seed=12,
         config=dict(localBlocks=[1, 1, 1], localChannels=[8, 16, 16], globalBlocks=[1], globalChannels=[24],
                     embDims=32, k=3, distillation=False, numClasses=10)),
]


def import_reference(repo):
    sys.path.insert(0, repo)
    with warnings.catch_warnings():  # timm warns about its moved module paths the reference imports
        warnings.simplefilter('ignore')
        from models import mobilevig
    return mobilevig


def build_variant(mv, name):
    return getattr(mv, name)().eval()


def build_config(mv, c):
    """The reference MobileViG from a fixture's eformer config (the JSON field names)."""
    return mv.MobileViG(local_blocks=c['localBlocks'], local_channels=c['localChannels'],
                        global_blocks=c['globalBlocks'], global_channels=c['globalChannels'],
                        emb_dims=c['embDims'], K=c['k'], distillation=c['distillation'],
                        num_classes=c['numClasses'])


def counts(mv):
    records = []
    for name in VARIANTS:
        model = build_variant(mv, name)
        total = sum(p.numel() for p in model.parameters())
        for res in COUNT_RESOLUTIONS:
            params, macs = toolbox_count(model, (), res)
            records.append({'model': name, 'resolution': res, 'params': {'toolbox': params, 'total': total},
                            'macs': {'toolbox': macs}})
            print(f'{name} @{res}: {params} toolbox params, {macs} toolbox MACs, {total} total', file=sys.stderr)
    return records


def fixture(mv, f):
    torch.manual_seed(0)
    model = build_config(mv, f['config'])
    randomize_(model, seed=f['seed'])
    model.eval()
    x = shared_input(f['resolution'])
    logits = run(model, x)
    heads = [model.head] + ([model.dist_head] if f['config']['distillation'] else [])
    # Logits are linear in the heads' weights and biases together: scale them to a few units.
    scale = TARGET_ABS_LOGIT / float(np.abs(logits).max())
    with torch.no_grad():
        for head in heads:
            head.weight.mul_(scale)
            head.bias.mul_(scale)
    logits = run(model, x)
    checkpoint = f'{f["name"]}.pth'
    torch.save(model.state_dict(), os.path.join(OUT_DIR, checkpoint))
    size = os.path.getsize(os.path.join(OUT_DIR, checkpoint))
    if size > 1.2e6:
        raise SystemExit(f'{checkpoint} is {size} bytes: keep fixtures under 1.2 MB')
    print(f'{f["name"]} @{f["resolution"]}: max |logit| {np.abs(logits).max():.3f}, {size} bytes', file=sys.stderr)
    return {'name': f['name'], 'config': f['config'], 'resolution': f['resolution'],
            'checkpoints': {'reference': checkpoint}, 'logits': as_list(logits)}


def reference(args):
    import timm
    mv = import_reference(args.reference_repo)
    os.makedirs(OUT_DIR, exist_ok=True)
    out = {'generator': {'script': 'scripts/families/mobilevig.py', 'reference': REFERENCE,
                         'torch': torch.__version__, 'timm': timm.__version__},
           'counts': counts(mv),
           'fixtures': [fixture(mv, f) for f in FIXTURES]}
    with open(os.path.join(OUT_DIR, 'reference.json'), 'w') as fh:
        json.dump(out, fh, indent=1)
        fh.write('\n')


def torch_onnx(args):
    model = load_weights(build_variant(import_reference(args.reference_repo), args.model), args.weights)
    common.torch_onnx(model, args)


def main():
    torch.set_num_threads(1)
    family_main(__doc__, 'SLDGroup/MobileViG', VARIANTS, reference, torch_onnx)


if __name__ == '__main__':
    main()
