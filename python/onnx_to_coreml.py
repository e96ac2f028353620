#!/usr/bin/env python3
"""eformer's Core ML bridge: the ONNX graph eformer exported, rebuilt op by op with
coremltools' MIL builder (recent coremltools no longer converts ONNX itself).

    python onnx_to_coreml.py --onnx MODEL.onnx --out OUT.mlpackage [--format mlprogram|neuralnetwork]
        [--precision fp16|fp32] [--min-target iOS16] [--input-type image|tensor] [--labels FILE]
        [--metadata JSON] [--quantize int8|palettize4|palettize6] [--report REPORT.json]
        [--w8a8 DIR --w8a8-inputs N]

Exit codes, which eformer turns into one line each: 0 ok; 10 an ONNX op or attribute this
bridge does not map (the message names the op and the node); 11 coremltools is missing or of
an unsupported version; 12 conversion or verification failed; 13 the model's numbers do not fit the
package's precision (activations overflowing fp16 in W8A8 calibration: an input problem, not a bug). The report (JSON) holds the
verification: input/output names and shapes, the op histogram, and (fp32) which weights were
compared with their ONNX initializers.
"""
import argparse
import collections
import json
import sys

SUPPORTED_COREMLTOOLS = ('8.', '9.')
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class Unsupported(Exception):
    """An ONNX construct with no mapping here; the message names the op and the node."""


def fail(code, message):
    print(message, file=sys.stderr)
    sys.exit(code)


def load_tools():
    try:
        import numpy as np  # noqa: F401
        import onnx  # noqa: F401
        import coremltools as ct
    except ImportError as e:
        fail(11, f'missing Python package: {e.name}; run `eformer setup coreml`')
    if not ct.__version__.startswith(SUPPORTED_COREMLTOOLS):
        fail(11, f'coremltools {ct.__version__} is not supported (need 8.x or 9.x); run `eformer setup coreml`')
    return ct


def attributes(node):
    import onnx
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def fold_std_into_first_conv(graph, weights):
    """ImageType gives one scale and per-channel biases; ImageNet needs per-channel scales.

    The image input is fed as x/255 - mean, and each input channel of the convolution that
    reads the image is divided by its std, which is the same function.
    """
    consumers = [n for n in graph.node if 'image' in n.input]
    if len(consumers) != 1 or consumers[0].op_type != 'Conv':
        raise Unsupported('ImageType input needs the image to feed exactly one Conv; use --input-type tensor')
    name = consumers[0].input[1]
    w = weights[name].copy()
    for c, s in enumerate(IMAGENET_STD):
        w[:, c] /= s
    weights[name] = w
    return name


def build_program(ct, model, weights, target, probabilities):
    """The MIL program for the ONNX graph, as a function coremltools can convert."""
    import numpy as np
    from coremltools.converters.mil import Builder as mb

    graph = model.graph
    initializer_names = set(weights)
    inputs = [i for i in graph.input if i.name not in initializer_names]
    if len(inputs) != 1:
        raise Unsupported(f'the bridge maps graphs with one input; this one has {len(inputs)}')
    spec = mb.TensorSpec(shape=tuple(d.dim_value for d in inputs[0].type.tensor_type.shape.dim))

    @mb.program(input_specs=[spec], opset_version=target)
    def program(image):
        env = {inputs[0].name: image}

        def value(name):
            if name in env:
                return env[name]
            if name in weights:
                return weights[name]
            raise Unsupported(f'value {name} is neither produced nor an initializer')

        # The iOS15 opset (what a NeuralNetwork .mlmodel is built from) has no half_pixel_centers:
        # there, align_corners=False already is PyTorch's half-pixel bilinear.
        half_pixel_input = target >= ct.target.iOS16
        for node in graph.node:
            out = convert_node(mb, np, node, value, attributes(node), half_pixel_input)
            outs = out if isinstance(out, (list, tuple)) else [out]
            for name, v in zip(node.output, outs):
                env[name] = v
        outs = [env[o.name] for o in graph.output]
        # A classifier reports probabilities: the exported graph ends in logits.
        return mb.softmax(x=outs[0], axis=-1, name='probabilities') if probabilities else tuple(outs)

    return program


