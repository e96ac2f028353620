#!/usr/bin/env python3
"""Test fixtures for eformer's checkpoint loaders, ONNX numerics and `eformer predict`.

Makes, under fixtures/:
  checkpoints/v1_tiny.*     a tiny EfficientFormer (V1) with random weights, in the original
                            snap-research naming (.pth, plus fp16 and bf16 copies) and in timm
                            naming (.timm.safetensors), with the logits it gives (v1_tiny.json);
  checkpoints/v2_tiny.*     the same for a tiny EfficientFormerV2, plus DDP ('module.'), EMA
                            ('model_ema') and bare-safetensors wrappings of its weights;
  checkpoints/v1_tiny_hf/   a tiny Hugging Face EfficientFormerForImageClassificationWithTeacher
                            (config.json + model.safetensors) and v1_tiny_hf.json;
  checkpoints/evil.pth      a torch-style zip whose data.pkl would run a shell command if it were
                            unpickled, and nopkl.pth, a zip without data.pkl;
  images/                   gradient.png/.jpg and the pixel values Hugging Face's
                            EfficientFormerImageProcessor makes of them (preprocess.json says how);
and src/models/imagenet-classes.json, the ImageNet-1k class names from torchvision's metadata.

Every model is run on the same deterministic input (see shared_input), and its logits go into
the fixture's JSON. Random weights are drawn from seeded generators, so a rerun with the same
library versions writes the same numbers.

    python scripts/make_fixtures.py [--reference-repo /path/to/EfficientFormer]

Needs torch, torchvision, timm, transformers, safetensors, numpy and Pillow, and a checkout of
snap-research/EfficientFormer. eformer itself never needs any of them.
"""
import argparse
import hashlib
import json
import math
import os
import pickle
import pickletools
import re
import sys
import warnings
import zipfile

import numpy as np
import torch
import torch.nn as nn

SCRIPTS_DIR = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(SCRIPTS_DIR)
CKPT_DIR = os.path.join(REPO_ROOT, 'fixtures', 'checkpoints')
IMAGE_DIR = os.path.join(REPO_ROOT, 'fixtures', 'images')
CLASSES_PATH = os.path.join(REPO_ROOT, 'src', 'models', 'imagenet-classes.json')

sys.path.insert(0, SCRIPTS_DIR)
from reference_counts import timm_compat  # noqa: E402

NUM_CLASSES = 10
RESOLUTION = 224
MAX_ABS_LOGIT = 50.0     # above this, the heads are scaled down
TARGET_ABS_LOGIT = 10.0  # ... to this
TIMM_TOLERANCE = 1e-5

V1_CONFIG = dict(layers=[1, 1, 1, 2], embed_dims=[16, 16, 32, 32], vit_num=1)
V2_CONFIG = dict(layers=[1, 1, 2, 2], embed_dims=[16, 16, 32, 32], vit_num=1,
                 e_ratios={'0': [4], '1': [4], '2': [4, 3], '3': [4, 3]})

WRITTEN = []  # every file this run writes, for the listing at the end


# ---------------------------------------------------------------- shared helpers

def shared_input(resolution=RESOLUTION):
    """The input every model fixture is run on; the TypeScript tests rebuild it the same way."""
    i = np.arange(3 * resolution * resolution, dtype=np.float64)
    x = (np.sin(i * 0.37) * 1.5 + np.cos(i * 0.011)).astype(np.float32)
    return torch.from_numpy(x.reshape(1, 3, resolution, resolution))


def generator_info():
    import timm
    import transformers
    return {'script': 'scripts/make_fixtures.py', 'torch': torch.__version__,
            'timm': timm.__version__, 'transformers': transformers.__version__}


def out_path(*parts):
    path = os.path.join(*parts)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    WRITTEN.append(path)
    return path


def write_json(path, obj):
    with open(out_path(path), 'w') as f:
        json.dump(obj, f, indent=1)
        f.write('\n')


def save_torch(obj, name):
    torch.save(obj, out_path(CKPT_DIR, name))  # zip format, torch's default


def save_safetensors(state_dict, path):
    from safetensors.torch import save_file
    save_file({k: v.contiguous() for k, v in state_dict.items()}, out_path(path), metadata={'format': 'pt'})


def cloned(state_dict):
    """A detached copy, so later edits to the model don't reach the saved tensors."""
    return {k: v.detach().clone() for k, v in state_dict.items()}


