#!/usr/bin/env python3
"""Cross-checks switchyard-gguf against llama.cpp's Python package `gguf` (gguf-py).

Not run in CI (needs `pip install gguf numpy`). Usage, from the repository root:
    d=$(mktemp -d) && cargo run -p switchyard-gguf --example crosscheck_fixture "$d" \
        && python3 crates/gguf/scripts/crosscheck_gguf_py.py "$d"

Checks: gguf-py's GGUFReader reads our writer's file (metadata, tensor names, types, shapes,
offsets); gguf-py's dequantizers (ports of ggml's) decode every tensor to exactly the values
ours produce, for our quantizers' blocks and for random blocks; and where gguf-py has a
quantizer (F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1) it produces byte-identical blocks.
"""
import sys
from pathlib import Path

import numpy as np
import gguf
from gguf import GGUFReader, GGMLQuantizationType as T
from gguf import quants

d = Path(sys.argv[1])
r = GGUFReader(d / "fixture.gguf")
assert bytes(r.fields["general.architecture"].parts[-1]).decode() == "llama"
assert int(r.fields["general.alignment"].parts[-1][0]) == 64
x = np.fromfile(d / "input.f32", dtype=np.float32).reshape(4, 512)
failures = 0
for t in r.tensors:
    ours = np.fromfile(d / f"{t.name}.ours.f32", dtype=np.float32).reshape(4, 512)
    try:
        theirs = quants.dequantize(t.data, t.tensor_type).reshape(4, 512).astype(np.float32)
    except NotImplementedError:
        print(f"{t.name:10} {t.tensor_type.name:5} (gguf-py has no dequantizer)")
        continue
    same = np.array_equal(ours.view(np.uint32), theirs.view(np.uint32)) or np.array_equal(ours, theirs)
    msg = f"{t.name:10} {t.tensor_type.name:5} shape={list(t.shape)} dequant {'identical' if same else 'DIFFERENT'}"
    if not same:
        failures += 1
        msg += f" (max abs diff {np.nanmax(np.abs(ours - theirs))})"
    if t.name.startswith("q."):
        try:
            ref = quants.quantize(x, t.tensor_type)
            eq = np.array_equal(ref.reshape(-1).view(np.uint8), np.asarray(t.data).reshape(-1).view(np.uint8))
            msg += f"; quantize vs gguf-py {'byte-identical' if eq else 'DIFFERENT'}"
            failures += 0 if eq else 1
        except NotImplementedError:
            msg += "; (gguf-py has no quantizer)"
    print(msg)
print("FAILURES:", failures)
sys.exit(1 if failures else 0)