def convert_node(mb, np, node, value, a, half_pixel_input=True):
    op, name = node.op_type, node.name
    x = [value(i) if i else None for i in node.input]
    if op == 'Conv':
        pads = list(a.get('pads', [0, 0, 0, 0]))
        return mb.conv(x=x[0], weight=x[1], bias=x[2] if len(x) > 2 else None, strides=list(a.get('strides', [1, 1])),
                       pad_type='custom', pad=[pads[0], pads[2], pads[1], pads[3]], dilations=list(a.get('dilations', [1, 1])),
                       groups=int(a.get('group', 1)), name=name)
    if op == 'BatchNormalization':
        return mb.batch_norm(x=x[0], gamma=x[1], beta=x[2], mean=x[3], variance=x[4], epsilon=float(a.get('epsilon', 1e-5)), name=name)
    if op == 'Relu':
        return mb.relu(x=x[0], name=name)
    if op == 'Clip':
        return mb.clip(x=x[0], alpha=float(x[1]), beta=float(x[2]), name=name)
    if op == 'Erf':
        return mb.erf(x=x[0], name=name)
    if op == 'Gelu':
        return mb.gelu(x=x[0], mode='EXACT', name=name)
    binary = {'Add': mb.add, 'Sub': mb.sub, 'Mul': mb.mul, 'Div': mb.real_div, 'Max': mb.maximum}
    if op in binary:
        return binary[op](x=x[0], y=x[1], name=name)
    if op == 'MatMul':
        return mb.matmul(x=x[0], y=x[1], name=name)
    if op == 'Gemm':
        if a.get('transB', 0) != 1 or a.get('transA', 0) != 0 or a.get('alpha', 1.0) != 1.0 or a.get('beta', 1.0) != 1.0:
            raise Unsupported(f'Gemm node {name}: only transB=1, alpha=beta=1 is mapped')
        return mb.linear(x=x[0], weight=x[1], bias=x[2] if len(x) > 2 else None, name=name)
    unary = {'Sigmoid': mb.sigmoid, 'Softplus': mb.softplus, 'Exp': mb.exp}
    if op in unary:
        return unary[op](x=x[0], name=name)
    if op == 'Concat':
        return mb.concat(values=list(x), axis=int(a['axis']), name=name)
    if op == 'Slice':
        starts, ends, axes = (np.asarray(v).reshape(-1) for v in x[1:4])
        steps = np.asarray(x[4]).reshape(-1) if len(x) > 4 and x[4] is not None else np.ones_like(starts)
        if len(axes) != 1 or int(steps[0]) != 1:
            raise Unsupported(f'Slice node {name}: only one axis with step 1 is mapped')
        rank = len(x[0].shape)
        axis = int(axes[0]) % rank
        begin, end = [0] * rank, [0] * rank
        begin_mask, end_mask = [True] * rank, [True] * rank
        begin[axis], end[axis], begin_mask[axis], end_mask[axis] = int(starts[0]), int(ends[0]), False, False
        return mb.slice_by_index(x=x[0], begin=begin, end=end, begin_mask=begin_mask, end_mask=end_mask, name=name)
    if op == 'ReduceSum':
        axes = [int(d) for d in (x[1] if len(x) > 1 else a['axes'])]
        return mb.reduce_sum(x=x[0], axes=axes, keep_dims=bool(a.get('keepdims', 1)), name=name)
    if op == 'Softmax':
        return mb.softmax(x=x[0], axis=int(a.get('axis', -1)), name=name)
    if op == 'Reshape':
        return mb.reshape(x=x[0], shape=[int(d) for d in x[1]], name=name)
    if op == 'Transpose':
        return mb.transpose(x=x[0], perm=list(a['perm']), name=name)
    if op == 'Split':
        sizes = [int(s) for s in (x[1] if len(x) > 1 and x[1] is not None else a['split'])]
        return mb.split(x=x[0], split_sizes=sizes, axis=int(a.get('axis', 0)), name=name)
    if op == 'ReduceMean':
        axes = [int(d) for d in (x[1] if len(x) > 1 else a['axes'])]
        return mb.reduce_mean(x=x[0], axes=axes, keep_dims=bool(a.get('keepdims', 1)), name=name)
    if op == 'AveragePool':
        pads = list(a.get('pads', [0, 0, 0, 0]))
        return mb.avg_pool(x=x[0], kernel_sizes=list(a['kernel_shape']), strides=list(a.get('strides', [1, 1])), pad_type='custom',
                           pad=[pads[0], pads[2], pads[1], pads[3]], exclude_padding_from_average=not a.get('count_include_pad', 0),
                           ceil_mode=bool(a.get('ceil_mode', 0)), name=name)
    if op == 'LayerNormalization':
        return mb.layer_norm(x=x[0], axes=[int(a.get('axis', -1))], gamma=x[1], beta=x[2], epsilon=float(a.get('epsilon', 1e-5)), name=name)
    if op == 'Resize':
        scales = [float(s) for s in x[2]]
        mode = a.get('mode', b'nearest')
        mode = mode.decode() if isinstance(mode, bytes) else mode
        if mode != 'linear' or scales[:2] != [1.0, 1.0]:
            raise Unsupported(f'Resize node {name}: only bilinear spatial scaling is mapped')
        if not half_pixel_input:
            return mb.upsample_bilinear(x=x[0], scale_factor_height=scales[2], scale_factor_width=scales[3], align_corners=False, name=name)
        return mb.upsample_bilinear(x=x[0], scale_factor_height=scales[2], scale_factor_width=scales[3], align_corners=False,
                                    half_pixel_centers=True, name=name)
    if op == 'Gather':
        return mb.gather(x=x[0], indices=x[1].astype(np.int32), axis=int(a.get('axis', 0)), name=name)
    raise Unsupported(f'ONNX op {op} (node {name}) has no Core ML mapping in eformer\'s bridge')