def cast_floats(state_dict, dtype):
    return {k: v.to(dtype) if v.is_floating_point() else v for k, v in state_dict.items()}


def as_list(logits):
    """float32 values as JSON numbers; float() of a float32 is exact, so nothing is rounded."""
    return [float(v) for v in logits]


# ---------------------------------------------------------------- random weights

def _uniform_(tensor, lo, hi, gen):
    with torch.no_grad():
        tensor.copy_(torch.rand(tensor.shape, generator=gen) * (hi - lo) + lo)


def randomize_(model, seed, extra_rules=()):
    """Fresh values for every floating parameter and buffer; fails if it misses one.

    extra_rules: (predicate(name), lo, hi) for a family's own parameters (position embeddings,
    state-space constants, scale factors), tried in order before the built-in ones.
    """
    gen = torch.Generator().manual_seed(seed)
    done = set()

    def fill(prefix, name, tensor, lo, hi):
        _uniform_(tensor, lo, hi, gen)
        done.add(f'{prefix}.{name}' if prefix else name)

    for prefix, mod in model.named_modules():
        if isinstance(mod, (nn.Conv2d, nn.Linear)):
            bound = math.sqrt(3.0 / mod.weight[0].numel())  # fan_in: in_channels/groups * kernel area
            fill(prefix, 'weight', mod.weight, -bound, bound)
            if mod.bias is not None:
                fill(prefix, 'bias', mod.bias, -0.2, 0.2)
        elif isinstance(mod, nn.modules.batchnorm._BatchNorm):
            fill(prefix, 'weight', mod.weight, 0.5, 1.5)
            fill(prefix, 'bias', mod.bias, -0.2, 0.2)
            fill(prefix, 'running_mean', mod.running_mean, -0.2, 0.2)
            fill(prefix, 'running_var', mod.running_var, 0.5, 2.0)
        elif isinstance(mod, nn.LayerNorm):
            fill(prefix, 'weight', mod.weight, 0.5, 1.5)
            fill(prefix, 'bias', mod.bias, -0.2, 0.2)
    for name, param in model.named_parameters():
        if name in done:
            continue
        rule = next((r for r in extra_rules if r[0](name)), None)
        if rule:
            fill('', name, param, rule[1], rule[2])
        elif 'layer_scale' in name or name.endswith('.gamma'):
            fill('', name, param, 0.1, 0.6)
        elif 'attention_biases' in name:
            fill('', name, param, -1.0, 1.0)

    tensors = list(model.named_parameters()) + list(model.named_buffers())
    missed = [n for n, t in tensors if t.is_floating_point() and n not in done]
    if missed:
        raise SystemExit(f'randomize_: no rule for {missed}')


def run(model, x):
    """Eval-mode logits as a float32 numpy vector (the model must already be in eval mode)."""
    with torch.no_grad():
        out = model(x)
    out = getattr(out, 'logits', out)  # Hugging Face returns an output object
    return out[0].numpy().astype(np.float32)


def tame_heads(model, heads, x, logits):
    """Scales the classifier heads down if the logits are far from unit scale."""
    peak = float(np.abs(logits).max())
    if peak <= MAX_ABS_LOGIT:
        return logits
    scale = TARGET_ABS_LOGIT / peak
    with torch.no_grad():
        for head in heads:
            head.weight.mul_(scale)
            head.bias.mul_(scale)
    print(f'  heads scaled by {scale:.4g} (max |logit| was {peak:.4g})')
    return run(model, x)


def logits_from(build, state_dict, x):
    """Logits of a fresh float32 model loaded strictly with state_dict.

    eval() comes after loading because the reference attention caches its bias table in eval().
    """
    model = build()
    model.load_state_dict(cast_floats(state_dict, torch.float32), strict=True)
    model.eval()
    return run(model, x)


def require_same(label, got, want, tol=0.0):
    diff = float(np.abs(got - want).max())
    print(f'  {label}: max |diff| {diff:.3g}')
    if diff > tol:
        raise SystemExit(f'{label}: logits differ by {diff} (tolerance {tol})')
    return diff


def import_reference(repo):
    sys.path.insert(0, repo)
    timm_compat()
    with warnings.catch_warnings():  # the reference re-registers timm's model names
        warnings.simplefilter('ignore')
        import models.efficientformer as v1
        import models.efficientformer_v2 as v2
    return v1, v2


# ---------------------------------------------------------------- V1 (snap + timm)

