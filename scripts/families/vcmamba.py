#!/usr/bin/env python3
"""Reference counts, fixtures and ONNX exports for eformer's VCMamba family, from the repo's own code.

    python scripts/families/vcmamba.py --reference-repo DIR reference
    python scripts/families/vcmamba.py --reference-repo DIR torch-onnx --model vcmamba_s \\
        --weights W.safetensors --onnx-out O.onnx [--input X.bin --logits-out Y.bin]

DIR is a checkout of Wertyuui345/VCMamba (model/mambacnn.py, model/plain_mamba_layer.py).

`reference` writes fixtures/families/vcmamba/reference.json: the toolbox counts (the hook rules of
scripts/reference_counts.py) and total params of every zoo variant at 224 and at 200 (the released
models take 193 to 224 only: pos_embed is fixed to the 7x7 stage-3 grid), and two tiny fixtures
with every block type (FFN, Embedding, PlainMambaLayer, pos_embed, both heads): one built at 224
and run at 200 (7x7 grid, odd: the released scan orders), one built and run at 128 (4x4 grid, even:
the other starting corners of scans 2 and 4). Weights are random and far from init, saved with
torch.save(model.state_dict()), with the logits of make_fixtures.shared_input.

`torch-onnx` builds a zoo variant, loads eformer's weights strictly, torch.onnx.export's it (opset
17) and optionally runs a raw float32 [1,3,224,224] input; prints {"export_s": seconds}. torch 1.13's
exporter has no symbolic for aten::unflatten (PlainMamba2D's `.unflatten(2, (H, W))`; torch 2.0 added
one): unflatten_symbolic() below exports it as the Reshape it is. The CPU scan stub is traced as
its Python loop, unrolled.

The repo imports packages that need CUDA or are not installed here. The stubs below replace them;
each is exact on CPU for the way mambacnn.py uses it:
  mamba_ssm.ops.selective_scan_interface.selective_scan_fn -> selective_scan() below: the CUDA
      kernel's recurrence evaluated step by step in float32 (delta = softplus(delta + delta_bias),
      threshold 20 as the kernel; h_t = exp(delta_t A) h_{t-1} + delta_t B_t u_t;
      y_t = h_t . C_t + D u_t; B, C [b, n, l] shared by all channels; z = None). It differs from
      the kernel only by float rounding (the kernel uses exp2f with A pre-scaled by log2 e and a
      parallel block scan).
  mamba_ssm.ops.triton.layer_norm.RMSNorm -> a class that raises if built: only built with
      use_rms_norm=True, which mambacnn.py never passes.
  mmcv.cnn.bricks.transformer.build_dropout -> timm DropPath(drop_prob): identity in eval, no
      parameters or buffers, so the keys are the same.
  mmcv.cnn.utils.weight_init.trunc_normal_ -> timm trunc_normal_: initialises direction_Bs only;
      every value is overwritten by the fixture's weights or a checkpoint.
  timm.models.layers.helpers.to_2tuple -> timm.layers.to_2tuple (reference_counts.timm_compat;
      timm 0.9 moved it).

Needs torch, timm, einops (and safetensors for torch-onnx). eformer itself never needs any of them.
"""
import importlib.util
import json
import os
import sys
import types
import warnings

import numpy as np
import torch
import torch.nn.functional as F

SCRIPTS_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REPO_ROOT = os.path.dirname(SCRIPTS_DIR)
OUT_DIR = os.path.join(REPO_ROOT, 'fixtures', 'families', 'vcmamba')
sys.path.insert(0, SCRIPTS_DIR)
from make_fixtures import as_list, randomize_, run, shared_input  # noqa: E402
from reference_counts import timm_compat, toolbox_count  # noqa: E402

import common  # noqa: E402
from common import family_main, load_weights  # noqa: E402

REFERENCE = 'Wertyuui345/VCMamba@f8795a002b29f370d527b82479f70640b06ff3cb'
ZOO = {'vcmamba_s': 'VCMamba_EfficientFormer_S', 'vcmamba_m': 'VCMamba_EfficientFormer_M',
       'vcmamba_b': 'VCMamba_EfficientFormer_B'}