# How far Core ML's calibration ranges may sit from eformer's ONNX ones, as a share of the ONNX range:
# an fp16 program rounds every activation to fp16 (2^-11 relative) and carries that rounding onward
# (measured: 1.8e-3 for efficientformerv2_s0 on 4 inputs). W8A8 is fp16 only: coremltools' activation
# passes make fp16 scales, which an fp32 program's quantize ops refuse.
RANGE_TOLERANCE = 1e-2


def w8a8(ct, np, mlmodel, graph, args):
    """Core ML W8A8, with coremltools' own compression: activations (linear_quantize_activations'
    passes, calibrated on eformer's calibration inputs), then weights (linear_quantize_weights).

    linear_quantize_activations calibrates by running the model through Core ML, which exists only on
    macOS. There it is called as it is. Elsewhere the same statistics (each op output's min and max
    over the inputs) come from eformer's MIL interpreter running the saved float package, and are
    handed to the very passes linear_quantize_activations applies, in its order.
    """
    import os
    import shutil
    import tempfile
    from coremltools.optimize import coreml as cto

    n = args.w8a8_inputs
    shape = tuple(d.dim_value for d in onnx_input_shape(args))
    h, w = shape[-2:]
    rgb = np.fromfile(os.path.join(args.w8a8, 'calib.rgb'), dtype=np.uint8).reshape(n, h, w, 3)
    tensors = np.fromfile(os.path.join(args.w8a8, 'calib.f32'), dtype=np.float32).reshape((n,) + shape)
    with open(os.path.join(args.w8a8, 'ranges.json')) as f:
        onnx_ranges = json.load(f)
    image_input = args.input_type == 'image'
    # Every weight, however small (coremltools skips those under 2048 elements by default), as the ONNX graph quantises them all.
    config = cto.OptimizationConfig(global_config=cto.OpLinearQuantizerConfig(mode='linear_symmetric', weight_threshold=1))
    scratch = tempfile.mkdtemp()
    try:
        floatpkg = os.path.join(scratch, 'float.mlpackage')
        mlmodel.save(floatpkg)
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        import mil_interpreter
        interpreter = mil_interpreter.load(floatpkg)
        names = [name for op in interpreter.ops if op.type != 'const' and not op.type.startswith('constexpr_') for name, t in op.outputs if t.kind == 'tensor']
        stats = {}
        for k in range(n):
            feed = rgb[k] if image_input else tensors[k]
            values = interpreter.run({'image': feed}, keep=names)
            for name in names + ['image']:
                v = interpreter._feed('image', feed) if name == 'image' else values.get(name)
                if v is None or not np.issubdtype(np.asarray(v).dtype, np.floating):
                    continue
                lo, hi = float(np.min(v)), float(np.max(v))
                s = stats.setdefault(name, {'rmin': lo, 'rmax': hi})
                s['rmin'], s['rmax'] = min(s['rmin'], lo), max(s['rmax'], hi)
        if sys.platform == 'darwin':
            samples = [{'image': (rgb_image(rgb[k]) if image_input else tensors[k])} for k in range(n)]
            quantized = cto.linear_quantize_activations(mlmodel, config, samples)
            calibrated_with = 'Core ML (linear_quantize_activations)'
        else:
            from coremltools import _SPECIFICATION_VERSION_IOS_17
            from coremltools.converters.mil.frontend.milproto import load as milproto_to_pymil
            from coremltools.converters.mil.mil.passes.graph_pass import PassOption
            from coremltools.converters.mil.mil.passes.pass_registry import PASS_REGISTRY
            from coremltools.models import utils as model_utils
            passes = []
            for name in ('compression::insert_prefix_quantize_dequantize_pair', 'compression::insert_suffix_quantize_dequantize_pair'):
                graph_pass = PASS_REGISTRY[name]
                graph_pass.set_options([PassOption('config', config), PassOption('activation_stats', stats)])
                passes.append(graph_pass)
            passes.append(PASS_REGISTRY['common::dequantize_quantize_pair_elimination'])
            quantized = model_utils._apply_graph_pass(mlmodel, passes, spec_version=_SPECIFICATION_VERSION_IOS_17,
                                                     pymil_load_func=milproto_to_pymil.load, skip_model_load=True)
            calibrated_with = "eformer's MIL interpreter (Core ML runs only on macOS), coremltools' activation passes"
        quantized = cto.linear_quantize_weights(quantized, config)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    # MIL names ops after the ONNX nodes, with every character but [A-Za-z0-9_] made '_', and an fp16
    # program's ops end in _cast_fp16; the ONNX ranges are by tensor, so go through each tensor's producer.
    import re
    producer = {out: node.name for node in graph.node for out in node.output}
    def core_ml_stats(tensor):
        base = re.sub(r'[^A-Za-z0-9_]', '_', producer.get(tensor, tensor))
        return stats.get(base) or stats.get(f'{base}_cast_fp16')
    compared, worst, worst_name = 0, 0.0, None
    for name, (lo, hi) in onnx_ranges.items():
        s = core_ml_stats(name)
        # An ImageType input holds pixels 0..255 where the ONNX graph takes the normalised tensor.
        if s is None or hi <= lo or (image_input and name == 'image'):
            continue
        compared += 1
        difference = max(abs(s['rmin'] - lo), abs(s['rmax'] - hi)) / (hi - lo)
        if difference > worst:
            worst, worst_name = difference, name
    ops = op_histogram(quantized)
    return quantized, {
        'calibrated_with': calibrated_with,
        'inputs': n,
        'quantize_ops': ops.get('quantize', 0),
        'dequantize_ops': ops.get('dequantize', 0),
        'quantized_weights': sum(v for k, v in ops.items() if k.startswith('constexpr_')),
        'ranges_compared': compared,
        'max_range_difference': worst,
        'worst_tensor': worst_name,
        'tolerance': RANGE_TOLERANCE,
    }