def build_snap_v1(v1):
    return v1.EfficientFormer(**V1_CONFIG, downsamples=[True] * 4, num_classes=NUM_CLASSES, distillation=True)


def check_v1_structure(model, v1):
    """Stage 3 must be Meta4D, Flat, Meta3D: the path the V1 loader has to get right."""
    last = model.network[-1]
    kinds = [type(m) for m in last]
    if kinds != [v1.Meta4D, v1.Flat, v1.Meta3D]:
        raise SystemExit(f'V1 stage 3 is {[k.__name__ for k in kinds]}')
    print('  V1 stage 3: Meta4D, Flat, Meta3D')


def build_timm_v1():
    from timm.models.efficientformer import EfficientFormer
    # timm puts each downsample at the start of a stage, so stage 0 has none; the snap model's
    # downsamples[3] is unused (there is no stage after the last).
    return EfficientFormer(depths=V1_CONFIG['layers'], embed_dims=V1_CONFIG['embed_dims'],
                           downsamples=(False, True, True, True), num_vit=V1_CONFIG['vit_num'],
                           num_classes=NUM_CLASSES)


def v1_to_timm(snap_sd):
    """timm's own remapping of original V1 checkpoints (private in timm 0.9)."""
    from timm.models import efficientformer as tv1
    convert = getattr(tv1, 'checkpoint_filter_fn', None) or getattr(tv1, '_checkpoint_filter_fn')
    return convert(dict(snap_sd), None)


def reference(model, seed, x):
    """Randomize, switch to eval (caches the bias tables), run: (logits, state_dict)."""
    randomize_(model, seed=seed)
    model.eval()
    logits = tame_heads(model, [model.head, model.dist_head], x, run(model, x))
    return logits, cloned(model.state_dict())


def make_v1(v1, x):
    print('V1 tiny')
    model = build_snap_v1(v1)
    check_v1_structure(model, v1)
    logits, sd = reference(model, 1, x)
    save_torch({'model': sd}, 'v1_tiny.pth')
    require_same('v1_tiny.pth reloaded', logits_from(lambda: build_snap_v1(v1), sd, x), logits)

    timm_sd = v1_to_timm(sd)
    fresh_idxs = {k: v for k, v in build_timm_v1().state_dict().items() if k.endswith('attention_bias_idxs')}
    for k, v in fresh_idxs.items():  # the snap table must equal the one timm would build itself
        if not torch.equal(timm_sd[k], v):
            raise SystemExit(f'{k}: snap and timm disagree')
    timm_diff = require_same('timm vs snap', logits_from(build_timm_v1, timm_sd, x), logits, TIMM_TOLERANCE)
    save_safetensors(timm_sd, os.path.join(CKPT_DIR, 'v1_tiny.timm.safetensors'))

    low = {}
    for tag, dtype in [('fp16', torch.float16), ('bf16', torch.bfloat16)]:
        rounded = cast_floats(sd, dtype)
        save_torch({'model': rounded}, f'v1_tiny.{tag}.pth')
        low[tag] = logits_from(lambda: build_snap_v1(v1), rounded, x)
        require_same(f'{tag} vs float32 (information only)', low[tag], logits, tol=math.inf)

    write_json(os.path.join(CKPT_DIR, 'v1_tiny.json'), {
        'family': 'efficientformer',
        'config': {'hiddenSizes': V1_CONFIG['embed_dims'], 'depths': V1_CONFIG['layers'],
                   'numMeta3dBlocks': V1_CONFIG['vit_num'], 'numClasses': NUM_CLASSES},
        'resolution': RESOLUTION,
        'logits': as_list(logits),
        'max_abs_logit': float(np.abs(logits).max()),
        'fp16_logits': as_list(low['fp16']),
        'bf16_logits': as_list(low['bf16']),
        'timm_max_abs_diff': timm_diff,
        'files': {'snap': 'v1_tiny.pth', 'timm': 'v1_tiny.timm.safetensors',
                  'fp16': 'v1_tiny.fp16.pth', 'bf16': 'v1_tiny.bf16.pth'},
        'generator': generator_info(),
    })
    return float(np.abs(logits).max())


# ---------------------------------------------------------------- V2 (snap + timm)

# The V2 attention modules take their sizes from constructor defaults that the model classes
# never pass on (8 heads of 32, 1024 value channels: ~1.2 MB of a tiny model). Both the
# original and timm's classes get the same smaller defaults here, so the fixtures stay well
# under 1 MB and also exercise eformer's keyDim / numHeads / attnRatio settings.
V2_ATTENTION = dict(key_dim=8, num_heads=4, attn_ratio=2, downsample_key_dim=8)