COUNT_RESOLUTIONS = (224, 200)
NUM_CLASSES = 10
TARGET_ABS_LOGIT = 4.0
MAX_CHECKPOINT_BYTES = 1_200_000
# Every block type: stage 3 holds one FFN, then two PlainMambaLayers (pos_embed before the first).
TINY = dict(widths=[8, 16, 24, 32], depths=[1, 1, 1, 3], mambaBlocks=2)
FIXTURES = [
    # name, the constructor's resolution (pos_embed grid = resolution // 32), input resolution
    ('vcmamba_tiny', 224, 200),
    ('vcmamba_tiny_even', 128, 128),
]
# The family's own parameters (make_fixtures' randomize_ knows convs, linears and norms):
# A = -exp(A_log) from -0.14 to -7.4 gives slow and fast decays, so the scan carries state
# across many steps; D, direction_Bs and pos_embed far from their init (1, ~0, ~0).
EXTRA_RULES = (
    (lambda n: n.endswith('.A_log'), -2.0, 2.0),
    (lambda n: n.endswith('.D'), 0.5, 1.5),
    (lambda n: n.endswith('.direction_Bs'), -0.5, 0.5),
    (lambda n: n == 'pos_embed', -0.5, 0.5),
)


# ---------------------------------------------------------------- stubs for the reference imports

def selective_scan(u, delta, A, B, C, D=None, z=None, delta_bias=None, delta_softplus=False,
                   return_last_state=False):
    """mamba_ssm's selective_scan_fn for PlainMamba2D's arguments, step by step in float32:
    u, delta [b, d, l]; A [d, n]; B, C [b, n, l]; D, delta_bias [d]; z None."""
    assert z is None and B.dim() == 3 and C.dim() == 3
    dtype_in = u.dtype
    u, delta, A, B, C = (t.float() for t in (u, delta, A, B, C))
    if delta_bias is not None:
        delta = delta + delta_bias.float()[:, None]
    if delta_softplus:
        delta = F.softplus(delta)  # beta 1, threshold 20 (x > 20 passes through), as the kernel
    h = u.new_zeros(u.shape[0], u.shape[1], A.shape[1])
    ys = []
    for t in range(u.shape[2]):
        dt = delta[:, :, t, None]
        h = torch.exp(dt * A) * h + dt * B[:, None, :, t] * u[:, :, t, None]
        ys.append((h * C[:, None, :, t]).sum(-1))
    y = torch.stack(ys, dim=-1)
    if D is not None:
        y = y + u * D.float()[:, None]
    y = y.to(dtype_in)
    return (y, h) if return_last_state else y


class _RMSNormUnavailable(torch.nn.Module):
    def __init__(self, *args, **kwargs):
        raise RuntimeError('RMSNorm stub: use_rms_norm=True is not part of the released models')


def _stub_module(name, **attrs):
    parts = name.split('.')
    for i in range(1, len(parts) + 1):
        sub = '.'.join(parts[:i])
        if sub not in sys.modules:
            mod = types.ModuleType(sub)
            mod.__path__ = []
            sys.modules[sub] = mod
            if i > 1:
                setattr(sys.modules['.'.join(parts[:i - 1])], parts[i - 1], mod)
    for key, value in attrs.items():
        setattr(sys.modules[name], key, value)


def install_stubs():
    from timm.layers import DropPath, trunc_normal_

    def build_dropout(cfg, default_args=None):
        assert cfg['type'] == 'DropPath', cfg
        return DropPath(cfg.get('drop_prob', 0.0))

    _stub_module('mmcv.cnn.bricks.transformer', build_dropout=build_dropout)
    _stub_module('mmcv.cnn.utils.weight_init', trunc_normal_=trunc_normal_)
    _stub_module('mamba_ssm.ops.selective_scan_interface', selective_scan_fn=selective_scan)
    _stub_module('mamba_ssm.ops.triton.layer_norm', RMSNorm=_RMSNormUnavailable)
    timm_compat()


def import_reference(repo):
    """model/mambacnn.py, which does `import plain_mamba_layer` from its own folder."""
    install_stubs()
    model_dir = os.path.join(repo, 'model')
    sys.path.insert(0, model_dir)
    spec = importlib.util.spec_from_file_location('vcmamba_mambacnn', os.path.join(model_dir, 'mambacnn.py'))
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # timm's register_model looks the module up
    with warnings.catch_warnings():  # the file re-registers timm model names
        warnings.simplefilter('ignore')
        spec.loader.exec_module(mod)
    return mod


def build_zoo(ref, name):
    torch.manual_seed(0)
    return getattr(ref, ZOO[name])().eval()


def build_tiny(ref, build_resolution):
    torch.manual_seed(0)
    return ref.EfficientFormer(layers=TINY['depths'], embed_dims=TINY['widths'], downsamples=[True] * 4,
                               vit_num=TINY['mambaBlocks'], resolution=build_resolution, if_abs_pos_embed=True,
                               num_classes=NUM_CLASSES).eval()


# ---------------------------------------------------------------- reference

