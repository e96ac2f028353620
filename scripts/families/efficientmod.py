#!/usr/bin/env python3
"""EfficientMod reference data for eformer, computed by the reference code (ma-xu/EfficientMod).

    python scripts/families/efficientmod.py --reference-repo DIR reference
        writes fixtures/families/efficientmod/reference.json (the toolbox counts of every variant at
        224 and 256, a tiny random-weight model's logits) and that model's checkpoint;
    python scripts/families/efficientmod.py --reference-repo DIR torch-onnx --model NAME \
        --weights W.safetensors --onnx-out O [--input X --logits-out Y] [--resolution R]
        loads eformer's weights (reference key names) strictly into the reference variant, writes
        torch.onnx.export's graph (opset 17, constant folding) and, with --input, the logits of a
        raw float32 [1, 3, R, R] input; prints {"export_s": seconds of torch.onnx.export alone}.

The reference is models/EfficientMod.py of a ma-xu/EfficientMod checkout, imported as a file (the
package's __init__ star-imports all of timm). Needs torch and timm (0.9: the reference imports
timm.models.layers and timm.models.registry), numpy, safetensors and fvcore (the standard MACs);
eformer itself never needs them.
"""
import importlib.util
import json
import os
import sys
import warnings

import numpy as np
import torch

SCRIPTS_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REPO_ROOT = os.path.dirname(SCRIPTS_DIR)
OUT_DIR = os.path.join(REPO_ROOT, 'fixtures', 'families', 'efficientmod')
sys.path.insert(0, SCRIPTS_DIR)
from make_fixtures import as_list, randomize_, shared_input  # noqa: E402
from reference_counts import toolbox_count  # noqa: E402

import common  # noqa: E402
from common import family_main, load_weights  # noqa: E402

REFERENCE = 'ma-xu/EfficientMod@ec04df6da43b91414f3fd9ad0ea7a1161be6157c'
# eformer's zoo name -> the reference's constructor.
VARIANTS = {'efficientmod_xxs': 'efficientMod_xxs', 'efficientmod_xs': 'efficientMod_xs',
            'efficientmod_s': 'efficientMod_s', 'efficientmod_s_conv': 'efficientMod_s_Conv'}
COUNT_RESOLUTIONS = [224, 256]

# A tiny model with every block type: modulation blocks with r = 1 (no GELU, plain product) and
# r > 1 (GELU, context tiled r times), attention blocks in stages 2 and 3 (one with a fractional
# MLP ratio), the three downsampling embeddings; a 5x5 context conv exercises contextSize. Odd
# grids (18, 9, 5, 3 at 72) keep every padding edge in play.
TINY = dict(embedDims=[16, 24, 32, 40], depths=[2, 1, 1, 1], attentionDepths=[0, 0, 1, 1],
            mlpRatios=[[1, 3], [2], [1], [4]], attentionRatios=[4, 4, 2.5, 3], contextSize=5, numClasses=10)
TINY_RESOLUTION = 72
TARGET_ABS_LOGIT = 4.0