def shrink_v2_attention(attention, downsample):
    """(dim, key_dim, num_heads, attn_ratio, ...) defaults of the two attention classes."""
    a = V2_ATTENTION
    for cls, key_dim in ((attention, a['key_dim']), (downsample, a['downsample_key_dim'])):
        defaults = list(cls.__init__.__defaults__)
        defaults[1:4] = [key_dim, a['num_heads'], a['attn_ratio']]
        cls.__init__.__defaults__ = tuple(defaults)


def build_snap_v2(v2):
    shrink_v2_attention(v2.Attention4D, v2.Attention4DDownsample)
    return v2.EfficientFormerV2(**V2_CONFIG, downsamples=[True] * 4, num_classes=NUM_CLASSES,
                                distillation=True, resolution=RESOLUTION)


def check_v2_structure(model, v2):
    """FFN + strided AttnFFN in stage 2, attention downsampling into stage 3, FFN + AttnFFN there."""
    net = model.network
    checks = {
        'stage 2 is FFN, AttnFFN': [type(m) for m in net[4]] == [v2.FFN, v2.AttnFFN],
        'stage 2 attention has stride': net[4][1].token_mixer.stride_conv is not None,
        'stage 3 is FFN, AttnFFN': [type(m) for m in net[6]] == [v2.FFN, v2.AttnFFN],
        'stage 3 attention has no stride': net[6][1].token_mixer.stride_conv is None,
        'embedding 2->3 uses Attention4DDownsample':
            net[5].asub and isinstance(net[5].attn, v2.Attention4DDownsample),
        'embeddings 0->1, 1->2 are plain': not net[1].asub and not net[3].asub,
    }
    failed = [k for k, ok in checks.items() if not ok]
    if failed:
        raise SystemExit(f'V2 structure: {failed}')
    print('  V2: ' + '; '.join(checks))


def build_timm_v2():
    from timm.models import efficientformer_v2 as timm_v2
    from timm.models.efficientformer_v2 import EfficientFormerV2
    shrink_v2_attention(timm_v2.Attention2d, timm_v2.Attention2dDownsample)
    ratios = tuple(tuple(V2_CONFIG['e_ratios'][str(i)]) for i in range(4))
    return EfficientFormerV2(depths=V2_CONFIG['layers'], embed_dims=V2_CONFIG['embed_dims'],
                             downsamples=(False, True, True, True), num_vit=V2_CONFIG['vit_num'],
                             mlp_ratios=ratios, img_size=RESOLUTION, num_classes=NUM_CLASSES,
                             distillation=True)


# timm has no converter for original V2 checkpoints (its hub weights were converted offline),
# so this mapping was worked out here by comparing the two models' state_dict keys; the strict
# load and the logits check below are what vouch for it. Module paths inside a block or a
# downsample, snap -> timm; matched whole, first match wins.
V2_MODULE_RULES = [
    (r'mlp\.fc1', 'mlp.fc1.conv'), (r'mlp\.norm1', 'mlp.fc1.bn'),
    (r'mlp\.mid', 'mlp.mid.conv'), (r'mlp\.mid_norm', 'mlp.mid.bn'),
    (r'mlp\.fc2', 'mlp.fc2.conv'), (r'mlp\.norm2', 'mlp.fc2.bn'),
    (r'attn\.q\.local\.0', 'attn.q.local'),
    (r'attn\.q\.proj\.0', 'attn.q.proj.conv'), (r'attn\.q\.proj\.1', 'attn.q.proj.bn'),
    (r'(token_mixer|attn)\.(q|k|v|v_local|stride_conv)\.0', r'\1.\2.conv'),
    (r'(token_mixer|attn)\.(q|k|v|v_local|stride_conv)\.1', r'\1.\2.bn'),
    (r'(token_mixer|attn)\.proj\.1', r'\1.proj.conv'),  # proj.0 is the activation
    (r'(token_mixer|attn)\.proj\.2', r'\1.proj.bn'),
    (r'proj|conv', 'conv.conv'), (r'norm|bn', 'conv.bn'),  # downsample conv + BN
]
V2_STEM = {'patch_embed.0': 'stem.conv1.conv', 'patch_embed.1': 'stem.conv1.bn',
           'patch_embed.3': 'stem.conv2.conv', 'patch_embed.4': 'stem.conv2.bn'}


