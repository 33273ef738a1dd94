#!/usr/bin/env python3
"""Op-by-op comparison of our forward pass with llama.cpp's on one token sequence.

Runs the sequence through llama.cpp (llama-cpp-python, CPU, one batch, f16 KV cache, no flash
attention, like scripts/conformance/compare.py) with an eval callback that copies every F32/F16
graph node, and through `teacher_forced --dump DIR` (crates/local/examples/teacher_forced.rs),
then prints, per operation, how many elements and rows differ and the largest difference. The
first line with differences is where the two computations part.

    target/conformance-venv/bin/python scripts/conformance/trace.py \
        --model target/conformance/qwen2-q4_k_m.gguf --tokens 151643,785,3974 \
        [--teacher-forced target/release/examples/teacher_forced] [--isa scalar|avx2|avx512]
        [--step]

`--step` also runs llama.cpp one token at a time (its decode path) and compares the logits of
the three runs (llama.cpp batch, llama.cpp token by token, ours).

Note: llama.cpp multiplies Q4_K matrices with its repacked kernels, whose arithmetic differs
between the first `4·floor(rows/4)` rows of a batch (gemm) and the rest (gemv); we follow the
gemm, so the last 1-3 rows of a sequence may differ by rounding.
"""

import argparse
import ctypes
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import llama_cpp as L


class GgmlTensor(ctypes.Structure):
    """`struct ggml_tensor` of the vendored ggml (GGML_MAX_DIMS 4, MAX_OP_PARAMS 64, MAX_SRC 10)."""
    _fields_ = [("type", ctypes.c_int), ("buffer", ctypes.c_void_p),
                ("ne", ctypes.c_int64 * 4), ("nb", ctypes.c_size_t * 4),
                ("op", ctypes.c_int), ("op_params", ctypes.c_int32 * 16),
                ("flags", ctypes.c_int32), ("src", ctypes.c_void_p * 10),
                ("view_src", ctypes.c_void_p), ("view_offs", ctypes.c_size_t),
                ("data", ctypes.c_void_p), ("name", ctypes.c_char * 64),
                ("extra", ctypes.c_void_p), ("padding", ctypes.c_char * 8)]