def rgb_image(pixels):
    from PIL import Image
    return Image.fromarray(pixels, 'RGB')


def onnx_input_shape(args):
    import onnx
    model = onnx.load(args.onnx, load_external_data=False)
    initializers = {t.name for t in model.graph.initializer}
    return [i for i in model.graph.input if i.name not in initializers][0].type.tensor_type.shape.dim


def op_histogram(mlmodel):
    spec = mlmodel.get_spec()
    if spec.WhichOneof('Type') == 'mlProgram':
        ops = [op.type for f in spec.mlProgram.functions.values() for b in f.block_specializations.values() for op in b.operations]
    else:
        nn = spec.neuralNetworkClassifier if spec.WhichOneof('Type') == 'neuralNetworkClassifier' else spec.neuralNetwork
        ops = [layer.WhichOneof('layer') for layer in nn.layers]
    return dict(collections.Counter(ops))


# ONNX ops whose count must survive conversion one to one (GELU: the erf pattern fuses into one op).
EXPECTED_OPS = {
    'mlprogram': {'Conv': 'conv', 'Erf': 'gelu', 'Gelu': 'gelu', 'Resize': 'upsample_bilinear', 'AveragePool': 'avg_pool',
                  'LayerNormalization': 'layer_norm', 'ReduceMean': 'reduce_mean', 'BatchNormalization': 'batch_norm'},
    'neuralnetwork': {'Conv': 'convolution', 'Erf': 'gelu', 'Gelu': 'gelu', 'Resize': 'upsample', 'AveragePool': 'pooling', 'ReduceMean': 'reduceMean'},
}