def _v2_module_path(path):
    for pattern, repl in V2_MODULE_RULES:
        if re.fullmatch(pattern, path):
            return re.sub(pattern, repl, path)
    return path


def _v2_key(key):
    module, leaf = key.rsplit('.', 1)
    if module in V2_STEM:
        return f'{V2_STEM[module]}.{leaf}'
    if key.startswith('dist_head.'):
        return 'head_dist.' + leaf
    m = re.fullmatch(r'network\.(\d+)\.(.+)', key)
    if not m:
        return key  # norm.*, head.*
    index, rest = int(m.group(1)), m.group(2)
    stage = (index + 1) // 2  # network = [stage0, embed, stage1, embed, stage2, embed, stage3]
    if index % 2 == 0:
        block, rest = rest.split('.', 1)
        prefix = f'stages.{stage}.blocks.{block}.'
    else:
        prefix = f'stages.{stage}.downsample.'
    ls = re.fullmatch(r'layer_scale_(\d)', rest)
    if ls:
        return f'{prefix}ls{ls.group(1)}.gamma'
    module, leaf = rest.rsplit('.', 1) if '.' in rest else ('', rest)
    return prefix + (f'{_v2_module_path(module)}.{leaf}' if module else leaf)


def v2_to_timm(snap_sd):
    out = {}
    for key, value in snap_sd.items():
        if key.endswith('attention_bias_idxs'):
            continue  # a non-persistent buffer in timm, rebuilt by its constructor
        new = _v2_key(key)
        if new.endswith('.gamma'):
            value = value.reshape(-1)  # snap keeps layer scales as [C,1,1], timm as [C]
        out[new] = value
    return out


def check_v2_bias_tables(snap_sd):
    """timm rebuilds the bias index tables itself, so they must equal the snap ones."""
    timm_bufs = dict(build_timm_v2().named_buffers())
    for key, value in snap_sd.items():
        if key.endswith('attention_bias_idxs'):
            twin = _v2_key(key)
            if not torch.equal(timm_bufs[twin], value):
                raise SystemExit(f'{key}: snap and timm bias tables differ')


def make_v2(v2, x):
    print('V2 tiny')
    model = build_snap_v2(v2)
    check_v2_structure(model, v2)
    logits, sd = reference(model, 2, x)
    build = lambda: build_snap_v2(v2)  # noqa: E731

    save_torch({'model': sd}, 'v2_tiny.pth')
    save_torch({'state_dict': {'module.' + k: v for k, v in sd.items()}}, 'v2_tiny.ddp.pth')
    save_torch({'model_ema': sd, 'epoch': 3}, 'v2_tiny.ema.pth')
    save_safetensors(sd, os.path.join(CKPT_DIR, 'v2_tiny.bare.safetensors'))
    require_same('v2 reloaded', logits_from(build, sd, x), logits)

    check_v2_bias_tables(sd)
    timm_sd = v2_to_timm(sd)
    timm_diff = require_same('timm vs snap', logits_from(build_timm_v2, timm_sd, x), logits, TIMM_TOLERANCE)
    save_safetensors(timm_sd, os.path.join(CKPT_DIR, 'v2_tiny.timm.safetensors'))

    write_json(os.path.join(CKPT_DIR, 'v2_tiny.json'), {
        'family': 'efficientformerv2',
        'config': {'widths': V2_CONFIG['embed_dims'], 'depths': V2_CONFIG['layers'],
                   'vitNum': V2_CONFIG['vit_num'],
                   'expansionRatios': [V2_CONFIG['e_ratios'][str(i)] for i in range(4)],
                   'keyDim': V2_ATTENTION['key_dim'], 'numHeads': V2_ATTENTION['num_heads'],
                   'attnRatio': V2_ATTENTION['attn_ratio'], 'downsampleKeyDim': V2_ATTENTION['downsample_key_dim'],
                   'numClasses': NUM_CLASSES},
        'resolution': RESOLUTION,
        'logits': as_list(logits),
        'max_abs_logit': float(np.abs(logits).max()),
        'timm_max_abs_diff': timm_diff,
        'files': {'snap': 'v2_tiny.pth', 'timm': 'v2_tiny.timm.safetensors', 'ddp': 'v2_tiny.ddp.pth',
                  'ema': 'v2_tiny.ema.pth', 'bare': 'v2_tiny.bare.safetensors'},
        'generator': generator_info(),
    })
    return float(np.abs(logits).max())


