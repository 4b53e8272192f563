# The PyTorch side of `npm run bench` (tests/bench/bench.ts). Three modes, each printing one
# JSON line:
#   anchor THREADS MINIMUM          the BLAS PyTorch runs on: a 1024×1024 float32 product's
#                                   GFLOP/s on THREADS threads (the median of 9; measured again,
#                                   up to 3 times, while under MINIMUM, since a process elsewhere
#                                   on the cores can slow a fast BLAS but never speed a slow one),
#                                   the BLAS line of torch.__config__.show() and the library loaded
#   peak THREADS                    the machine's peak as a native GEMM reaches it: PyTorch's
#                                   fastest 1024² or 2048² sgemm on THREADS threads
#   job THREADS DATA NET CONFIG     lth's training job as a PyTorch loop: the dataset and the
#                                   initial net are lth's own files (safetensors, PyTorch layouts),
#                                   so both sides build the same layers from the same weights and
#                                   train on the same batches; CONFIG (JSON) holds the epochs,
#                                   learning rate, batch, test chunk, lth's batch-norm and Adam
#                                   constants, and the file of lth's data order.
import json, re, sys, time

import numpy as np
import torch
import torch.nn as nn

mode, threads = sys.argv[1], int(sys.argv[2])
torch.set_num_threads(threads)


