#!/usr/bin/env python3
"""Reference outputs that eformer's tests compare against, made by the reference libraries.

Makes:
  fixtures/checkpoints/mnv2_tiny.pth + mnv2_tiny.json
      torchvision's MobileNetV2 (width 0.25, 10 classes) with seeded random weights far from
      their init values, saved in torchvision's own naming, and its logits on the shared input:
      eformer's ONNX of the same architecture and weights must give the same logits.
  fixtures/images/predict-reference.json
      what Hugging Face transformers' EfficientFormerImageProcessor and
      EfficientFormerForImageClassificationWithTeacher say of the fixture images with the tiny
      checkpoint in fixtures/checkpoints/v1_tiny_hf/: the top-5 classes (with their id2label
      names) and probabilities that `eformer predict` must reproduce.

    python scripts/make_reference_outputs.py

Needs torch, torchvision, transformers, safetensors, numpy and Pillow (see the README's fixture
notes for the versions used); reuses the helpers of scripts/make_fixtures.py.
"""
import os
import sys

import numpy as np
import torch

SCRIPTS_DIR = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, SCRIPTS_DIR)
import make_fixtures as mf  # noqa: E402

MNV2 = dict(width_mult=0.25, num_classes=10)


def generator_info():
    import torchvision
    import transformers
    return {'script': 'scripts/make_reference_outputs.py', 'torch': torch.__version__,
            'torchvision': torchvision.__version__, 'transformers': transformers.__version__}


def make_mobilenetv2(x):
    print('torchvision MobileNetV2 tiny')
    from torchvision.models import mobilenet_v2
    model = mobilenet_v2(**MNV2)
    mf.randomize_(model, seed=11)
    model.eval()
    logits = mf.tame_heads(model, [model.classifier[1]], x, mf.run(model, x))
    state = mf.cloned(model.state_dict())
    mf.save_torch(state, 'mnv2_tiny.pth')
    # The saved file reproduces the logits when loaded into a fresh model.
    mf.require_same('reloaded', mf.logits_from(lambda: mobilenet_v2(**MNV2), torch.load(os.path.join(mf.CKPT_DIR, 'mnv2_tiny.pth')), x), logits)
    mf.write_json(os.path.join(mf.CKPT_DIR, 'mnv2_tiny.json'), {
        'family': 'mobilenetv2',
        'config': {'widthMult': MNV2['width_mult'], 'numClasses': MNV2['num_classes']},
        'resolution': mf.RESOLUTION,
        'logits': mf.as_list(logits),
        'max_abs_logit': float(np.abs(logits).max()),
        'files': {'torchvision': 'mnv2_tiny.pth'},
        'generator': generator_info(),
    })


def make_predict_reference():
    print('predict reference (Hugging Face processor + model)')
    from PIL import Image
    from transformers import EfficientFormerForImageClassificationWithTeacher, EfficientFormerImageProcessor
    folder = os.path.join(mf.CKPT_DIR, 'v1_tiny_hf')
    model = EfficientFormerForImageClassificationWithTeacher.from_pretrained(folder)
    model.eval()
    processor = EfficientFormerImageProcessor(size={'shortest_edge': 256}, crop_size={'height': 224, 'width': 224})
    images = {}
    for name in ['gradient.png', 'gradient.jpg']:
        inputs = processor(images=Image.open(os.path.join(mf.IMAGE_DIR, name)).convert('RGB'), return_tensors='pt')
        with torch.no_grad():
            logits = model(**inputs).logits[0]
        probs = torch.softmax(logits.double(), dim=-1)
        top = torch.topk(probs, 5)
        images[name] = [{'index': int(i), 'label': model.config.id2label[int(i)], 'probability': float(p)}
                        for p, i in zip(top.values, top.indices)]
    mf.write_json(os.path.join(mf.IMAGE_DIR, 'predict-reference.json'), {
        'model': 'fixtures/checkpoints/v1_tiny_hf (model.safetensors + config.json)',
        'processor': 'transformers EfficientFormerImageProcessor, shortest_edge 256, crop 224x224',
        'images': images,
        'generator': generator_info(),
    })


def main():
    torch.set_num_threads(1)
    x = mf.shared_input()
    make_mobilenetv2(x)
    make_predict_reference()
    print('\nwritten:')
    for path in mf.WRITTEN:
        print(f'  {os.path.getsize(path):>9}  {os.path.relpath(path, mf.REPO_ROOT)}')


if __name__ == '__main__':
    main()
