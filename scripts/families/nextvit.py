#!/usr/bin/env python3
"""Reference counts, fixtures and a torch.onnx export for eformer's Next-ViT, from bytedance/Next-ViT.

    python scripts/families/nextvit.py --reference-repo /path/to/Next-ViT reference
        writes fixtures/families/nextvit/reference.json and the fixture checkpoints:
        - counts: every zoo variant at 224 and 384 (toolbox rules of scripts/reference_counts.py,
          total = every parameter), built by the repo's own nextvit_small/base/large;
        - fixtures: a tiny Next-ViT with random weights far from their initialisation, saved in
          the original naming (torch.save of the state_dict) and in timm's (safetensors), with the
          logits the reference code gives on the shared input at two resolutions.

    python scripts/families/nextvit.py --reference-repo DIR torch-onnx --model nextvit_small \\
        --weights w.safetensors --onnx-out torch.onnx [--input x.bin --logits-out y.bin]
        the contract of scripts/torch_reference.py: the reference variant with eformer's weights
        (strict), exported by torch.onnx.export at opset 17; prints {"export_s": seconds}.

The reference hard-codes its stage widths (96 ... 1024 channels), so no tiny model can come from
its constructor: the tiny fixture is assembled from the reference's own blocks (ConvBNReLU, NCB,
NTB) and NextViT.forward, following the block plan eformer's config describes. `check_assembly`
shows the assembler reproduces the constructor exactly for the three published variants. timm's
copy is assembled the same way from timm's blocks (NextStage etc.), and its weights come from
timm's own checkpoint_filter_fn applied to the reference state_dict.

Needs torch, timm 0.9 (the reference imports it; timm's nextvit for the timm naming), einops,
safetensors. eformer itself never needs any of them.
"""
import contextlib
import io
import json
import os
import sys
import warnings
from functools import partial

import numpy as np
import torch
import torch.nn as nn

SCRIPTS_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REPO_ROOT = os.path.dirname(SCRIPTS_DIR)
OUT_DIR = os.path.join(REPO_ROOT, 'fixtures', 'families', 'nextvit')
sys.path.insert(0, SCRIPTS_DIR)
from make_fixtures import as_list, randomize_, shared_input  # noqa: E402
from reference_counts import toolbox_count  # noqa: E402

from common import export_onnx, family_main, load_weights, write_logits  # noqa: E402

REFERENCE = 'bytedance/Next-ViT@922e771ae6028b9d956e2622a984459a50aa63d4'
VARIANTS = ['nextvit_small', 'nextvit_base', 'nextvit_large']
COUNT_RESOLUTIONS = [224, 384]
ONNX_RESOLUTION = 224
TIMM_TOLERANCE = 1e-5
TARGET_ABS_LOGIT = 4.0
MAX_CHECKPOINT_BYTES = 1_200_000

# eformer's NextVitConfig defaults: the published variants differ only in depths.
PUBLISHED = dict(stemChannels=[64, 32, 64], convWidths=[96, 192, 384, 768], transformerWidths=[0, 256, 512, 1024],
                 transformerEvery=[0, 4, 5, 3], strides=[1, 2, 2, 2], srRatios=[8, 4, 2, 1], headDim=32,
                 mixBlockRatio=0.75, numClasses=1000)
PUBLISHED_DEPTHS = {'nextvit_small': [3, 4, 10, 3], 'nextvit_base': [3, 4, 20, 3], 'nextvit_large': [3, 4, 30, 3]}

# Every block kind the family has: NCB with a width change at stride 1 (features.0), NCB with an
# identity embedding (1), NCB with the strided pool + conv embedding (2, 4, 6), NTB with pooled keys
# and BatchNorm1d (3, 5: stages 1 and 2) and NTB with full keys (7: stage 3, sr 1). The smallest
# widths that keep the published structure: with mixBlockRatio 0.5 an NTB of 48 channels has 32
# attention channels (its NCB predecessor's width, so its own embedding is the identity, as
# published) and 16 conv-attention channels; with the published 0.75 no width under 80 splits into
# two positive multiples of the head size. MLP widths (3 x 32, 2 x 48) are multiples of 32, where
# the reference's make_divisible and timm's int() agree.
TINY = dict(stemChannels=[8, 8, 16], depths=[2, 2, 2, 2], convWidths=[32, 32, 32, 32], transformerWidths=[0, 48, 48, 48],
            transformerEvery=[0, 2, 2, 2], strides=[1, 2, 2, 2], srRatios=[8, 4, 2, 1], headDim=8,
            mixBlockRatio=0.5, numClasses=10)
