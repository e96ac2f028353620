#!/usr/bin/env python3
"""Export the reference PyTorch model, with eformer's weights, to ONNX for benchmarking.

Builds a model from a snap-research/EfficientFormer checkout, loads a safetensors
state_dict written by eformer (strictly: every key must match), and writes the graph
that torch.onnx.export makes of it (opset 17, constant folding on). Optionally runs
the model on a raw float32 input and writes its logits, so the outputs can be compared.
bench/ort-vs-torch.js drives it.

    python scripts/torch_reference.py --reference-repo /path/to/EfficientFormer \
        --model efficientformer_l1 --weights w.safetensors --onnx-out torch.onnx \
        [--input x.bin --logits-out y.bin]

Needs torch and timm (timm only because the reference models import it), plus
safetensors. eformer itself never needs any of them.
"""
import argparse
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from reference_counts import timm_compat  # noqa: E402

RESOLUTION = 224


def build_reference(model_name):
    """The reference model, untrained, in the form its constructor makes it."""
    timm_compat()
    import models.efficientformer as v1
    import models.efficientformer_v2 as v2
    if model_name.startswith('efficientformerv2_'):
        return getattr(v2, model_name)(resolution=RESOLUTION)
    if model_name.startswith('efficientformer_'):
        return getattr(v1, model_name)()
    raise SystemExit(f'unknown model: {model_name}')


def load_weights(model, path):
    from safetensors.torch import load_file
    model.load_state_dict(load_file(path), strict=True)
    model.eval()  # eval mode caches the attention bias table in .ab
    return model


def export_onnx(model, path, opset=17):
    dummy = torch.zeros(1, 3, RESOLUTION, RESOLUTION)
    with torch.no_grad():
        torch.onnx.export(model, dummy, path, opset_version=opset, do_constant_folding=True,
                          input_names=['image'], output_names=['logits'])


def run_raw(model, input_path, logits_path):
    """Reads a raw float32 little-endian [1,3,R,R] input; writes the logits as raw float32."""
    x = np.fromfile(input_path, dtype='<f4').reshape(1, 3, RESOLUTION, RESOLUTION)
    with torch.no_grad():
        logits = model(torch.from_numpy(x.copy()))
    logits.numpy().astype('<f4').tofile(logits_path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--reference-repo', required=True, help='a checkout of snap-research/EfficientFormer')
    ap.add_argument('--model', required=True, help='e.g. efficientformer_l1, efficientformerv2_s0')
    ap.add_argument('--weights', required=True, help='safetensors state_dict (reference key names)')
    ap.add_argument('--onnx-out', required=True)
    ap.add_argument('--opset', type=int, default=17, help='ONNX opset (17: LayerNorm as one op; 16: decomposed, which converters to TFLite take)')
    ap.add_argument('--input', help='raw float32 [1,3,224,224] input to run the model on')
    ap.add_argument('--logits-out', help='where to write the logits of --input, raw float32')
    args = ap.parse_args()
    if bool(args.input) != bool(args.logits_out):
        ap.error('--input and --logits-out go together')

    sys.path.insert(0, args.reference_repo)
    model = load_weights(build_reference(args.model), args.weights)
    export_onnx(model, args.onnx_out, args.opset)
    if args.input:
        run_raw(model, args.input, args.logits_out)


if __name__ == '__main__':
    main()
