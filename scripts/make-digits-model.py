#!/usr/bin/python3
"""Trains a small CNN on scikit-learn's 8x8 digits (offline, ships with python3-sklearn) and
exports it as the bundled example model models/digits/1/model.onnx with its Triton config.

Run with Debian's python (torch 1.13, onnx 1.12):  /usr/bin/python3 scripts/make-digits-model.py
Deterministic (seeded); takes a few seconds on 2 cores.
"""
import json
import os

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODEL_DIR = os.path.join(ROOT, 'models', 'digits')
EPOCHS = 30


class DigitsCnn(nn.Module):
    """Input: [B, 1, 8, 8] pixel intensities 0..16. Output: 10 class probabilities."""

    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(1, 16, 3, padding=1)
        self.b1 = nn.BatchNorm2d(16)
        self.c2 = nn.Conv2d(16, 32, 3, padding=1)
        self.b2 = nn.BatchNorm2d(32)
        self.fc1 = nn.Linear(32 * 2 * 2, 64)
        self.fc2 = nn.Linear(64, 10)
        self.drop = nn.Dropout(0.2)

    def forward(self, x):
        x = x / 16.0
        x = F.max_pool2d(F.relu(self.b1(self.c1(x))), 2)
        x = F.max_pool2d(F.relu(self.b2(self.c2(x))), 2)
        x = self.drop(F.relu(self.fc1(torch.flatten(x, 1))))
        return F.softmax(self.fc2(x), dim=1)


CONFIG = '''name: "digits"
platform: "onnxruntime_onnx"
max_batch_size: 8
input [
  {
    name: "image"
    data_type: TYPE_FP32
    dims: [ 1, 8, 8 ]
  }
]
output [
  {
    name: "probabilities"
    data_type: TYPE_FP32
    dims: [ 10 ]
    label_filename: "labels.txt"
  }
]
dynamic_batching {
  max_queue_delay_microseconds: 500
}
'''


def main():
    torch.manual_seed(0)
    digits = load_digits()
    x = digits.images.astype(np.float32)[:, None]  # [N, 1, 8, 8], values 0..16
    y = digits.target.astype(np.int64)
    x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=0.25, random_state=0, stratify=y)
    model = DigitsCnn()
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    xt, yt = torch.from_numpy(x_tr), torch.from_numpy(y_tr)
    for _ in range(EPOCHS):
        model.train()
        perm = torch.randperm(len(xt))
        for i in range(0, len(xt), 64):
            idx = perm[i:i + 64]
            # NLL on log of the softmax output, so the exported graph ends in probabilities.
            loss = F.nll_loss(torch.log(model(xt[idx]) + 1e-9), yt[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    model.eval()
    with torch.no_grad():
        pred = model(torch.from_numpy(x_te)).argmax(1).numpy()
    accuracy = float((pred == y_te).mean())

    os.makedirs(os.path.join(MODEL_DIR, '1'), exist_ok=True)
    torch.onnx.export(model, torch.from_numpy(x_te[:1]), os.path.join(MODEL_DIR, '1', 'model.onnx'),
                      input_names=['image'], output_names=['probabilities'], opset_version=13,
                      dynamic_axes={'image': {0: 'batch'}, 'probabilities': {0: 'batch'}})
    with open(os.path.join(MODEL_DIR, 'config.pbtxt'), 'w') as f:
        f.write(CONFIG)
    with open(os.path.join(MODEL_DIR, 'labels.txt'), 'w') as f:
        f.write(''.join(f'{d}\n' for d in range(10)))
    # A few held-out samples let tests check the served model end to end.
    with open(os.path.join(MODEL_DIR, 'samples.json'), 'w') as f:
        json.dump({'shape': [8, 1, 8, 8], 'images': x_te[:8].reshape(-1).tolist(),
                   'labels': y_te[:8].tolist()}, f)
    with open(os.path.join(MODEL_DIR, 'README.md'), 'w') as f:
        f.write(f'''# digits

A small CNN (2 conv + BatchNorm + max-pool blocks, 2 linear layers, ~{sum(p.numel() for p in model.parameters())} parameters)
trained with PyTorch {torch.__version__} on scikit-learn's 8x8 handwritten digits ({len(x)} images,
75/25 stratified split, seed 0, {EPOCHS} epochs of Adam) and exported with `torch.onnx.export`
(opset 13, dynamic batch, BatchNorm folded into the convolutions).

- Input `image`: FP32 `[batch, 1, 8, 8]`, raw pixel intensities 0..16 (the model divides by 16).
- Output `probabilities`: FP32 `[batch, 10]`, softmax over digits 0..9 (`labels.txt`).
- Held-out test accuracy: **{accuracy * 100:.2f}%** on {len(y_te)} images.
- `samples.json`: the first 8 held-out images (flattened, shape `[8, 1, 8, 8]`) and their labels.

Rebuild: `/usr/bin/python3 scripts/make-digits-model.py` (deterministic, a few seconds).
''')
    print(f'test accuracy {accuracy:.4f}')


if __name__ == '__main__':
    main()