# ---------------------------------------------------------------- Hugging Face V1

HF_ATTENTION = dict(key_dim=16, num_attention_heads=4, attention_ratio=4)


def build_hf_config():
    from transformers import EfficientFormerConfig
    config = EfficientFormerConfig(depths=V1_CONFIG['layers'], hidden_sizes=V1_CONFIG['embed_dims'],
                                   num_meta3d_blocks=1, num_labels=NUM_CLASSES, layer_norm_eps=1e-12,
                                   dim=V1_CONFIG['embed_dims'][-1],  # the Meta3D width; default 448
                                   **HF_ATTENTION)
    # transformers 4.46 sizes the WithTeacher heads by config.hidden_size, which the config
    # never sets; the hub checkpoints carry it, so the saved config.json keeps it too.
    config.hidden_size = config.hidden_sizes[-1]
    config.architectures = ['EfficientFormerForImageClassificationWithTeacher']
    return config


def make_hf(x):
    print('Hugging Face V1 tiny')
    from transformers import EfficientFormerForImageClassificationWithTeacher
    config = build_hf_config()
    model = EfficientFormerForImageClassificationWithTeacher(config)
    randomize_(model, seed=3)
    model.eval()
    heads = [model.classifier, model.distillation_classifier]
    logits = tame_heads(model, heads, x, run(model, x))
    with torch.no_grad():
        out = model(pixel_values=x)
    average = ((out.cls_logits + out.distillation_logits) / 2)[0].numpy()
    require_same('.logits vs mean of the two heads', logits, average)

    folder = os.path.join(CKPT_DIR, 'v1_tiny_hf')
    model.config.to_json_file(out_path(folder, 'config.json'))
    save_safetensors(cloned(model.state_dict()), os.path.join(folder, 'model.safetensors'))
    write_json(os.path.join(CKPT_DIR, 'v1_tiny_hf.json'), {
        'family': 'efficientformer',
        'config': {'hiddenSizes': V1_CONFIG['embed_dims'], 'depths': V1_CONFIG['layers'],
                   'numMeta3dBlocks': 1, 'numClasses': NUM_CLASSES, 'keyDim': HF_ATTENTION['key_dim'],
                   'numAttentionHeads': HF_ATTENTION['num_attention_heads'],
                   'attentionRatio': HF_ATTENTION['attention_ratio'], 'layerNormEps': 1e-12},
        'resolution': RESOLUTION,
        'logits': as_list(logits),
        'max_abs_logit': float(np.abs(logits).max()),
        'files': {'hf': 'v1_tiny_hf/model.safetensors', 'config': 'v1_tiny_hf/config.json'},
        'generator': generator_info(),
    })
    return float(np.abs(logits).max())


# ---------------------------------------------------------------- hostile checkpoints

def write_zip(name, entries):
    """A stored (uncompressed) zip like torch.save writes, with fixed timestamps so reruns match."""
    with zipfile.ZipFile(out_path(CKPT_DIR, name), 'w') as z:
        for entry, data in entries.items():
            z.writestr(zipfile.ZipInfo(entry, date_time=(1980, 1, 1, 0, 0, 0)), data)


class _ShellPayload:
    """Pickles as a call to os.system; pickling it runs nothing, unpickling it would."""

    def __reduce__(self):
        return os.system, ('touch /tmp/eformer-pwned',)


def make_hostile():
    print('hostile checkpoints')
    payload = pickle.dumps({'model': _ShellPayload()}, protocol=2)  # torch.save uses protocol 2
    # Read the opcodes (never unpickle) to be sure the payload is what the tests expect.
    ops = [(op.name, arg) for op, arg, _ in pickletools.genops(payload)]
    if ('GLOBAL', f'{os.system.__module__} system') not in ops or ('REDUCE', None) not in ops:
        raise SystemExit(f'unexpected payload opcodes: {ops}')
    write_zip('evil.pth', {'archive/data.pkl': payload, 'archive/version': b'3\n'})
    write_zip('nopkl.pth', {'archive/version': b'3\n'})
    print(f'  evil.pth imports {os.system.__module__}.system')


