#!/usr/bin/env python3
"""Write a deliberately broken copy of a saved ML Program package, for tests of the numeric check.

    python test/coreml_mutants.py IN.mlpackage OUT.mlpackage MUTATION

The copy is edited on disk: the protobuf spec (coremltools.utils.load_spec, written back to the
package's root model file) and, for norm-twice, the weight blob file (a new blob appended with
coremltools' _BlobStorageWriter, the const re-pointed at its offset). Every mutant keeps valid shapes,
so it still loads and runs; only its numbers are wrong.

Mutations:
  transpose-perm  one transpose gets another perm: two entries swapped where both dims have the same
                  size (shape unchanged), else (a transpose read only by reshapes) two non-unit entries
                  swapped and the declared output shape updated (the reshape still gets as many elements)
  pad-side        the first conv with padding on a spatial axis moves it to one side: [1,1,l,r] -> [2,0,l,r]
                  (an asymmetric pad has its top/bottom swapped instead); the output size is unchanged
  gelu-tanh       every gelu with mode EXACT gets TANH_APPROXIMATION
  gelu-sigmoid    every gelu with mode EXACT gets SIGMOID_APPROXIMATION
  norm-twice      the conv reading the image input gets its weights divided by the ImageNet std per input
                  channel a second time (the ImageType's folded normalisation applied twice)
  layernorm-axis  the first layer_norm over the last axis normalises over axis 1 instead; its gamma and
                  beta (still per channel) become a mul and an add after it, so all shapes stay valid
  act-zero-point  W8A8: the first activation dequantize reading a conv's quantised output gets a zero point
                  of 8 its quantize did not use (the tensor shifted by 8 steps of its scale)
  weight-scale-axis  W8A8: the first int8 weight whose per-channel scales can sit on another axis of the
                  same size (a square [8, 8, 1, 1] talking-head conv in EfficientFormerV2) has them there
  weight-scale-order  W8A8: the int8 weight whose per-channel scales spread the most (largest / smallest) gets
                  them in reverse channel order (each channel dequantised with another channel's scale)
  unknown-op      the first relu/gelu/clip gets the op type `eformer_unknown_op` (not a MIL op): the
                  interpreter must refuse it (exit 10), naming the type and the output

Prints one JSON line describing the edit. Exit 2 for bad usage, 3 when the mutation has no target in
this model (e.g. layernorm-axis in a model without layer_norm).
"""
import json
import logging
import os
import shutil
import sys

import numpy as np

IMAGENET_STD = (0.229, 0.224, 0.225)
MUTATIONS = ('transpose-perm', 'pad-side', 'gelu-tanh', 'gelu-sigmoid', 'norm-twice', 'layernorm-axis', 'act-zero-point',
             'weight-scale-axis', 'weight-scale-order', 'unknown-op')


class NoTarget(Exception):
    pass


def _ct():
    logging.getLogger('coremltools').setLevel(logging.ERROR)
    import coremltools
    import coremltools.proto.MIL_pb2  # noqa: F401
    logging.getLogger('coremltools').setLevel(logging.ERROR)
    return coremltools


class Program:
    """The main block of a spec, with helpers to find ops and edit const values."""

    def __init__(self, ct, spec, model_dir):
        self.ct, self.mil, self.spec, self.model_dir = ct, ct.proto.MIL_pb2, spec, model_dir
        fn = spec.mlProgram.functions['main']
        self.block = fn.block_specializations[fn.opset]

    @property
    def ops(self):
        return self.block.operations

    def producer(self, name):
        for i, op in enumerate(self.ops):
            if any(o.name == name for o in op.outputs):
                return i, op
        raise KeyError(name)

    def consumers(self, name):
        return [op for op in self.ops for arg in op.inputs.values() for b in arg.arguments if b.name == name]

    def arg_name(self, op, key):
        return op.inputs[key].arguments[0].name

    def const_value(self, name):
        """The value of a const (immediate ints/floats/strings only: small params)."""
        _, op = self.producer(name)
        assert op.type == 'const', name
        t = op.attributes['val'].immediateValue.tensor
        kind = t.WhichOneof('value')
        return list(getattr(t, kind).values)

    def private_const(self, op, key):
        """The const op feeding op.inputs[key], copied under a new name if any other op shares it."""
        name = self.arg_name(op, key)
        idx, const = self.producer(name)
        if len(self.consumers(name)) == 1:
            return const
        new = self.mil.Operation()
        new.CopyFrom(const)
        new_name = name + '_mutant'
        new.outputs[0].name = new_name
        new.attributes['name'].immediateValue.tensor.strings.values[0] = new_name
        self._insert(idx + 1, new)
        op.inputs[key].arguments[0].name = new_name
        return new

    def _insert(self, index, new_op):
        ops = list(self.ops)
        ops.insert(index, new_op)
        del self.block.operations[:]
        self.block.operations.extend(ops)

    def set_const_ints(self, const, values):
        t = const.attributes['val'].immediateValue.tensor
        del t.ints.values[:]
        t.ints.values.extend(int(v) for v in values)

    def set_const_string(self, const, value):
        const.attributes['val'].immediateValue.tensor.strings.values[0] = value

    def declared_shape(self, op, i=0):
        return [d.constant.size for d in op.outputs[i].type.tensorType.dimensions]

    def set_declared_shape(self, op, shape, i=0):
        dims = op.outputs[i].type.tensorType.dimensions
        for d, s in zip(dims, shape):
            d.constant.size = int(s)

    def input_shape(self, op, key='x'):
        name = self.arg_name(op, key)
        for inp in self.spec.mlProgram.functions['main'].inputs:
            if inp.name == name:
                return [d.constant.size for d in inp.type.tensorType.dimensions]
        _, prod = self.producer(name)
        for o in prod.outputs:
            if o.name == name:
                return [d.constant.size for d in o.type.tensorType.dimensions]