def counts(ref):
    records = []
    for name in ZOO:
        for res in COUNT_RESOLUTIONS:
            model = build_zoo(ref, name)
            tb_params, tb_macs = toolbox_count(model, (), res)
            total = sum(p.numel() for p in model.parameters())
            records.append({'model': name, 'resolution': res, 'params': {'toolbox': tb_params, 'total': total},
                            'macs': {'toolbox': tb_macs}})
            print(f'  {name} @{res}: toolbox params {tb_params}, MACs {tb_macs}, total params {total}')
    return records


def check_tiny_structure(ref, model):
    kinds = [type(m).__name__ for m in model.network[6]]
    if kinds != ['FFN', 'PlainMambaLayer', 'PlainMambaLayer'] or not isinstance(model.network[1], ref.Embedding):
        raise SystemExit(f'tiny stage 3 is {kinds}')


def scale_heads(model, x):
    """Heads scaled so that the largest |logit| is TARGET_ABS_LOGIT."""
    peak = float(np.abs(run(model, x)).max())
    with torch.no_grad():
        for head in (model.head, model.dist_head):
            head.weight.mul_(TARGET_ABS_LOGIT / peak)
            head.bias.mul_(TARGET_ABS_LOGIT / peak)
    return run(model, x)


def fixture(ref, name, build_resolution, resolution, seed):
    model = build_tiny(ref, build_resolution)
    check_tiny_structure(ref, model)
    randomize_(model, seed=seed, extra_rules=EXTRA_RULES)
    model.eval()
    x = shared_input(resolution)
    logits = scale_heads(model, x)
    path = os.path.join(OUT_DIR, f'{name}.pth')
    torch.save(model.state_dict(), path)
    size = os.path.getsize(path)
    if size > MAX_CHECKPOINT_BYTES:
        raise SystemExit(f'{path} is {size} bytes')
    # The saved file, loaded into a fresh model, gives the same logits.
    fresh = build_tiny(ref, build_resolution)
    fresh.load_state_dict(torch.load(path), strict=True)
    if not np.array_equal(run(fresh.eval(), x), logits):
        raise SystemExit(f'{name}: the saved checkpoint does not reproduce the logits')
    grid = build_resolution // 32
    print(f'  {name}: pos_embed {grid}x{grid}, input {resolution}, max |logit| {np.abs(logits).max():.3f}, {size} bytes')
    config = dict(TINY, posEmbedGrid=grid, numClasses=NUM_CLASSES)
    return {'name': name, 'config': config, 'resolution': resolution, 'checkpoints': {'reference': f'{name}.pth'},
            'logits': as_list(logits)}


def reference(repo):
    ref = import_reference(repo)
    torch.set_num_threads(1)
    os.makedirs(OUT_DIR, exist_ok=True)
    import timm
    out = {
        'generator': {'script': 'scripts/families/vcmamba.py', 'reference': REFERENCE,
                      'torch': torch.__version__, 'timm': timm.__version__},
        'counts': counts(ref),
        'fixtures': [fixture(ref, name, build_res, res, seed) for seed, (name, build_res, res) in enumerate(FIXTURES)],
    }
    with open(os.path.join(OUT_DIR, 'reference.json'), 'w') as f:
        json.dump(out, f, indent=1)
        f.write('\n')


# ---------------------------------------------------------------- torch-onnx

def unflatten_symbolic(g, x, dim, sizes):
    """aten::unflatten(x, dim, sizes) as ONNX: Reshape to shape[:dim] + sizes + shape[dim+1:]."""
    from torch.onnx import symbolic_helper as sh
    rank = sh._get_tensor_rank(x)
    d = sh._get_const(dim, 'i', 'dim') % rank
    shape = g.op('Shape', x)
    parts = [sh._slice_helper(g, shape, axes=[0], starts=[0], ends=[d])]
    parts += [sh._unsqueeze_helper(g, g.op('Cast', v, to_i=7), [0]) for v in sh._unpack_list(sizes)]  # 7: int64
    parts.append(sh._slice_helper(g, shape, axes=[0], starts=[d + 1], ends=[rank]))
    return g.op('Reshape', x, g.op('Concat', *parts, axis_i=0))


def torch_onnx(args):
    model = load_weights(build_zoo(import_reference(args.reference_repo), args.model), args.weights)
    torch.onnx.register_custom_op_symbolic('aten::unflatten', unflatten_symbolic, 17)
    common.torch_onnx(model, args)


def main():
    family_main(__doc__, 'Wertyuui345/VCMamba', ZOO, lambda args: reference(args.reference_repo), torch_onnx,
                resolution=224, fixed_resolution=True)


if __name__ == '__main__':
    main()