# 64: every grid even, every token count a multiple of the pooling group (64 = 4 x 16, 16 = 4 x 4).
# 100: odd grids 25 -> 13 -> 7 (partial ceil-mode pooling windows) and token counts that leave a
# remainder the key pooling drops (169 = 10 x 16 + 9, 49 = 12 x 4 + 1).
TINY_RESOLUTIONS = [64, 100]


def quiet():
    """The reference prints 'initialize_weights...' and re-registers timm's model names."""
    stack = contextlib.ExitStack()
    stack.enter_context(contextlib.redirect_stdout(io.StringIO()))
    stack.enter_context(warnings.catch_warnings())
    warnings.simplefilter('ignore')
    return stack


def import_reference(repo):
    sys.path.insert(0, os.path.join(repo, 'classification'))
    with quiet():
        import nextvit
    return nextvit


def block_plan(cfg):
    """(kind, stage, in, out, stride) per block in `features` order, as eformer's blockPlan."""
    plan, channels = [], cfg['stemChannels'][2]
    for stage, depth in enumerate(cfg['depths']):
        every = cfg['transformerEvery'][stage]
        for index in range(depth):
            kind = 'ntb' if every > 0 and (index + 1) % every == 0 else 'ncb'
            out = cfg['transformerWidths'][stage] if kind == 'ntb' else cfg['convWidths'][stage]
            plan.append((kind, stage, channels, out, cfg['strides'][stage] if index == 0 else 1))
            channels = out
    return plan


def assemble_reference(ref, cfg):
    """A NextViT with the reference's own blocks and forward, laid out by `cfg`."""
    with quiet():
        model = ref.NextViT.__new__(ref.NextViT)
        nn.Module.__init__(model)
        model.use_checkpoint = False
        s = cfg['stemChannels']
        model.stem = nn.Sequential(ref.ConvBNReLU(3, s[0], kernel_size=3, stride=2), ref.ConvBNReLU(s[0], s[1], kernel_size=3, stride=1),
                                   ref.ConvBNReLU(s[1], s[2], kernel_size=3, stride=1), ref.ConvBNReLU(s[2], s[2], kernel_size=3, stride=2))
        features = []
        for kind, stage, cin, cout, stride in block_plan(cfg):
            if kind == 'ncb':
                features.append(ref.NCB(cin, cout, stride=stride, path_dropout=0, drop=0, head_dim=cfg['headDim']))
            else:
                features.append(ref.NTB(cin, cout, path_dropout=0, stride=stride, sr_ratio=cfg['srRatios'][stage], head_dim=cfg['headDim'],
                                        mix_block_ratio=cfg['mixBlockRatio'], attn_drop=0, drop=0))
        model.features = nn.Sequential(*features)
        model.norm = nn.BatchNorm2d(cout, eps=ref.NORM_EPS)
        model.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        model.proj_head = nn.Sequential(nn.Linear(cout, cfg['numClasses']))
    return model.eval()