def llama_nodes(model_path, tokens, threads, step=False):
    """Every F32/F16 node llama.cpp computes for `tokens` (one batch, or one token at a time
    with `step`), as `name#k` → array, and the logits (`logits`, rows × vocabulary)."""
    nodes, seen = {}, {}

    def callback(ptr, ask, _user):
        if ask:
            return True
        t = ctypes.cast(ptr, ctypes.POINTER(GgmlTensor)).contents
        if t.type not in (0, 1):
            return True
        dtype = np.float32 if t.type == 0 else np.float16
        ne, nb = list(t.ne), list(t.nb)
        size = max((ne[i] - 1) * nb[i] for i in range(4)) + np.dtype(dtype).itemsize
        buf = (ctypes.c_char * size).from_address(t.data)
        flat = np.frombuffer(buf, dtype=dtype, count=size // np.dtype(dtype).itemsize)
        arr = np.lib.stride_tricks.as_strided(flat, shape=ne[::-1], strides=nb[::-1]).copy()
        name = t.name.decode()
        k = seen.get(name, 0)
        seen[name] = k + 1
        nodes[f"{name}#{k}"] = arr
        return True

    cb = L.ggml_backend_sched_eval_callback(callback)
    L.llama_backend_init()
    model = L.llama_model_load_from_file(model_path.encode(), L.llama_model_default_params())
    cp = L.llama_context_default_params()
    cp.n_ctx, cp.n_batch, cp.n_ubatch = 256, 512, 512
    cp.n_threads = cp.n_threads_batch = threads
    cp.flash_attn = False
    cp.cb_eval = cb
    ctx = L.llama_init_from_model(model, cp)
    n_vocab = L.llama_vocab_n_tokens(L.llama_model_get_vocab(model))
    logits = []
    chunks = [[t] for t in tokens] if step else [tokens]
    pos = 0
    for chunk in chunks:
        batch = L.llama_batch_init(len(chunk), 0, 1)
        batch.n_tokens = len(chunk)
        for i, tok in enumerate(chunk):
            batch.token[i], batch.pos[i], batch.n_seq_id[i] = tok, pos + i, 1
            batch.seq_id[i][0], batch.logits[i] = 0, 1
        if L.llama_decode(ctx, batch) != 0:
            sys.exit("trace.py: llama_decode failed")
        out = np.ctypeslib.as_array(L.llama_get_logits(ctx), shape=(len(chunk) * n_vocab,))
        logits.append(out.reshape(len(chunk), n_vocab).copy())
        L.llama_batch_free(batch)
        pos += len(chunk)
    nodes["logits"] = np.concatenate(logits)
    L.llama_free(ctx)
    L.llama_model_free(model)
    return nodes


# Our trace names → llama.cpp's node names (`#k`: the k-th node of that name).
def pairs(n_layer):
    out = [("inp_embd", "inp_embd#0")]
    for l in range(n_layer):
        out += [(f"attn_norm-{l}", f"attn_norm-{l}#0"), (f"Qcur-{l}", f"Qcur-{l}#0"),
                (f"Kcur-{l}", f"Kcur-{l}#0"), (f"Vcur-{l}", f"Vcur-{l}#0"),
                (f"Qrope-{l}", f"Qcur-{l}#1"), (f"Krope-{l}", f"Kcur-{l}#1"),
                (f"kqv_out-{l}", f"kqv_out-{l}#0"), (f"ffn_inp-{l}", f"ffn_inp-{l}#0"),
                (f"ffn_norm-{l}", f"ffn_norm-{l}#0"), (f"ffn_gate-{l}", f"ffn_gate-{l}#0"),
                (f"ffn_up-{l}", f"ffn_up-{l}#0"), (f"ffn_swiglu-{l}", f"ffn_swiglu-{l}#0"),
                (f"ffn_out-{l}", f"ffn_out-{l}#0"), (f"l_out-{l}", f"l_out-{l}#0")]
    return out + [("result_norm", "result_norm#0"), ("result_output", "result_output#0")]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--tokens", required=True, help="comma-separated ids (no BOS added)")
    ap.add_argument("--teacher-forced", default="target/release/examples/teacher_forced")
    ap.add_argument("--isa")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--step", action="store_true")
    args = ap.parse_args()
    tokens = [int(t) for t in args.tokens.split(",") if t.strip()]

    theirs = llama_nodes(args.model, tokens, args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [args.teacher_forced, "--model", args.model, "--tokens", args.tokens,
               "--threads", str(args.threads), "--dump", tmp]
        if args.isa:
            cmd += ["--isa", args.isa]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        with open(os.path.join(tmp, "index.json"), encoding="utf-8") as f:
            widths = json.load(f)
        ours = {n: np.fromfile(os.path.join(tmp, f"{n}.f32"), dtype="<f4").reshape(-1, w)
                for n, w in widths.items()}

    n_layer = 1 + max(int(n.split("-")[1]) for n in ours if n.startswith("l_out-"))
    print(f"{'op':16} {'max |Δ|':>10} {'rel':>8} {'elements ≠':>14} {'rows ≠':>7}  first rows")
    for mine, node in pairs(n_layer):
        if mine not in ours or node not in theirs:
            print(f"{mine:16} (missing: {'ours' if mine not in ours else node})")
            continue
        x = ours[mine]
        y = theirs[node].astype(np.float32).reshape(x.shape[0], -1)
        diff = np.abs(x - y)
        ne = x != y
        rows = np.nonzero(ne.any(axis=1))[0]
        scale = max(float(np.abs(y).max()), 1e-30)
        print(f"{mine:16} {diff.max():10.3g} {diff.max() / scale:8.2g} "
              f"{int(ne.sum()):7}/{ne.size:<7} {len(rows):7}  {rows[:8].tolist()}")

    if args.step:
        batch = theirs["logits"]
        stepped = llama_nodes(args.model, tokens, args.threads, step=True)["logits"]
        mine = ours["result_output"]
        for what, a, b in [("llama.cpp batch vs llama.cpp token by token", batch, stepped),
                           ("ours vs llama.cpp batch", mine, batch),
                           ("ours vs llama.cpp token by token", mine, stepped)]:
            flips = np.nonzero(a.argmax(axis=1) != b.argmax(axis=1))[0].tolist()
            print(f"{what}: max |Δlogit| {np.abs(a - b).max():.3g}, argmax differs at {flips}")


if __name__ == "__main__":
    main()
