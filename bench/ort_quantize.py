"""onnxruntime's own static quantiser on eformer's float graph and calibration inputs, for bench/int8.js.

    python ort_quantize.py FLOAT.onnx CALIB.f32 N OUT.onnx [qdq|qoperator]

CALIB.f32 holds N float32 tensors of the model's input shape, back to back: the same inputs eformer
calibrates on. The settings are the quantiser's usual ones for x86: per-channel int8 weights, uint8
activations, min-max calibration, QDQ format (or QOperator).
"""
import sys

import numpy as np
from onnxruntime.quantization import CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType, quantize_static
import onnx


class Inputs(CalibrationDataReader):
    def __init__(self, path, n, name, shape):
        self.data = np.fromfile(path, dtype=np.float32).reshape((n,) + tuple(shape))
        self.name, self.k = name, 0

    def get_next(self):
        if self.k >= len(self.data):
            return None
        self.k += 1
        return {self.name: self.data[self.k - 1]}


def main():
    src, calib, n, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    fmt = sys.argv[5] if len(sys.argv) > 5 else 'qdq'
    model = onnx.load(src, load_external_data=False)
    inp = model.graph.input[0]
    shape = [d.dim_value for d in inp.type.tensor_type.shape.dim]
    quantize_static(src, out, Inputs(calib, n, inp.name, shape), quant_format=QuantFormat.QDQ if fmt == 'qdq' else QuantFormat.QOperator,
                    per_channel=True, activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8, calibrate_method=CalibrationMethod.MinMax)


if __name__ == '__main__':
    main()