def assemble_timm(cfg):
    """timm's NextViT laid out by `cfg`, from timm's blocks (its constructor hard-codes the widths too)."""
    import timm.models.nextvit as tn
    from timm.layers import ClassifierHead
    relu = partial(nn.ReLU, inplace=True)
    model = tn.NextViT.__new__(tn.NextViT)
    nn.Module.__init__(model)
    model.grad_checkpointing = False
    model.num_classes = cfg['numClasses']
    s = cfg['stemChannels']
    conv = partial(tn.ConvNormAct, kernel_size=3, norm_layer=nn.BatchNorm2d, act_layer=relu)
    model.stem = nn.Sequential(conv(3, s[0], stride=2), conv(s[0], s[1], stride=1), conv(s[1], s[2], stride=1), conv(s[2], s[2], stride=2))
    plan, stages, channels = block_plan(cfg), [], s[2]
    for stage, depth in enumerate(cfg['depths']):
        blocks = [b for b in plan if b[1] == stage]
        stages.append(tn.NextStage(channels, block_chs=[b[3] for b in blocks],
                                   block_types=[tn.NextTransformerBlock if b[0] == 'ntb' else tn.NextConvBlock for b in blocks],
                                   stride=cfg['strides'][stage], sr_ratio=cfg['srRatios'][stage], mix_block_ratio=cfg['mixBlockRatio'],
                                   head_dim=cfg['headDim'], drop_path=[0.0] * depth, norm_layer=nn.BatchNorm2d, act_layer=relu))
        channels = blocks[-1][3]
    model.stages = nn.Sequential(*stages)
    model.num_features = channels
    model.norm = nn.BatchNorm2d(channels)
    model.head = ClassifierHead(pool_type='avg', in_features=channels, num_classes=cfg['numClasses'])
    return model.eval()


def same_layout(a, b, label):
    """Same state_dict keys in the same order, same shapes."""
    sa, sb = a.state_dict(), b.state_dict()
    layout = lambda sd: [(k, tuple(v.shape)) for k, v in sd.items()]  # noqa: E731
    if layout(sa) != layout(sb):
        raise SystemExit(f'{label}: the assembled model differs from the constructor')


def check_assembly(ref):
    """The assemblers reproduce both constructors for every published variant, keys, order and shapes;
    for small also the outputs with shared weights."""
    import timm.models.nextvit as tn
    for name in VARIANTS:
        cfg = dict(PUBLISHED, depths=PUBLISHED_DEPTHS[name])
        with quiet():
            genuine, genuine_timm = getattr(ref, name)().eval(), getattr(tn, name)().eval()
        same_layout(assemble_reference(ref, cfg), genuine, f'{name} (reference)')
        same_layout(assemble_timm(cfg), genuine_timm, f'{name} (timm)')
        if name == 'nextvit_small':
            ours = assemble_reference(ref, cfg)
            randomize_(ours, seed=7)
            genuine.load_state_dict(ours.state_dict(), strict=True)
            x = shared_input(96)
            with torch.no_grad():
                diff = float((ours(x) - genuine(x)).abs().max())
            if diff != 0.0:
                raise SystemExit(f'{name}: assembled and constructed outputs differ by {diff}')
    print(f'  assembly reproduces {", ".join(VARIANTS)} (reference and timm constructors)')


def count_records(ref):
    records = []
    for name in VARIANTS:
        for resolution in COUNT_RESOLUTIONS:
            with quiet():
                model = getattr(ref, name)().eval()
            tb_params, tb_macs = toolbox_count(model, (), resolution)
            total = sum(p.numel() for p in model.parameters())
            records.append({'model': name, 'resolution': resolution, 'params': {'toolbox': tb_params, 'total': total},
                            'macs': {'toolbox': tb_macs}})
            print(f'  {name} @{resolution}: {tb_params} params, {tb_macs} MACs, {total} total')
    return records


def run(model, x):
    with torch.no_grad():
        return model(x)[0].numpy().astype(np.float32)


def check_tiny_structure(model, ref):
    """The tiny model holds every block kind listed at TINY."""
    kinds = [(type(m).__name__, type(m.patch_embed.avgpool).__name__, type(m.patch_embed.conv).__name__) for m in model.features]
    want = [('NCB', 'Identity', 'Conv2d'), ('NCB', 'Identity', 'Identity'), ('NCB', 'AvgPool2d', 'Conv2d'), ('NTB', 'Identity', 'Identity'),
            ('NCB', 'AvgPool2d', 'Conv2d'), ('NTB', 'Identity', 'Identity'), ('NCB', 'AvgPool2d', 'Conv2d'), ('NTB', 'Identity', 'Identity')]
    pooled = [m.e_mhsa.sr_ratio > 1 for m in model.features if isinstance(m, ref.NTB)]
    if kinds != want or pooled != [True, True, False]:
        raise SystemExit(f'tiny structure: {kinds}, pooled keys {pooled}')