def verify_saved(ct, path, graph, fmt, labels, histogram_of):
    """Reload what was written and check its interface and op histogram against the ONNX graph."""
    saved = ct.models.MLModel(path, skip_model_load=True)
    spec = saved.get_spec()
    problems = []
    inputs = [(i.name, i.type.WhichOneof('Type')) for i in spec.description.input]
    if [n for n, _ in inputs] != ['image']:
        problems.append(f'inputs are {inputs}, expected one named image')
    image = spec.description.input[0].type
    shape = tuple(d.dim_value for d in graph.input[0].type.tensor_type.shape.dim)
    got = (image.imageType.height, image.imageType.width) if image.WhichOneof('Type') == 'imageType' else tuple(image.multiArrayType.shape)[-2:]
    if tuple(got) != shape[-2:]:
        problems.append(f'input is {got}, the ONNX graph takes {shape[-2:]}')
    outputs = sorted(o.name for o in spec.description.output)
    if labels and 'classLabel' not in outputs:
        problems.append(f'outputs {outputs} lack classLabel')
    onnx_ops = collections.Counter(n.op_type for n in graph.node)
    ops = histogram_of(saved)
    expected = collections.Counter()
    for onnx_op, coreml_op in EXPECTED_OPS[fmt].items():
        expected[coreml_op] += onnx_ops.get(onnx_op, 0)
    for op, n in expected.items():
        if ops.get(op, 0) != n:
            problems.append(f'{op}: {ops.get(op, 0)} in the Core ML model, the ONNX graph implies {n}')
    return problems, ops


def compare_weights(np, mlmodel, weights, skip):
    """fp32 only: every ONNX weight (over 64 elements) must appear unchanged among the program's constants."""
    program = mlmodel._mil_program
    consts = [op.outputs[0].val for f in program.functions.values() for op in f.operations if op.op_type == 'const']
    arrays = [c for c in consts if isinstance(c, np.ndarray) and c.size > 64]
    by_size = collections.defaultdict(list)
    for c in arrays:
        by_size[c.size].append(c)
    checked, missing = 0, []
    for name, w in weights.items():
        if w.size <= 64 or name in skip or w.dtype != np.float32:
            continue
        candidates = by_size.get(w.size, [])
        flat = w.reshape(-1)
        same = any(np.array_equal(c.reshape(-1), flat) or (w.ndim == 2 and np.array_equal(c.reshape(-1), w.T.reshape(-1))) for c in candidates)
        checked += 1
        if not same:
            missing.append(name)
    return checked, missing