def make_training_checkpoint():
    """v2_tiny's weights as training scripts save them (the FcaFormer and VCMamba repos, DeiT's
    main.py): {'model', 'optimizer', 'epoch', 'args': argparse.Namespace}, torch.save'd."""
    print('training-script checkpoint')
    state = torch.load(os.path.join(CKPT_DIR, 'v2_tiny.pth'), map_location='cpu')['model']
    args = argparse.Namespace(model='efficientformerv2_s0', lr=1e-3, epochs=300, data_path='/data/imagenet', distillation_type='hard', resume='')
    optimizer = {'state': {}, 'param_groups': [{'lr': 1e-3, 'weight_decay': 0.025, 'params': [0, 1, 2]}]}
    save_torch({'model': state, 'optimizer': optimizer, 'epoch': 299, 'args': args}, 'v2_tiny.training.pth')


# ---------------------------------------------------------------- preprocessing reference

def gradient_image():
    """320x240 RGB: smooth colour ramps plus a solid block, a checkerboard and a thin diagonal."""
    h, w = 240, 320
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    img = np.stack([255 * x / (w - 1),
                    255 * y / (h - 1),
                    127.5 + 120 * np.sin(x / 23.0) * np.cos(y / 17.0)], axis=-1)
    img[60:120, 200:280] = (250, 20, 30)
    checker = ((x // 8 + y // 8) % 2 == 0) & (y >= 150) & (y < 214) & (x >= 24) & (x < 120)
    img[checker] = (10, 10, 10)
    img[np.abs(y - 0.6 * x - 10) < 1.0] = (255, 255, 255)
    return np.clip(np.round(img), 0, 255).astype(np.uint8)


def hf_processor():
    from transformers import EfficientFormerImageProcessor
    from transformers.image_utils import PILImageResampling
    return EfficientFormerImageProcessor(size={'shortest_edge': 256}, crop_size={'height': 224, 'width': 224},
                                         resample=PILImageResampling.BICUBIC, do_center_crop=True,
                                         do_rescale=True, do_normalize=True)


def preprocess_traced(path):
    """Runs HF's processor on an image file, recording what its resize and crop steps saw."""
    from PIL import Image
    proc = hf_processor()
    seen = {}

    def traced(name, fn):
        def wrapper(image, *args, **kwargs):
            out = fn(image, *args, **kwargs)
            seen[name] = (image, out)
            return out
        return wrapper
    proc.resize = traced('resize', proc.resize)  # instance attributes shadow the methods
    proc.center_crop = traced('center_crop', proc.center_crop)
    image = Image.open(path).convert('RGB')
    pixels = proc(images=image, return_tensors='np')['pixel_values']
    return proc, image, pixels, seen


def find_crop(big, small):
    """(left, top) of small inside big, found by search rather than assumed."""
    h, w = small.shape[:2]
    for top in range(big.shape[0] - h + 1):
        for left in range(big.shape[1] - w + 1):
            if np.array_equal(big[top:top + h, left:left + w], small):
                return left, top
    raise SystemExit('crop not found in the resized image')


def describe_preprocessing(path, name):
    """Writes the pixel values of one image and returns what HF did to get them."""
    from PIL import Image
    proc, image, pixels, seen = preprocess_traced(path)
    resize_in, resized = seen['resize']
    crop_in, cropped = seen['center_crop']
    left, top = find_crop(crop_in, cropped)

    # Redo it by hand through PIL in uint8; an exact match confirms how HF resizes.
    width, height = resized.shape[1], resized.shape[0]
    by_pil = np.asarray(image.resize((width, height), Image.BICUBIC))
    pil_uint8_exact = resized.dtype == np.uint8 and np.array_equal(by_pil, resized)
    mean, std = np.array(proc.image_mean), np.array(proc.image_std)
    manual = ((cropped.astype(np.float64) / 255 - mean) / std).transpose(2, 0, 1)[None].astype(np.float32)

    if pixels.dtype != np.float32 or pixels.shape != (1, 3, 224, 224):
        raise SystemExit(f'{name}: unexpected pixel_values {pixels.dtype} {pixels.shape}')
    pixels.astype('<f4').tofile(out_path(IMAGE_DIR, f'{name}.pixel_values.f32'))
    return {
        'source_size': list(image.size),
        'resize_input_dtype': str(resize_in.dtype),
        'resized_size': [width, height],
        'resized_dtype': str(resized.dtype),
        'resized_rgb_sha256': hashlib.sha256(np.ascontiguousarray(resized).tobytes()).hexdigest(),
        'resize_equals_pil_bicubic_uint8': bool(pil_uint8_exact),
        'crop': [left, top],
        'pixel_values': f'{name}.pixel_values.f32',
        'pixel_values_format': 'float32 little-endian, [1,3,224,224] NCHW',
        'max_abs_diff_vs_manual_float64_normalize': float(np.abs(manual - pixels).max()),
    }


def make_images():
    print('preprocessing reference')
    from PIL import Image
    import PIL
    rgb = Image.fromarray(gradient_image(), 'RGB')
    png = out_path(IMAGE_DIR, 'gradient.png')
    jpg = out_path(IMAGE_DIR, 'gradient.jpg')
    rgb.save(png, format='PNG')
    rgb.save(jpg, format='JPEG', quality=90)  # Pillow's default chroma subsampling (4:2:0)

    facts = {name: describe_preprocessing(path, name)
             for name, path in [('gradient.png', png), ('gradient.jpg', jpg)]}
    proc = hf_processor()
    first = facts['gradient.png']
    png_px = np.fromfile(os.path.join(IMAGE_DIR, 'gradient.png.pixel_values.f32'), dtype='<f4')
    jpg_px = np.fromfile(os.path.join(IMAGE_DIR, 'gradient.jpg.pixel_values.f32'), dtype='<f4')
    write_json(os.path.join(IMAGE_DIR, 'preprocess.json'), {
        'processor': 'transformers EfficientFormerImageProcessor',
        'settings': {'size': {'shortest_edge': 256}, 'crop_size': {'height': 224, 'width': 224},
                     'resample': 'BICUBIC', 'do_center_crop': True, 'do_rescale': True, 'do_normalize': True},
        'resized_size': first['resized_size'],
        'crop': first['crop'],
        'resample': 'bicubic via PIL Image.resize, uint8 in and out'
                    if first['resize_equals_pil_bicubic_uint8'] else 'not PIL uint8: see images',
        'resize_rule': 'short side to 256, long side int(256 * long / short), truncated',
        'crop_rule': 'left = (w - 224) // 2, top = (h - 224) // 2',
        'rescale_factor': proc.rescale_factor,
        'image_mean': list(proc.image_mean),
        'image_std': list(proc.image_std),
        'jpeg': {'quality': 90, 'subsampling': '4:2:0 (Pillow default)', 'decoder': 'Pillow'},
        'max_abs_diff_png_vs_jpg_pixel_values': float(np.abs(png_px - jpg_px).max()),
        'images': facts,
        'generator': {**generator_info(), 'pillow': PIL.__version__},
    })
    return first


# ---------------------------------------------------------------- ImageNet class names

def make_classes():
    from torchvision.models import MobileNet_V2_Weights
    from torchvision.models._meta import _IMAGENET_CATEGORIES
    names = list(_IMAGENET_CATEGORIES)
    if len(names) != 1000 or names != list(MobileNet_V2_Weights.IMAGENET1K_V1.meta['categories']):
        raise SystemExit('torchvision ImageNet categories are not the expected 1000 names')
    WRITTEN.append(CLASSES_PATH)
    with open(CLASSES_PATH, 'w') as f:
        json.dump(names, f, indent=1)
        f.write('\n')
    return len(set(names))


# ---------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--reference-repo', default='/tmp/efref', help='a checkout of snap-research/EfficientFormer')
    ap.add_argument('--only', choices=['training-checkpoint'], help='make just this fixture from the existing ones')
    args = ap.parse_args()
    if args.only == 'training-checkpoint':
        make_training_checkpoint()
        return
    torch.set_num_threads(1)  # one thread: the same summation order on every run
    v1, v2 = import_reference(args.reference_repo)
    x = shared_input()

    peaks = {'v1_tiny': make_v1(v1, x), 'v2_tiny': make_v2(v2, x), 'v1_tiny_hf': make_hf(x)}
    make_hostile()
    make_training_checkpoint()
    image_facts = make_images()
    distinct = make_classes()

    print('\nmax |logit|: ' + ', '.join(f'{k} {v:.4g}' for k, v in peaks.items()))
    print(f"HF resize of 320x240: {image_facts['resized_size']}, crop at (left, top) {image_facts['crop']}")
    print(f'ImageNet classes: 1000 names, {distinct} distinct')
    print('\nwritten:')
    for path in WRITTEN:
        print(f'  {os.path.getsize(path):>9}  {os.path.relpath(path, REPO_ROOT)}')


if __name__ == '__main__':
    main()