# ----------------------------------------------------------------------------------------------

def transpose_perm(p):
    for op in p.ops:
        if op.type != 'transpose':
            continue
        perm = p.const_value(p.arg_name(op, 'perm'))
        shape = p.input_shape(op)
        n = len(perm)
        # 1) a swap that keeps the output shape
        for i in range(n):
            for j in range(i + 1, n):
                if shape[perm[i]] == shape[perm[j]] > 1:
                    new = list(perm)
                    new[i], new[j] = new[j], new[i]
                    p.set_const_ints(p.private_const(op, 'perm'), new)
                    return {'op': op.outputs[0].name, 'perm': perm, 'new_perm': new, 'shape_changed': False}
    for op in p.ops:
        if op.type != 'transpose':
            continue
        users = p.consumers(op.outputs[0].name)
        if not users or any(u.type != 'reshape' for u in users):
            continue
        perm = p.const_value(p.arg_name(op, 'perm'))
        shape = p.input_shape(op)
        big = [i for i in range(len(perm)) if shape[perm[i]] > 1]
        if len(big) < 2:
            continue
        i, j = big[-2], big[-1]
        new = list(perm)
        new[i], new[j] = new[j], new[i]
        p.set_const_ints(p.private_const(op, 'perm'), new)
        out_shape = [shape[k] for k in new]
        before = p.declared_shape(op)
        p.set_declared_shape(op, out_shape)
        return {'op': op.outputs[0].name, 'perm': perm, 'new_perm': new, 'shape': before, 'new_shape': out_shape,
                'read_by': [u.outputs[0].name for u in users]}
    raise NoTarget('no transpose whose perm can change with valid shapes')


