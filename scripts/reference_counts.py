#!/usr/bin/env python3
"""Reference params/MACs for the test suite, computed from the PyTorch models.

Counts with forward hooks that follow the rules of the EfficientFormer toolbox.py
(see README, "How eformer counts"), written out here independently, and applied to the
reference model definitions of a snap-research/EfficientFormer checkout and to
torchvision's MobileNetV2.

    python scripts/reference_counts.py --reference-repo /path/to/EfficientFormer \
        > fixtures/reference/counts.json

Needs torch, torchvision and timm (timm only because the reference models import it).
eformer itself never needs any of them.
"""
import argparse
import json
import sys

import torch
import torch.nn as nn


def toolbox_count(model, module_types, resolution):
    """Returns (toolbox params, toolbox MACs) of one forward pass at batch 1."""
    attention_types = tuple(module_types)
    params, macs = [], []

    def conv(m, inp, out):
        macs.append(out.size(1) * out.size(2) * out.size(3) * m.weight.size(-1) ** 2 * inp[0].size(1) // m.groups)
        params.append(m.weight.numel() + m.weight.size(1))

    def linear(m, inp, out):
        tokens = inp[0].size(-2) if inp[0].dim() > 2 else 1
        macs.append(m.weight.size(0) * m.weight.size(1) * tokens)
        # The toolbox reads m.bias.size(0), which raises on a bias-free Linear (EfficientMod's
        # qkv, VCMamba's x_proj); its intent is the bias's size, 0.
        params.append(m.weight.size(0) * m.weight.size(1) + (m.bias.size(0) if m.bias is not None else 0))

    def gelu(m, inp, out):
        # The toolbox looks at the rank of out[0], one lower than the output's own.
        macs.append(out.size(1) * out.size(2) * out.size(3) if out[0].dim() > 3 else out.size(1) * out.size(2))

    def layernorm(m, inp, out):
        # On a 2-D input (FcaFormer's norm_head) size(2) raises; its intent is one token.
        macs.append(2 * inp[0].size(1) * (inp[0].size(2) if inp[0].dim() > 2 else 1))
        params.append(m.weight.size(0) + m.bias.size(0))

    def avgpool(m, inp, out):
        # A tuple kernel (Next-ViT's (2, 2) pools) would make int * tuple raise: kernel area.
        k = m.kernel_size if isinstance(m.kernel_size, tuple) else (m.kernel_size, m.kernel_size)
        macs.append(out.size(1) * out.size(2) * out.size(3) * k[0] * k[1])

    def attention(m, inp, out):
        macs.append(m.key_dim * m.N * m.N2 * m.num_heads + m.dh * m.N * m.N2)

    handles = []
    for mod in model.modules():
        hook = None
        if isinstance(mod, nn.Conv2d):
            hook = conv
        elif isinstance(mod, nn.Linear):
            hook = linear
        elif isinstance(mod, nn.GELU):
            hook = gelu
        elif isinstance(mod, nn.LayerNorm):
            hook = layernorm
        elif isinstance(mod, nn.AvgPool2d):
            hook = avgpool
        elif attention_types and isinstance(mod, attention_types):
            hook = attention
        if hook:
            handles.append(mod.register_forward_hook(hook))
    with torch.no_grad():
        model(torch.randn(1, 3, resolution, resolution))
    for h in handles:
        h.remove()
    return int(sum(params)), int(sum(macs))


def timm_compat():
    """The reference models import timm paths that newer timm releases moved."""
    import types
    import timm.layers
    try:
        import timm.models.layers.helpers  # noqa: F401
    except ImportError:
        shim = types.ModuleType('timm.models.layers.helpers')
        shim.to_2tuple = timm.layers.to_2tuple
        sys.modules['timm.models.layers.helpers'] = shim


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--reference-repo', required=True, help='a checkout of snap-research/EfficientFormer')
    args = ap.parse_args()
    sys.path.insert(0, args.reference_repo)
    timm_compat()
    import models.efficientformer as v1
    import models.efficientformer_v2 as v2
    import torchvision

    cases = [
        ('efficientformer_l1', v1.efficientformer_l1, [224], (v1.Attention,)),
        ('efficientformer_l3', v1.efficientformer_l3, [224], (v1.Attention,)),
        ('efficientformer_l7', v1.efficientformer_l7, [224], (v1.Attention,)),
    ]
    v2_types = (v2.Attention4D, v2.Attention4DDownsample)
    for name in ['s0', 's1', 's2', 'l']:
        cases.append((f'efficientformerv2_{name}', getattr(v2, f'efficientformerv2_{name}'), [224, 256, 384], v2_types))
    cases.append(('mobilenetv2_100', lambda **_: torchvision.models.mobilenet_v2(width_mult=1.0), [224, 160], ()))
    cases.append(('mobilenetv2_140', lambda **_: torchvision.models.mobilenet_v2(width_mult=1.4), [224], ()))

    records = []
    for name, ctor, resolutions, types in cases:
        for res in resolutions:
            model = ctor(resolution=res) if name.startswith('efficientformerv2') else ctor()
            model.eval()
            tb_params, tb_macs = toolbox_count(model, types, res)
            total = sum(p.numel() for p in model.parameters())
            records.append({'model': name, 'resolution': res,
                            'params': {'toolbox': tb_params, 'total': total},
                            'macs': {'toolbox': tb_macs}})
            print(f'{name} @{res}: {tb_params} params, {tb_macs} MACs, {total} total', file=sys.stderr)
    json.dump({'generator': 'scripts/reference_counts.py',
               'torch': torch.__version__, 'torchvision': torchvision.__version__,
               'counts': records}, sys.stdout, indent=1)
    print()


if __name__ == '__main__':
    main()
