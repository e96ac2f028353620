"""What every scripts/families/<family>.py shares: its command line and the torch side of `torch-onnx`.

The benches call each family script the same way (bench/ort-vs-torch.js, bench/export-time.js):

    <family>.py --reference-repo CHECKOUT reference
    <family>.py --reference-repo CHECKOUT torch-onnx --model NAME --weights W.safetensors --onnx-out F.onnx
                [--input X.f32 --logits-out Y.f32] [--resolution N]

so that contract lives here once, and a family script says only how to build its reference model.
"""
import argparse
import json
import time
import warnings

import numpy as np
import torch


def family_main(doc, repo, variants, reference, torch_onnx, resolution=224, fixed_resolution=False):
    """Parse the shared command line and run `reference(args)` or `torch_onnx(args)`.

    `fixed_resolution`: the family's models take one input size only (their attention tables or
    position embeddings fix it), so `--resolution` is not offered and `args.resolution` is that size.
    """
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument('--reference-repo', required=True, help=f'a checkout of {repo}')
    sub = ap.add_subparsers(dest='command', required=True)
    sub.add_parser('reference', help='toolbox counts of every zoo model and the fixture checkpoints with their logits')
    t = sub.add_parser('torch-onnx', help="torch.onnx.export of a zoo model of the reference code with eformer's weights")
    t.add_argument('--model', required=True, choices=list(variants))
    t.add_argument('--weights', required=True, help='safetensors state_dict (reference key names)')
    t.add_argument('--onnx-out', required=True)
    if not fixed_resolution:
        t.add_argument('--resolution', type=int, default=resolution)
    t.add_argument('--input', help='raw float32 [1,3,R,R] input to run the model on')
    t.add_argument('--logits-out', help='where to write the logits of --input, raw float32')
    args = ap.parse_args()
    if args.command == 'torch-onnx':
        if fixed_resolution:
            args.resolution = resolution
        if bool(args.input) != bool(args.logits_out):
            ap.error('--input and --logits-out go together')
    (reference if args.command == 'reference' else torch_onnx)(args)


def load_weights(model, path):
    """eformer's weights into the reference model, strictly: every key the same, nothing left over."""
    from safetensors.torch import load_file
    model.load_state_dict(load_file(path), strict=True)
    model.eval()
    return model


def write_logits(model, args):
    """The model's logits on `--input`, written raw to `--logits-out` (nothing when no input was given)."""
    if not args.input:
        return
    r = args.resolution
    x = np.fromfile(args.input, dtype='<f4').reshape(1, 3, r, r)
    with torch.no_grad():
        model(torch.from_numpy(x.copy())).numpy().astype('<f4').tofile(args.logits_out)


def export_onnx(model, args):
    """torch.onnx.export as the papers' toolbox did it (opset 17, constant folding); returns the seconds taken."""
    r = args.resolution
    start = time.perf_counter()
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter('ignore')  # tracer warnings about Python numbers in shapes
        torch.onnx.export(model, torch.zeros(1, 3, r, r), args.onnx_out, opset_version=17, do_constant_folding=True,
                          input_names=['image'], output_names=['logits'])
    return time.perf_counter() - start


def torch_onnx(model, args):
    """The usual `torch-onnx`: export, run the input, and print the export time as JSON for the bench."""
    seconds = export_onnx(model, args)
    write_logits(model, args)
    print(json.dumps({'export_s': seconds}))
