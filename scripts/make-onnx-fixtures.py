#!/usr/bin/python3
"""Exports small PyTorch models to ONNX and records PyTorch's outputs as golden references.

Run with Debian's python (torch 1.13, onnx 1.12):  /usr/bin/python3 scripts/make-onnx-fixtures.py [names...]
(no names: all fixtures; names: only those, e.g. `transformer_small`, leaving the others untouched)

Writes test/fixtures/onnx/<name>.onnx and <name>.json. The JSON holds one or more cases, each
with inputs and PyTorch's outputs as base64 little-endian arrays:
  {"model": "<name>.onnx", "cases": [{"inputs": [{"name", "dtype", "shape", "data"}], "outputs": [...]}]}
Weights are random (seeded); the models only need to exercise the operators, not be accurate.
"""
import base64
import json
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, 'test', 'fixtures', 'onnx')


def enc(name, arr):
    arr = np.ascontiguousarray(arr)
    dtype = {np.dtype('float32'): 'float32', np.dtype('int64'): 'int64', np.dtype('int32'): 'int32',
             np.dtype('bool'): 'bool'}[arr.dtype]
    return {'name': name, 'dtype': dtype, 'shape': list(arr.shape),
            'data': base64.b64encode(arr.astype(arr.dtype.newbyteorder('<')).tobytes()).decode()}


def export(name, model, example_inputs, input_names, output_names, cases, opset=13,
           dynamic_axes=None, **kw):
    """Exports `model` and records PyTorch outputs for each case (a tuple of input tensors)."""
    model.eval()
    path = os.path.join(OUT, name + '.onnx')
    torch.onnx.export(model, example_inputs, path, input_names=input_names, output_names=output_names,
                      opset_version=opset, dynamic_axes=dynamic_axes, **kw)
    recorded = []
    with torch.no_grad():
        for inputs in cases:
            outs = model(*inputs)
            if isinstance(outs, torch.Tensor):
                outs = (outs,)
            flat = []
            for o in outs:
                flat.extend(o if isinstance(o, (tuple, list)) else [o])
            recorded.append({
                'inputs': [enc(n, t.numpy()) for n, t in zip(input_names, inputs)],
                'outputs': [enc(n, t.numpy()) for n, t in zip(output_names, flat)],
            })
    with open(os.path.join(OUT, name + '.json'), 'w') as f:
        json.dump({'model': name + '.onnx', 'opset': opset, 'cases': recorded}, f)
    print(f'{name}: {os.path.getsize(path)} bytes onnx')


class Mlp(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(12, 24)
        self.fc2 = nn.Linear(24, 16)
        self.fc3 = nn.Linear(16, 5)

    def forward(self, x):
        h = torch.relu(self.fc1(x))
        h = torch.tanh(self.fc2(h)) + torch.sigmoid(h[:, :16])
        logits = self.fc3(h)
        return F.softmax(logits, dim=-1), F.log_softmax(logits, dim=-1)


class SmallCnn(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(3, 8, 3, padding=1)
        self.b1 = nn.BatchNorm2d(8)
        self.c2 = nn.Conv2d(8, 8, 3, stride=2, padding=1, dilation=1, groups=2)
        self.b2 = nn.BatchNorm2d(8)
        self.c3 = nn.Conv2d(8, 6, 3, padding=2, dilation=2)
        self.fc = nn.Linear(6 * 2 * 2, 4)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.b1(self.c1(x))), 2)
        x = F.relu6(self.b2(self.c2(x)))
        x = F.avg_pool2d(self.c3(x), 2)
        return self.fc(torch.flatten(x, 1))


def randomize_bn(m):
    # Fresh BatchNorm stats are identity; random ones make folding/preserving observable.
    for mod in m.modules():
        if isinstance(mod, nn.BatchNorm2d):
            with torch.no_grad():
                mod.running_mean.uniform_(-0.5, 0.5)
                mod.running_var.uniform_(0.5, 1.5)
                mod.weight.uniform_(0.5, 1.5)
                mod.bias.uniform_(-0.2, 0.2)
    return m


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.c1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.b1 = nn.BatchNorm2d(cout)
        self.c2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.b2 = nn.BatchNorm2d(cout)
        self.down = None
        if stride != 1 or cin != cout:
            self.down = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        idt = x if self.down is None else self.down(x)
        y = F.relu(self.b1(self.c1(x)))
        return F.relu(self.b2(self.c2(y)) + idt)


class ResNetTiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 8, 3, 2, 1, bias=False), nn.BatchNorm2d(8), nn.ReLU(),
                                  nn.MaxPool2d(3, 2, 1))
        self.layers = nn.Sequential(BasicBlock(8, 8, 1), BasicBlock(8, 16, 2))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(16, 10)

    def forward(self, x):
        return self.fc(torch.flatten(self.pool(self.layers(self.stem(x))), 1))


class SqueezeExcite(nn.Module):
    def __init__(self, c, r):
        super().__init__()
        self.fc1 = nn.Conv2d(c, r, 1)
        self.fc2 = nn.Conv2d(r, c, 1)

    def forward(self, x):
        s = F.adaptive_avg_pool2d(x, 1)
        return x * F.hardsigmoid(self.fc2(F.relu(self.fc1(s))))


class InvertedResidual(nn.Module):
    def __init__(self, cin, exp, cout, k, stride, se, act):
        super().__init__()
        self.use_res = stride == 1 and cin == cout
        self.expand = nn.Sequential(nn.Conv2d(cin, exp, 1, bias=False), nn.BatchNorm2d(exp), act())
        self.dw = nn.Sequential(nn.Conv2d(exp, exp, k, stride, k // 2, groups=exp, bias=False),
                                nn.BatchNorm2d(exp), act())
        self.se = SqueezeExcite(exp, max(4, exp // 4)) if se else nn.Identity()
        self.project = nn.Sequential(nn.Conv2d(exp, cout, 1, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        y = self.project(self.se(self.dw(self.expand(x))))
        return x + y if self.use_res else y


class MobileNetV3Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 8, 3, 2, 1, bias=False), nn.BatchNorm2d(8), nn.Hardswish())
        self.blocks = nn.Sequential(
            InvertedResidual(8, 16, 8, 3, 1, True, nn.ReLU),
            InvertedResidual(8, 24, 12, 5, 2, False, nn.Hardswish),
            InvertedResidual(12, 32, 12, 3, 1, True, nn.Hardswish),
        )
        self.head = nn.Sequential(nn.Conv2d(12, 32, 1), nn.Hardswish())
        self.classifier = nn.Sequential(nn.Linear(32, 24), nn.Hardswish(), nn.Dropout(0.2), nn.Linear(24, 7))

    def forward(self, x):
        x = self.head(self.blocks(self.stem(x)))
        return self.classifier(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


class TinyEncoder(nn.Module):
    def __init__(self, vocab=20, max_pos=32, d=16, heads=2, ff=32):
        super().__init__()
        self.tok = nn.Embedding(vocab, d)
        self.pos = nn.Embedding(max_pos, d)
        layer = nn.TransformerEncoderLayer(d, heads, ff, dropout=0.1, activation='gelu', batch_first=True)
        self.enc = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(d)
        self.head = nn.Linear(d, 3)

    def forward(self, ids):
        pos = torch.arange(ids.shape[1]).unsqueeze(0).expand(ids.shape[0], -1)
        h = self.enc(self.tok(ids) + self.pos(pos))
        return self.head(self.norm(h).mean(dim=1))


class SmallEncoder(TinyEncoder):
    """A BERT-mini-sized encoder (d 128, 4 heads, FF 512, 2 layers): big enough that kernel time,
    not per-op host work, decides latency — the model for the kernels-on/off benchmark."""
    def __init__(self):
        super().__init__(vocab=100, max_pos=128, d=128, heads=4, ff=512)


class Recurrent(nn.Module):
    def __init__(self, kind):
        super().__init__()
        self.kind = kind
        cls = nn.LSTM if kind == 'lstm' else nn.GRU
        self.rnn = cls(6, 10, num_layers=2, batch_first=True, bidirectional=(kind == 'lstm'))
        self.fc = nn.Linear(10 * (2 if kind == 'lstm' else 1), 3)

    def forward(self, x, *state):
        out, st = self.rnn(x, state if self.kind == 'lstm' else state[0])
        hn = st[0] if self.kind == 'lstm' else st
        return self.fc(out), hn


class UNetBlock(nn.Module):
    def __init__(self):
        super().__init__()
        self.e1 = nn.Conv2d(2, 6, 3, padding=1)
        self.e2 = nn.Conv2d(6, 8, 3, padding=1)
        self.up_t = nn.ConvTranspose2d(8, 6, 2, stride=2)
        self.d1 = nn.Conv2d(12, 6, 3, padding=1)
        self.up_b = nn.Upsample(scale_factor=2, mode='bilinear', align_corners=False)
        self.out = nn.Conv2d(6, 1, 1)

    def forward(self, x):
        s1 = F.relu(self.e1(x))                                  # [B,6,H,W]
        b = F.relu(self.e2(F.max_pool2d(s1, 2)))                 # [B,8,H/2,W/2]
        up = self.up_t(b)                                        # [B,6,H,W]
        near = F.interpolate(b[:, :6], scale_factor=2, mode='nearest')
        d = F.relu(self.d1(torch.cat([up + near, s1], dim=1)))
        low = F.avg_pool2d(d, 2)
        y = self.out(self.up_b(low) + d)
        y = F.pad(y, (1, 1, 2, 0))
        return torch.clamp(y, -1.0, 1.0)


class MiscOps(nn.Module):
    """Shape arithmetic and the transformer-adjacent ops torch emits outside layers."""

    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.randn(4, 6))

    def forward(self, x, y):
        a, b = torch.split(x, [2, 4], dim=-1)                    # Split
        e = torch.einsum('bij,jk->bik', x, self.w.t())            # Einsum
        m = torch.where(x > 0, x, y)                              # Greater, Where
        eq = (torch.round(x) == torch.round(y)).float()           # Equal, Cast
        s = x[:, 1:3, ::2]                                        # Slice with steps
        r = torch.arange(0, x.shape[2], 2, dtype=torch.float32)   # Range
        z = (s + r).reshape(x.shape[0], -1)                       # Reshape from Shape
        p = torch.pow(torch.abs(b) + 1, 1.5).sqrt() / (a.sum(-1, keepdim=True) ** 2 + 1)
        t = torch.erf(e).transpose(1, 2).unsqueeze(1).squeeze(1)
        ex = torch.ones(1, 1, 6).expand(x.shape[0], 4, 6) * m.mean(dim=(1, 2), keepdim=True)
        return z, p.amax(dim=1) - p.amin(dim=1), t, eq + ex, torch.exp(-x.abs()).log1p()


class IfNet(nn.Module):
    """`if` on a tensor condition (scripted): an ONNX If whose branches read outer values."""

    def __init__(self):
        super().__init__()
        self.a = nn.Linear(6, 4)
        self.b = nn.Linear(6, 4)

    def forward(self, x):
        h = torch.tanh(x)
        if x.sum() > 0:
            y = self.a(h) * 2.0
        else:
            y = torch.relu(self.b(x)) - h[:, :4]
        return y + 1.0


class LoopNet(nn.Module):
    """A `for` loop with a trip count from an input tensor, loop-carried state, and an `if` inside."""

    def __init__(self):
        super().__init__()
        self.cell = nn.Linear(8, 8)

    def forward(self, x, steps):
        h = torch.zeros_like(x)
        acc = x
        for i in range(int(steps.item())):
            h = torch.tanh(self.cell(h) + x * float(i + 1))
            if h.mean() > 0:
                acc = acc + h
            else:
                acc = acc - 0.5 * h
        return h, acc


def export_scripted(name, module, example, input_names, output_names, cases, opset, dynamic_axes):
    """torch.jit.script keeps Python control flow, which torch.onnx.export turns into If/Loop."""
    module.eval()
    export(name, torch.jit.script(module), example, input_names, output_names, cases, opset=opset,
           dynamic_axes=dynamic_axes)


def small_transformer():
    torch.manual_seed(2)
    g = torch.Generator().manual_seed(3)
    enc = SmallEncoder()
    ids64 = torch.randint(0, 100, (1, 64), generator=g)
    ids2 = torch.randint(0, 100, (2, 32), generator=g)
    export('transformer_small', enc, (ids64,), ['ids'], ['logits'], [(ids64,), (ids2,)],
           dynamic_axes={'ids': {0: 'batch', 1: 'seq'}, 'logits': {0: 'batch'}}, opset=17)


SEPARATE = {'transformer_small': small_transformer}


def main():
    os.makedirs(OUT, exist_ok=True)
    if len(sys.argv) > 1:
        for name in sys.argv[1:]:
            SEPARATE[name]()
        return 0
    for make in SEPARATE.values():
        make()
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(1)

    def rnd(*shape):
        return torch.randn(*shape, generator=g)

    batch = {0: 'batch'}
    m = Mlp()
    export('mlp', m, (rnd(1, 12),), ['input'], ['probs', 'log_probs'],
           [(rnd(1, 12),), (rnd(3, 12),)],
           dynamic_axes={'input': batch, 'probs': batch, 'log_probs': batch})

    cnn = randomize_bn(SmallCnn())
    x1, x4 = rnd(1, 3, 16, 16), rnd(4, 3, 16, 16)
    export('cnn_bn_folded', cnn, (x1,), ['x'], ['y'], [(x1,), (x4,)],
           dynamic_axes={'x': batch, 'y': batch})
    export('cnn_bn_preserved', cnn, (x1,), ['x'], ['y'], [(x1,), (x4,)],
           dynamic_axes={'x': batch, 'y': batch},
           training=torch.onnx.TrainingMode.PRESERVE, do_constant_folding=False)
    # Static batch: no dynamic_axes, the batch of 2 is baked into the graph.
    xs = rnd(2, 3, 16, 16)
    export('cnn_static_batch', cnn, (xs,), ['x'], ['y'], [(xs,)])

    res = randomize_bn(ResNetTiny())
    export('resnet_tiny', res, (rnd(1, 3, 32, 32),), ['image'], ['logits'],
           [(rnd(1, 3, 32, 32),), (rnd(2, 3, 32, 32),)], dynamic_axes={'image': batch, 'logits': batch})

    mb = randomize_bn(MobileNetV3Tiny())
    export('mobilenetv3_tiny', mb, (rnd(1, 3, 32, 32),), ['image'], ['logits'],
           [(rnd(1, 3, 32, 32),), (rnd(2, 3, 32, 32),)], dynamic_axes={'image': batch, 'logits': batch},
           opset=14)

    enc = TinyEncoder()
    ids1 = torch.randint(0, 20, (1, 7), generator=g)
    ids3 = torch.randint(0, 20, (3, 5), generator=g)
    seq = {'ids': {0: 'batch', 1: 'seq'}, 'logits': batch}
    for opset in (13, 17):
        export(f'transformer_opset{opset}', enc, (ids1,), ['ids'], ['logits'], [(ids1,), (ids3,)],
               dynamic_axes=seq, opset=opset)

    lstm = Recurrent('lstm')
    lx1, lx2 = rnd(1, 5, 6), rnd(2, 4, 6)
    st = lambda b: (rnd(4, b, 10) * 0.5, rnd(4, b, 10) * 0.5)  # noqa: E731
    h1, c1 = st(1)
    h2, c2 = st(2)
    export('lstm', lstm, (lx1, h1, c1), ['x', 'h0', 'c0'], ['y', 'hn'], [(lx1, h1, c1), (lx2, h2, c2)],
           dynamic_axes={'x': {0: 'batch', 1: 'seq'}, 'h0': {1: 'batch'}, 'c0': {1: 'batch'},
                         'y': {0: 'batch', 1: 'seq'}, 'hn': {1: 'batch'}})
    gru = Recurrent('gru')
    g1, g2 = rnd(2, 1, 10) * 0.5, rnd(2, 2, 10) * 0.5
    export('gru', gru, (lx1, g1), ['x', 'h0'], ['y', 'hn'], [(lx1, g1), (lx2, g2)],
           dynamic_axes={'x': {0: 'batch', 1: 'seq'}, 'h0': {1: 'batch'},
                         'y': {0: 'batch', 1: 'seq'}, 'hn': {1: 'batch'}})

    unet = UNetBlock()
    export('unet_block', unet, (rnd(1, 2, 8, 8),), ['x'], ['mask'],
           [(rnd(1, 2, 8, 8),), (rnd(2, 2, 8, 8),)], dynamic_axes={'x': batch, 'mask': batch})

    misc = MiscOps()
    mx1, my1 = rnd(1, 4, 6), rnd(1, 4, 6)
    mx3, my3 = rnd(3, 4, 6), rnd(3, 4, 6)
    export('misc_ops', misc, (mx1, my1), ['x', 'y'], ['z', 'p', 't', 'eq', 'soft'],
           [(mx1, my1), (mx3, my3)],
           dynamic_axes={'x': batch, 'y': batch, 'z': batch, 'p': batch, 't': batch, 'eq': batch,
                         'soft': batch})
    ifnet = IfNet()
    pos, neg = rnd(2, 6).abs() + 0.1, -rnd(3, 6).abs() - 0.1
    export_scripted('control_if', ifnet, (pos,), ['x'], ['y'], [(pos,), (neg,)], 13,
                    {'x': batch, 'y': batch})
    loop = LoopNet()
    lx = rnd(2, 8)
    export_scripted('control_loop', loop, (lx, torch.tensor(3)), ['x', 'steps'], ['h', 'acc'],
                    [(lx, torch.tensor(3)), (rnd(3, 8), torch.tensor(5)), (rnd(1, 8), torch.tensor(0))], 13,
                    {'x': batch, 'h': batch, 'acc': batch})
    total = sum(os.path.getsize(os.path.join(OUT, f)) for f in os.listdir(OUT))
    print(f'total fixture bytes: {total}')


if __name__ == '__main__':
    sys.exit(main())