def sgemm_gflops(n, best=False, runs=9, warmup=3):
    """GFLOP/s of an n×n float32 product (2·n³ flops), after `warmup` unmeasured ones: from the
    median of `runs` timings, or with `best`, from the fastest (a peak is what the machine can do)."""
    a, b, c = torch.randn(n, n), torch.randn(n, n), torch.empty(n, n)
    for _ in range(warmup):
        torch.mm(a, b, out=c)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        torch.mm(a, b, out=c)
        times.append(time.perf_counter() - start)
    return 2 * n**3 / (min(times) if best else sorted(times)[runs // 2]) / 1e9


if mode == 'anchor':
    blas = ', '.join(re.findall(r'\b(?:BLAS|LAPACK)_INFO=[^,\s]*', torch.__config__.show()))
    gflops = 0.0
    for _ in range(3):
        gflops = max(gflops, sgemm_gflops(1024))
        if gflops >= float(sys.argv[3]):
            break
    # Debian's torch says BLAS_INFO=generic: it calls whatever libblas.so.3 the alternatives
    # system points to (OpenBLAS, or the reference BLAS, about 30× slower). The loaded file says which.
    try:
        libraries = sorted({l.split()[-1] for l in open('/proc/self/maps') if 'blas' in l.split()[-1].lower()})
    except OSError:
        libraries = []
    print(json.dumps({'gflops': gflops, 'blas': blas, 'libraries': libraries, 'torch': torch.__version__}))
    sys.exit(0)

if mode == 'peak':
    print(json.dumps({'gflops': max(sgemm_gflops(1024, best=True), sgemm_gflops(2048, best=True))}))
    sys.exit(0)


def safetensors(path):
    b = open(path, 'rb').read()
    n = int.from_bytes(b[:8], 'little')
    header = json.loads(b[8:8 + n])
    meta = header.pop('__metadata__', {})
    dtypes = {'F32': np.float32, 'I32': np.int32, 'U8': np.uint8, 'BOOL': np.uint8}
    tensors = {}
    for name, t in header.items():
        s, e = t['data_offsets']
        tensors[name] = np.frombuffer(b[8 + n + s:8 + n + e], dtype=dtypes[t['dtype']]).reshape(t['shape'])
    return meta, tensors


data_path, net_path, cfg = sys.argv[3], sys.argv[4], json.loads(sys.argv[5])

# The examples as lth's `features` makes them: x·scale, standardised per channel (the last axis).
meta, data = safetensors(data_path)
shape = json.loads(meta['input_shape'])
scale = float(meta['scale'])
mean = np.array(json.loads(meta['mean']), np.float32)
std = np.array(json.loads(meta['std']), np.float32)


def split(name):
    x = (data[name + '.x'].astype(np.float32).reshape(-1, *shape) * scale - mean) / std
    if len(shape) == 3:
        x = x.transpose(0, 3, 1, 2)  # lth's NHWC → PyTorch's NCHW
    return torch.tensor(np.ascontiguousarray(x)), torch.tensor(data[name + '.y'].astype(np.int64))


xtr, ytr = split('train')
xte, yte = split('test')

# The net lth's `init` stored: its layer plan (runtime/core/architectures.ts) and weights. As
# lth's EngineNet computes it: conv (stride 1, same padding) → batch norm or bias → ReLU →
# 2×2 max pool where the layer pools, or a ResNet's residual blocks (3×3 convs padded 1, a
# stride-2 1×1 conv on a projection shortcut); then the head (channel-major flatten, or the
# mean over the feature map), dense layers with ReLU but the last.
net_meta, weights = safetensors(net_path)
layers, head = json.loads(net_meta['layers']), net_meta['head']
def param(name, like):
    t = torch.tensor(weights[name].copy())
    assert tuple(t.shape) == tuple(like.shape), f'{name}: lth stored {tuple(t.shape)}, the PyTorch layer has {tuple(like.shape)}'
    return t


bn, adam = cfg['bn'], cfg['adam']


def conv_of(l):
    """A conv layer as lth stores it: weights, bias or batch norm (its running statistics too)."""
    name, stride = l['name'], l.get('stride', 1)
    conv = nn.Conv2d(l['inputs'], l['outputs'], l['kernel'], stride=stride, padding=l['kernel'] // 2, bias=l['bias'])
    conv.weight.data = param(name + '.weight', conv.weight)
    if l['bias']:
        conv.bias.data = param(name + '.bias', conv.bias)
    if not l['norm']:
        return conv
    norm = nn.BatchNorm2d(l['outputs'], eps=bn['epsilon'], momentum=bn['momentum'])
    norm.weight.data, norm.bias.data = param(name + '.bn.weight', norm.weight), param(name + '.bn.bias', norm.bias)
    norm.running_mean.copy_(param(name + '.bn.running_mean', norm.running_mean))
    norm.running_var.copy_(param(name + '.bn.running_var', norm.running_var))
    return nn.Sequential(conv, norm)


class Block(nn.Module):
    """OpenLTH's cifar_resnet Block: relu(bn(conv)), bn(conv), plus the shortcut, relu."""

    def __init__(self, first, second, shortcut):
        super().__init__()
        self.first, self.second = conv_of(first), conv_of(second)
        self.shortcut = conv_of(shortcut) if shortcut else nn.Identity()

    def forward(self, x):
        return nn.functional.relu(self.second(nn.functional.relu(self.first(x))) + self.shortcut(x))


modules, spatial = [], len(shape) == 3 and layers[0]['kind'] == 'conv'
if not spatial:
    modules.append(nn.Flatten())
i = 0
while i < len(layers):
    l = layers[i]
    name = l['name']
    if l['kind'] == 'conv':
        nxt = layers[i + 1] if i + 1 < len(layers) else {}
        if nxt.get('residual'):
            # A ResNet block: this conv, the one that closes it, and its projection shortcut if any.
            projection = nxt['residual'] == 'projection'
            modules.append(Block(l, nxt, layers[i + 2] if projection else None))
            i += 3 if projection else 2
            continue
        modules += [conv_of(l), nn.ReLU()]
        if l['pool']:
            modules.append(nn.MaxPool2d(2))
        i += 1
        continue
    if spatial:
        modules += [nn.AdaptiveAvgPool2d(1), nn.Flatten()] if head == 'average' else [nn.Flatten()]
        spatial = False
    fc = nn.Linear(l['inputs'], l['outputs'])
    fc.weight.data, fc.bias.data = param(name + '.weight', fc.weight), param(name + '.bias', fc.bias)
    modules.append(fc)
    if l['activation'] == 'relu':
        modules.append(nn.ReLU())
    i += 1
net = nn.Sequential(*modules)
opt = torch.optim.Adam(net.parameters(), lr=cfg['lr'], betas=(adam['beta1'], adam['beta2']), eps=adam['epsilon'])

# lth's `fit`: each epoch in lth's own order of the examples (CONFIG's `orders`, a file of
# epochs × n uint32), batches of `batch` (the last one short), and the test split measured (loss
# and accuracy, in chunks, batch norm on running statistics) after every epoch. Same weights,
# data and order: both sides should end at the same accuracy, up to float rounding.
orders = torch.from_numpy(np.fromfile(cfg['orders'], dtype=np.uint32).astype(np.int64).reshape(cfg['epochs'], len(ytr)))
batch, chunk = cfg['batch'], cfg['chunk']
start = time.perf_counter()
for epoch in range(cfg['epochs']):
    net.train()
    order = orders[epoch]
    for i in range(0, len(ytr), batch):
        idx = order[i:i + batch]
        opt.zero_grad()
        nn.functional.cross_entropy(net(xtr[idx]), ytr[idx]).backward()
        opt.step()
    net.eval()
    correct, loss = 0, 0.0
    with torch.no_grad():
        for i in range(0, len(yte), chunk):
            logits, labels = net(xte[i:i + chunk]), yte[i:i + chunk]
            loss += nn.functional.cross_entropy(logits, labels, reduction='sum').item()
            correct += (logits.argmax(1) == labels).sum().item()
seconds = time.perf_counter() - start
print(json.dumps({'seconds': seconds, 'accuracy': correct / len(yte), 'loss': loss / len(yte)}))