def make_fixtures(ref):
    os.makedirs(OUT_DIR, exist_ok=True)
    model = assemble_reference(ref, TINY)
    check_tiny_structure(model, ref)
    randomize_(model, seed=11)
    model.eval()
    peak = max(float(np.abs(run(model, shared_input(r))).max()) for r in TINY_RESOLUTIONS)
    with torch.no_grad():
        model.proj_head[0].weight.mul_(TARGET_ABS_LOGIT / peak)
        model.proj_head[0].bias.mul_(TARGET_ABS_LOGIT / peak)
    print(f'  head scaled by {TARGET_ABS_LOGIT / peak:.4g} (max |logit| was {peak:.4g})')
    state = {k: v.detach().clone() for k, v in model.state_dict().items()}

    files = {'reference': 'nextvit_tiny.pth', 'timm': 'nextvit_tiny.timm.safetensors'}
    torch.save(state, os.path.join(OUT_DIR, files['reference']))

    import timm.models.nextvit as tn
    from safetensors.torch import save_file
    timm_model = assemble_timm(TINY)
    timm_state = tn.checkpoint_filter_fn(dict(state), timm_model)
    timm_model.load_state_dict(timm_state, strict=True)
    save_file({k: v.contiguous() for k, v in timm_state.items()}, os.path.join(OUT_DIR, files['timm']), metadata={'format': 'pt'})

    reloaded = assemble_reference(ref, TINY)
    reloaded.load_state_dict(torch.load(os.path.join(OUT_DIR, files['reference'])), strict=True)
    fixtures = []
    for resolution in TINY_RESOLUTIONS:
        x = shared_input(resolution)
        logits = run(model, x)
        if not np.array_equal(run(reloaded, x), logits):
            raise SystemExit('the saved reference checkpoint does not reproduce the logits')
        timm_diff = float(np.abs(run(timm_model, x) - logits).max())
        if timm_diff > TIMM_TOLERANCE:
            raise SystemExit(f'timm naming @{resolution}: logits differ by {timm_diff}')
        print(f'  nextvit_tiny @{resolution}: max |logit| {np.abs(logits).max():.4g}; timm vs reference {timm_diff:.3g}')
        fixtures.append({'name': f'nextvit_tiny_{resolution}', 'config': TINY, 'resolution': resolution, 'checkpoints': files,
                         'logits': as_list(logits)})
    for f in files.values():
        size = os.path.getsize(os.path.join(OUT_DIR, f))
        if size > MAX_CHECKPOINT_BYTES:
            raise SystemExit(f'{f} is {size} bytes')
        print(f'  {f}: {size} bytes')
    return fixtures


def reference_command(args):
    import timm
    torch.set_num_threads(1)  # one thread: the same summation order on every run
    ref = import_reference(args.reference_repo)
    print('assembly check')
    check_assembly(ref)
    print('counts')
    counts = count_records(ref)
    print('fixtures')
    fixtures = make_fixtures(ref)
    out = {'generator': {'script': 'scripts/families/nextvit.py', 'reference': REFERENCE, 'torch': torch.__version__, 'timm': timm.__version__},
           'counts': counts, 'fixtures': fixtures}
    with open(os.path.join(OUT_DIR, 'reference.json'), 'w') as f:
        json.dump(out, f, indent=1)
        f.write('\n')


def torch_onnx_command(args):
    """The reference's own deployment path: merge_bn() folds the pre-norm BatchNorms into the next
    1x1 conv / linear before exporting. Without it the export would be wrong, not just slower: the
    reference's forward skips those BatchNorms whenever torch.onnx.is_in_onnx_export() is true."""
    with quiet():
        model = getattr(import_reference(args.reference_repo), args.model)()
    load_weights(model, args.weights)
    write_logits(model, args)  # the unmerged model: the reference's own numbers
    model.merge_bn()
    with quiet():
        seconds = export_onnx(model, args)
    print(json.dumps({'export_s': seconds}))


def main():
    family_main(__doc__, 'bytedance/Next-ViT', VARIANTS, reference_command, torch_onnx_command,
                resolution=ONNX_RESOLUTION, fixed_resolution=True)


if __name__ == '__main__':
    main()