def load_reference(repo):
    path = os.path.join(repo, 'models', 'EfficientMod.py')
    spec = importlib.util.spec_from_file_location('efficientmod_reference', path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # timm's register_model looks the module up there
    with warnings.catch_warnings():  # timm 0.9 warns about the deprecated import paths
        warnings.simplefilter('ignore')
        spec.loader.exec_module(module)
    return module


def build_variant(ref, name):
    torch.manual_seed(0)
    model = getattr(ref, VARIANTS[name])()
    return model.eval()


def build_tiny(ref):
    c = TINY
    return ref.EfficientMod(
        in_chans=3, num_classes=c['numClasses'], patch_size=[7, 3, 3, 3], patch_stride=[4, 2, 2, 2],
        patch_pad=[3, 1, 1, 1], patch_norm=True, embed_dim=c['embedDims'], depths=c['depths'],
        attention_depth=c['attentionDepths'], mlp_ratio=c['mlpRatios'], att_ratio=c['attentionRatios'],
        conv_in_mlp=[True] * 4, use_layerscale=True, conv_group_dim=c['mlpRatios'],
        context_size=[[c['contextSize']] * d for d in c['depths']]).eval()


def standard_macs(model, resolution):
    """fvcore's multiply-adds of the convs, Linears and matmuls: what eformer's `macs.standard` counts."""
    from fvcore.nn import FlopCountAnalysis
    analysis = FlopCountAnalysis(model, torch.zeros(1, 3, resolution, resolution))
    analysis.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
    by_operator = analysis.by_operator()
    return int(sum(by_operator.get(op, 0) for op in ('conv', 'linear', 'matmul')))


def counts(ref):
    records = []
    for name in VARIANTS:
        model = build_variant(ref, name)
        total = sum(p.numel() for p in model.parameters())
        for res in COUNT_RESOLUTIONS:
            params, macs = toolbox_count(model, (), res)
            standard = standard_macs(model, res)
            records.append({'model': name, 'resolution': res, 'params': {'toolbox': params, 'total': total},
                            'macs': {'toolbox': macs, 'standard': standard}})
            print(f'{name} @{res}: {params} params, {macs} MACs ({standard} standard), {total} total', file=sys.stderr)
    return records


def check_tiny_structure(model, ref):
    """Every block type must be present, or the fixture proves less than it claims."""
    blocks = [b for layer in model.layers for b in layer.blocks]
    plain = [b for b in blocks if isinstance(b, ref.BasicBlock) and not b.mlp.expand_dim]
    widened = [b for b in blocks if isinstance(b, ref.BasicBlock) and b.mlp.expand_dim]
    attention = [b for b in blocks if isinstance(b, ref.AttentionBlock)]
    downsamples = [layer.downsample for layer in model.layers if layer.downsample is not None]
    if not (plain and widened and attention and len(downsamples) == 3):
        raise SystemExit(f'tiny model lacks a block type: {len(plain)} r=1, {len(widened)} r>1, '
                         f'{len(attention)} attention, {len(downsamples)} downsamples')


def tiny_fixture(ref):
    torch.set_num_threads(1)  # one thread: the same summation order on every run
    model = build_tiny(ref)
    check_tiny_structure(model, ref)
    # gamma_1 starts at 1e-4; far from it, so a missed layer scale shows in the logits.
    randomize_(model, seed=7, extra_rules=[(lambda n: n.endswith('.gamma_1'), 0.1, 0.6)])
    x = shared_input(TINY_RESOLUTION)
    with torch.no_grad():
        peak = float(model(x).abs().max())
        model.head.weight.mul_(TARGET_ABS_LOGIT / peak)
        model.head.bias.mul_(TARGET_ABS_LOGIT / peak)
        logits = model(x)[0]
    name = 'efficientmod_tiny'
    os.makedirs(OUT_DIR, exist_ok=True)
    torch.save(model.state_dict(), os.path.join(OUT_DIR, f'{name}.pth'))
    print(f'{name}: max |logit| {float(logits.abs().max()):.4g} (head scaled by {TARGET_ABS_LOGIT / peak:.4g})', file=sys.stderr)
    return {'name': name, 'config': TINY, 'resolution': TINY_RESOLUTION,
            'checkpoints': {'reference': f'{name}.pth'}, 'logits': as_list(logits.numpy().astype(np.float32))}


def reference_main(ref):
    import timm
    record = {'generator': {'script': 'scripts/families/efficientmod.py', 'reference': REFERENCE,
                            'torch': torch.__version__, 'timm': timm.__version__},
              'counts': counts(ref), 'fixtures': [tiny_fixture(ref)]}
    path = os.path.join(OUT_DIR, 'reference.json')
    with open(path, 'w') as f:
        json.dump(record, f, indent=1)
        f.write('\n')
    print(f'wrote {os.path.relpath(path, REPO_ROOT)}', file=sys.stderr)


def torch_onnx_main(args):
    model = load_weights(build_variant(load_reference(args.reference_repo), args.model), args.weights)
    common.torch_onnx(model, args)


def main():
    family_main(__doc__, 'ma-xu/EfficientMod', sorted(VARIANTS),
                lambda args: reference_main(load_reference(args.reference_repo)), torch_onnx_main)


if __name__ == '__main__':
    main()