def pad_side(p):
    for op in p.ops:
        if op.type != 'conv':
            continue
        if p.const_value(p.arg_name(op, 'pad_type'))[0] != 'custom':
            continue
        pad = p.const_value(p.arg_name(op, 'pad'))
        for axis in range(len(pad) // 2):
            b, a = pad[2 * axis], pad[2 * axis + 1]
            if b == a == 0:
                continue
            new = list(pad)
            if b == a:
                new[2 * axis], new[2 * axis + 1] = b + a, 0
            else:
                new[2 * axis], new[2 * axis + 1] = a, b
            p.set_const_ints(p.private_const(op, 'pad'), new)
            return {'op': op.outputs[0].name, 'pad': pad, 'new_pad': new}
    raise NoTarget('no conv with custom padding')


def gelu_mode(mode):
    def mutate(p):
        changed = []
        for op in p.ops:
            if op.type == 'gelu' and 'mode' in op.inputs and p.const_value(p.arg_name(op, 'mode'))[0] == 'EXACT':
                p.set_const_string(p.private_const(op, 'mode'), mode)
                changed.append(op.outputs[0].name)
        if not changed:
            raise NoTarget('no gelu with mode EXACT')
        return {'gelus': len(changed), 'mode': mode, 'first': changed[0]}
    return mutate


def norm_twice(p):
    desc_inputs = [i.name for i in p.spec.description.input if i.type.WhichOneof('Type') == 'imageType']
    if not desc_inputs:
        raise NoTarget('the model has no ImageType input, so no folded normalisation')
    # follow the image through elementwise preprocessing / cast ops to the conv that reads it
    frontier, seen = [desc_inputs[0]], set()
    conv = None
    while frontier and conv is None:
        name = frontier.pop(0)
        if name in seen:
            continue
        seen.add(name)
        for user in p.consumers(name):
            if user.type == 'conv' and p.arg_name(user, 'x') == name:
                conv = user
                break
            if user.type in ('mul', 'add', 'sub', 'real_div', 'cast'):
                frontier.append(user.outputs[0].name)
    if conv is None:
        raise NoTarget('no conv reads the image')
    weight_name = p.arg_name(conv, 'weight')
    idx, const = p.producer(weight_name)
    if const.type != 'const':
        raise NoTarget(f'the first conv weight comes from {const.type}, not a const')
    val = const.attributes['val']
    tt = val.type.tensorType
    dtype = p.mil.DataType.Name(tt.dataType)
    shape = [d.constant.size for d in tt.dimensions]
    std = np.array(IMAGENET_STD, np.float32).reshape(1, 3, 1, 1)
    if val.WhichOneof('value') != 'blobFileValue':
        raise NoTarget('the first conv weight is not stored in the weight blob')
    from coremltools.libmilstoragepython import _BlobStorageReader, _BlobStorageWriter
    path = os.path.join(p.model_dir, val.blobFileValue.fileName.replace('@model_path/', ''))
    reader = _BlobStorageReader(path)
    if dtype == 'FLOAT16':
        w = reader.read_fp16_data(val.blobFileValue.offset).view(np.float16).astype(np.float32).reshape(shape)
        new = (w / std).astype(np.float16)
        del reader
        offset = _BlobStorageWriter(path, truncate_file=False).write_fp16_data(new.reshape(-1).view(np.uint16))
    elif dtype == 'FLOAT32':
        w = reader.read_float_data(val.blobFileValue.offset).reshape(shape)
        new = (w / std).astype(np.float32)
        del reader
        offset = _BlobStorageWriter(path, truncate_file=False).write_float_data(new.reshape(-1))
    else:
        raise NoTarget(f'first conv weight dtype {dtype}')
    if len(p.consumers(weight_name)) > 1:
        raise NoTarget('the first conv weight is shared')
    old_offset = val.blobFileValue.offset
    val.blobFileValue.offset = offset
    return {'op': conv.outputs[0].name, 'weight': weight_name, 'dtype': dtype, 'old_offset': old_offset,
            'new_offset': offset, 'divided_by': list(IMAGENET_STD)}


def layernorm_axis(p):
    for idx, op in enumerate(p.ops):
        if op.type != 'layer_norm':
            continue
        x_shape = p.input_shape(op)
        axes = [a % len(x_shape) for a in p.const_value(p.arg_name(op, 'axes'))]
        if axes != [len(x_shape) - 1] or len(x_shape) < 3:
            continue
        new_axes = [1]
        p.set_const_ints(p.private_const(op, 'axes'), new_axes)
        out = op.outputs[0]
        final = out.name
        ln_name = final + '_mutant_ln'
        out.name = ln_name
        op.attributes['name'].immediateValue.tensor.strings.values[0] = ln_name
        added, prev = [], ln_name
        for key, kind in (('gamma', 'mul'), ('beta', 'add')):
            if key not in op.inputs:
                continue
            param = p.arg_name(op, key)
            del op.inputs[key]
            new = p.mil.Operation()
            new.type = kind
            new.inputs['x'].arguments.add().name = prev
            new.inputs['y'].arguments.add().name = param
            o = new.outputs.add()
            o.type.CopyFrom(out.type)
            o.name = prev = f'{final}_mutant_{kind}'
            new.attributes['name'].CopyFrom(op.attributes['name'])
            new.attributes['name'].immediateValue.tensor.strings.values[0] = o.name
            added.append(new)
        if added:
            added[-1].outputs[0].name = final
            added[-1].attributes['name'].immediateValue.tensor.strings.values[0] = final
        else:
            out.name = final
        for k, new in enumerate(added):
            p._insert(idx + 1 + k, new)
        return {'op': final, 'x_shape': x_shape, 'axes': axes, 'new_axes': new_axes,
                'affine_moved_to': [a.type for a in added]}
    raise NoTarget('no layer_norm over the last axis of a rank >= 3 tensor')


def act_zero_point(p):
    for op in p.ops:
        if op.type != 'dequantize' or 'zero_point' in op.inputs:
            continue
        _, quantize = p.producer(p.arg_name(op, 'input'))
        _, source = p.producer(p.arg_name(quantize, 'input'))
        if source.type != 'conv':
            continue
        const = p.mil.Operation()
        const.type = 'const'
        name = op.outputs[0].name + '_mutant_zero_point'
        out = const.outputs.add()
        out.name = name
        out.type.tensorType.dataType = p.mil.DataType.Value('INT8')
        const.attributes['name'].CopyFrom(op.attributes['name'])
        const.attributes['name'].immediateValue.tensor.strings.values[0] = name
        val = const.attributes['val']
        val.type.tensorType.dataType = p.mil.DataType.Value('INT8')
        val.immediateValue.tensor.bytes.values = np.int8(8).tobytes()
        op.inputs['zero_point'].arguments.add().name = name
        p._insert(list(p.ops).index(op), const)
        return {'op': op.outputs[0].name, 'zero_point': 8, 'after': source.outputs[0].name}
    raise NoTarget('no activation dequantize after a conv (not a W8A8 package?)')


def weight_scale_axis(p):
    for op in p.ops:
        if op.type != 'constexpr_affine_dequantize':
            continue
        shape = [d.constant.size for d in op.attributes['quantized_data'].type.tensorType.dimensions]
        axis_ints = op.attributes['axis'].immediateValue.tensor.ints.values
        axis = axis_ints[0] % len(shape)
        other = [k for k in range(len(shape)) if k != axis and shape[k] == shape[axis]]
        if not other:
            continue
        axis_ints[0] = other[0]
        return {'op': op.outputs[0].name, 'shape': shape, 'axis': axis, 'new_axis': other[0]}
    raise NoTarget('no int8 weight with another axis the size of its scales')


def weight_scale_order(p):
    from coremltools.libmilstoragepython import _BlobStorageReader, _BlobStorageWriter
    best = None
    for op in p.ops:
        if op.type != 'constexpr_affine_dequantize':
            continue
        val = op.attributes['scale']
        tt = val.type.tensorType
        if val.WhichOneof('value') != 'blobFileValue' or p.mil.DataType.Name(tt.dataType) != 'FLOAT16' or len(tt.dimensions) != 1:
            continue
        path = os.path.join(p.model_dir, val.blobFileValue.fileName.replace('@model_path/', ''))
        scale = _BlobStorageReader(path).read_fp16_data(val.blobFileValue.offset).view(np.float16).astype(np.float32)
        spread = float(scale.max() / max(scale.min(), 1e-12))
        if best is None or spread > best[0]:
            best = (spread, op, path, scale)
    if best is None:
        raise NoTarget('no int8 weight with per-channel fp16 scales in the weight blob')
    spread, op, path, scale = best
    offset = _BlobStorageWriter(path, truncate_file=False).write_fp16_data(scale[::-1].astype(np.float16).view(np.uint16))
    op.attributes['scale'].blobFileValue.offset = offset
    return {'op': op.outputs[0].name, 'channels': int(scale.size), 'spread': spread}


def unknown_op(p):
    for op in p.ops:
        if op.type in ('relu', 'gelu', 'clip'):
            old = op.type
            op.type = 'eformer_unknown_op'
            return {'op': op.outputs[0].name, 'type': old, 'new_type': op.type}
    raise NoTarget('no relu, gelu or clip')


MUTATORS = {'transpose-perm': transpose_perm, 'pad-side': pad_side, 'gelu-tanh': gelu_mode('TANH_APPROXIMATION'),
            'gelu-sigmoid': gelu_mode('SIGMOID_APPROXIMATION'), 'norm-twice': norm_twice,
            'layernorm-axis': layernorm_axis, 'act-zero-point': act_zero_point, 'weight-scale-axis': weight_scale_axis,
            'weight-scale-order': weight_scale_order, 'unknown-op': unknown_op}


def mutate(src, dst, mutation):
    ct = _ct()
    from coremltools.libmodelpackage import ModelPackage
    if not os.path.isdir(src):
        raise ValueError(f'{src} is not an .mlpackage folder')
    if os.path.exists(dst):
        raise ValueError(f'{dst} already exists')
    tmp = dst + '.partial'
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(src, tmp)
    try:
        spec_path = ModelPackage(tmp).getRootModel().path()
        spec = ct.utils.load_spec(tmp)
        if spec.WhichOneof('Type') != 'mlProgram':
            raise ValueError('only ML Program packages can be mutated')
        p = Program(ct, spec, os.path.dirname(spec_path))
        info = MUTATORS[mutation](p)
        with open(spec_path, 'wb') as f:
            f.write(spec.SerializeToString())
        os.replace(tmp, dst)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return info


def main(argv):
    if len(argv) != 3 or argv[2] not in MUTATIONS:
        print(f'usage: coreml_mutants.py IN.mlpackage OUT.mlpackage {{{"|".join(MUTATIONS)}}}', file=sys.stderr)
        return 2
    try:
        info = mutate(*argv)
    except NoTarget as e:
        print(f'coreml_mutants: {argv[2]}: {e}', file=sys.stderr)
        return 3
    except ValueError as e:
        print(f'coreml_mutants: {e}', file=sys.stderr)
        return 2
    print(json.dumps({'mutation': argv[2], 'out': argv[1], **info}))
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