def predict_and_compare(ct, args, shape, labels):
    """Run the saved model through Core ML and compare with onnxruntime (Core ML runs only on macOS)."""
    import numpy as np
    if sys.platform != 'darwin':
        return {'ran': False, 'reason': 'Core ML runs models only on macOS'}
    from PIL import Image
    h, w = shape[-2:]
    rgb = np.fromfile(args.verify_image, dtype=np.uint8).reshape(h, w, 3)
    reference = np.fromfile(args.verify_logits, dtype=np.float32)
    model = ct.models.MLModel(args.out, compute_units=ct.ComputeUnit.CPU_ONLY)
    if args.input_type == 'image':
        feed = Image.fromarray(rgb, 'RGB')
    else:
        mean, std = np.array(IMAGENET_MEAN, np.float32), np.array(IMAGENET_STD, np.float32)
        feed = (((rgb.astype(np.float32) / 255) - mean) / std).transpose(2, 0, 1)[None]
    out = model.predict({'image': feed})
    if labels:
        probs = out[[k for k in out if k != 'classLabel'][0]]
        exp = np.exp(reference - reference.max())
        expected = exp / exp.sum()
        got = np.array([probs[label] for label in labels], dtype=np.float64)
        return {'ran': True, 'compared': 'probabilities', 'max_abs_error': float(np.abs(got - expected).max())}
    got = np.asarray(list(out.values())[0], dtype=np.float64).reshape(-1)
    return {'ran': True, 'compared': 'logits', 'max_abs_error': float(np.abs(got - reference).max())}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--onnx', required=True)
    ap.add_argument('--out', required=True)
    ap.add_argument('--format', choices=['mlprogram', 'neuralnetwork'], default='mlprogram')
    ap.add_argument('--precision', choices=['fp16', 'fp32'], default=None)
    ap.add_argument('--min-target', default='iOS16')
    ap.add_argument('--input-type', choices=['image', 'tensor'], default='image')
    ap.add_argument('--labels')
    ap.add_argument('--metadata', default='{}')
    ap.add_argument('--quantize', choices=['int8', 'palettize4', 'palettize6'])
    ap.add_argument('--report')
    ap.add_argument('--w8a8', help='a folder with calib.rgb, calib.f32 and ranges.json: quantise weights and activations (W8A8)')
    ap.add_argument('--w8a8-inputs', type=int, default=0)
    ap.add_argument('--verify-image', help='raw uint8 RGB, HxWx3, of the model input size: run it through Core ML (macOS only)')
    ap.add_argument('--verify-logits', help='raw float32 logits onnxruntime gave for that image')
    args = ap.parse_args()

    ct = load_tools()
    import numpy as np
    import onnx
    from onnx import numpy_helper

    model = onnx.load(args.onnx)
    weights = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    original = {k: v.copy() for k, v in weights.items()}
    try:
        target = getattr(ct.target, args.min_target)
    except AttributeError:
        fail(10, f'unknown deployment target {args.min_target}')
    neural_network = args.format == 'neuralnetwork'
    precision = args.precision or ('fp32' if neural_network else 'fp16')
    labels = open(args.labels).read().splitlines() if args.labels else None
    try:
        folded = fold_std_into_first_conv(model.graph, weights) if args.input_type == 'image' else None
        program = build_program(ct, model, weights, ct.target.iOS15 if neural_network else target, bool(labels))
    except Unsupported as e:
        fail(10, str(e))

    shape = tuple(d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim)
    if args.input_type == 'image':
        inputs = [ct.ImageType(name='image', shape=shape, scale=1 / 255.0, bias=[-m for m in IMAGENET_MEAN], channel_first=True)]
    else:
        inputs = [ct.TensorType(name='image', shape=shape)]
    try:
        mlmodel = ct.convert(
            program,
            convert_to='neuralnetwork' if neural_network else 'mlprogram',
            inputs=inputs,
            classifier_config=ct.ClassifierConfig(labels) if labels else None,
            compute_precision=None if neural_network else (ct.precision.FLOAT16 if precision == 'fp16' else ct.precision.FLOAT32),
            minimum_deployment_target=None if neural_network else target,
        )
    except Exception as e:  # coremltools raises many kinds; the first line says what
        fail(12, f'coremltools could not convert the program: {str(e).splitlines()[0] if str(e) else type(e).__name__}')

    report = {'format': args.format, 'precision': precision, 'input_type': args.input_type, 'coremltools': ct.__version__}
    if precision == 'fp32' and not neural_network:
        checked, missing = compare_weights(np, mlmodel, original, skip={folded} if folded else set())
        report['weights_checked'] = checked
        report['weights_differing'] = missing
        if missing:
            fail(12, f'verification failed: {len(missing)} weights differ from their ONNX initializers, e.g. {missing[0]}')
    report['ops'] = op_histogram(mlmodel)

    if args.quantize:
        import os
        import shutil
        import tempfile
        from coremltools.optimize import coreml as cto
        scratch = tempfile.mkdtemp()
        try:
            unquantized = os.path.join(scratch, 'model.mlpackage')
            mlmodel.save(unquantized)
            report['bytes_before_quantization'] = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(unquantized) for f in fs)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        if args.quantize == 'int8':
            config = cto.OptimizationConfig(global_config=cto.OpLinearQuantizerConfig(mode='linear_symmetric'))
            mlmodel = cto.linear_quantize_weights(mlmodel, config)
        else:
            config = cto.OptimizationConfig(global_config=cto.OpPalettizerConfig(nbits=int(args.quantize[-1]), mode='kmeans'))
            mlmodel = cto.palettize_weights(mlmodel, config)
        report['quantize'] = args.quantize

    if args.w8a8:
        try:
            mlmodel, report['w8a8'] = w8a8(ct, np, mlmodel, model.graph, args)
        except Exception as e:  # coremltools and the interpreter raise many kinds; the first line says what
            fail(12, f'W8A8 quantisation failed: {str(e).splitlines()[0] if str(e) else type(e).__name__}')
        w = report['w8a8']
        if w['quantize_ops'] == 0 or w['quantized_weights'] == 0:
            fail(12, f'W8A8 verification failed: the model has {w["quantize_ops"]} activation quantize ops and {w["quantized_weights"]} quantised weights')
        import math
        if not math.isfinite(w['max_range_difference']):
            # Not a converter bug: the model's own activations leave fp16's range (random weights can).
            fail(13, f'cannot make a W8A8 package: activations overflow fp16 during calibration (at {w["worst_tensor"]}); real weights (--ckpt) usually stay in range')
        if w['max_range_difference'] > w['tolerance']:
            fail(12, f'W8A8 verification failed: Core ML calibration ranges differ from the ONNX ones by {w["max_range_difference"]:.2e} of a range at {w["worst_tensor"]} (tolerance {w["tolerance"]})')

    meta = json.loads(args.metadata)
    mlmodel.short_description = meta.pop('description', 'EfficientFormer exported by eformer')
    mlmodel.author = 'eformer'
    for k, v in meta.items():
        mlmodel.user_defined_metadata[k] = str(v)

    spec = mlmodel.get_spec()
    report['inputs'] = [{'name': i.name, 'type': i.type.WhichOneof('Type')} for i in spec.description.input]
    report['outputs'] = [{'name': o.name, 'type': o.type.WhichOneof('Type')} for o in spec.description.output]
    mlmodel.save(args.out)
    problems, report['ops'] = verify_saved(ct, args.out, model.graph, args.format, labels, op_histogram)
    report['verified'] = not problems
    if problems:
        fail(12, f'verification failed: {problems[0]}')
    if args.verify_image:
        report['prediction'] = predict_and_compare(ct, args, shape, labels)
    if args.report:
        with open(args.report, 'w') as f:
            json.dump(report, f, indent=1)


if __name__ == '__main__':
    main()
