//! A tiny model written with the gguf crate's writer (seeded random weights), and a deliberately
//! naive f32 forward pass over the same (dequantised) weights to compare against.
#![allow(dead_code)]

use super::Rng;
use switchyard_engine::kernels::{WType, reference};
use switchyard_gguf::{GgmlType, GgufFile, GgufWriter, Value};

#[derive(Debug, Clone)]
pub struct TinySpec {
    pub arch: &'static str,
    pub n_embd: usize,
    pub n_layer: usize,
    pub n_head: usize,
    pub n_head_kv: usize,
    pub n_ff: usize,
    pub n_vocab: usize,
    pub n_ctx: usize,
    /// Type of the big matrices.
    pub wtype: GgmlType,
    pub tied: bool,
    pub rope_freqs: bool,
    pub seed: u64,
}

impl TinySpec {
    pub fn new(arch: &'static str, wtype: GgmlType) -> TinySpec {
        TinySpec {
            arch,
            n_embd: 256,
            n_layer: 2,
            n_head: 4,
            n_head_kv: 2,
            n_ff: 512,
            n_vocab: 320,
            n_ctx: 64,
            wtype,
            tied: false,
            rope_freqs: false,
            seed: 42,
        }
    }
    pub fn head_dim(&self) -> usize {
        self.n_embd / self.n_head
    }
}

/// Writes the model to bytes.
pub fn build(spec: &TinySpec) -> Vec<u8> {
    let mut rng = Rng::new(spec.seed);
    let mut w = GgufWriter::new();
    let a = spec.arch;
    let u = |v: usize| Value::U32(v as u32);
    w.set("general.architecture", Value::String(a.into()))
        .unwrap();
    w.set(format!("{a}.embedding_length"), u(spec.n_embd))
        .unwrap();
    w.set(format!("{a}.block_count"), u(spec.n_layer)).unwrap();
    w.set(format!("{a}.feed_forward_length"), u(spec.n_ff))
        .unwrap();
    w.set(format!("{a}.attention.head_count"), u(spec.n_head))
        .unwrap();
    w.set(format!("{a}.attention.head_count_kv"), u(spec.n_head_kv))
        .unwrap();
    w.set(format!("{a}.context_length"), u(spec.n_ctx)).unwrap();
    w.set(format!("{a}.rope.freq_base"), Value::F32(10000.0))
        .unwrap();
    w.set(
        format!("{a}.attention.layer_norm_rms_epsilon"),
        Value::F32(1e-5),
    )
    .unwrap();
    let (e, hd) = (spec.n_embd, spec.head_dim());
    let (q, kv) = (spec.n_head * hd, spec.n_head_kv * hd);
    fn mat(
        w: &mut GgufWriter,
        rng: &mut Rng,
        name: &str,
        k: usize,
        n: usize,
        ty: GgmlType,
        scale: f32,
    ) {
        let vals = rng.vec(k * n, scale);
        w.add_tensor_f32(name, &[k as u64, n as u64], ty, &vals)
            .unwrap();
    }
    fn vecs(w: &mut GgufWriter, rng: &mut Rng, name: &str, n: usize, base: f32, spread: f32) {
        let vals: Vec<f32> = (0..n).map(|_| base + spread * rng.f32()).collect();
        w.add_tensor_f32(name, &[n as u64], GgmlType::F32, &vals)
            .unwrap();
    }
    let s = 1.0 / (e as f32).sqrt();
    mat(
        &mut w,
        &mut rng,
        "token_embd.weight",
        e,
        spec.n_vocab,
        spec.wtype,
        1.0,
    );
    if !spec.tied {
        mat(
            &mut w,
            &mut rng,
            "output.weight",
            e,
            spec.n_vocab,
            spec.wtype,
            2.0 * s,
        );
    }
    vecs(&mut w, &mut rng, "output_norm.weight", e, 1.0, 0.2);
    if spec.rope_freqs {
        vecs(
            &mut w,
            &mut rng,
            "rope_freqs.weight",
            spec.head_dim() / 2,
            2.0,
            1.0,
        );
    }
    for l in 0..spec.n_layer {
        let n = |x: &str| format!("blk.{l}.{x}");
        vecs(&mut w, &mut rng, &n("attn_norm.weight"), e, 1.0, 0.2);
        vecs(&mut w, &mut rng, &n("ffn_norm.weight"), e, 1.0, 0.2);
        if a == "qwen2" {
            vecs(&mut w, &mut rng, &n("attn_q.bias"), q, 0.0, 0.5);
            vecs(&mut w, &mut rng, &n("attn_k.bias"), kv, 0.0, 0.5);
            vecs(&mut w, &mut rng, &n("attn_v.bias"), kv, 0.0, 0.5);
        }
        if a == "qwen3" {
            vecs(&mut w, &mut rng, &n("attn_q_norm.weight"), hd, 1.0, 0.3);
            vecs(&mut w, &mut rng, &n("attn_k_norm.weight"), hd, 1.0, 0.3);
        }
    }
    for l in 0..spec.n_layer {
        let n = |x: &str| format!("blk.{l}.{x}");
        let t = spec.wtype;
        mat(&mut w, &mut rng, &n("attn_q.weight"), e, q, t, 3.0 * s);
        mat(&mut w, &mut rng, &n("attn_k.weight"), e, kv, t, 3.0 * s);
        mat(&mut w, &mut rng, &n("attn_v.weight"), e, kv, t, s);
        mat(&mut w, &mut rng, &n("attn_output.weight"), q, e, t, s);
        mat(&mut w, &mut rng, &n("ffn_gate.weight"), e, spec.n_ff, t, s);
        mat(&mut w, &mut rng, &n("ffn_up.weight"), e, spec.n_ff, t, s);
        mat(
            &mut w,
            &mut rng,
            &n("ffn_down.weight"),
            spec.n_ff,
            e,
            t,
            1.0 / (spec.n_ff as f32).sqrt(),
        );
    }
    w.into_bytes().unwrap()
}

/// Dequantised tensor `name` (row-major, `dims[0]` per row).
fn tensor(f: &GgufFile, name: &str) -> Option<Vec<f32>> {
    let t = f.tensor(name)?;
    let wt = WType::try_from(t.ggml_type).unwrap();
    let k = t.dims[0] as usize;
    let data = f.tensor_data(t).unwrap();
    let rb = wt.row_bytes(k).unwrap();
    let mut out = vec![0.0f32; t.n_elements as usize];
    for (row, o) in data.chunks_exact(rb).zip(out.chunks_exact_mut(k)) {
        reference::dequantize_row(wt, row, o);
    }
    Some(out)
}

/// `y[n] = Σ_k W[n][k] x[k]` in f64.
fn matvec(w: &[f32], x: &[f32]) -> Vec<f32> {
    w.chunks_exact(x.len())
        .map(|row| {
            row.iter()
                .zip(x)
                .map(|(a, b)| *a as f64 * *b as f64)
                .sum::<f64>() as f32
        })
        .collect()
}

fn rmsnorm(x: &[f32], w: &[f32]) -> Vec<f32> {
    let ms = x.iter().map(|v| (*v as f64).powi(2)).sum::<f64>() / x.len() as f64;
    let s = 1.0 / (ms + 1e-5).sqrt();
    x.iter()
        .zip(w)
        .map(|(v, g)| (*v as f64 * s) as f32 * g)
        .collect()
}

fn rope(x: &mut [f32], pos: usize, neox: bool, freqs: Option<&[f32]>) {
    let d = x.len();
    for i in 0..d / 2 {
        let ff = freqs.map_or(1.0, |f| f[i] as f64);
        let theta = pos as f64 * 10000f64.powf(-2.0 * i as f64 / d as f64) / ff;
        let (a, b) = if neox {
            (i, i + d / 2)
        } else {
            (2 * i, 2 * i + 1)
        };
        let (x0, x1) = (x[a] as f64, x[b] as f64);
        x[a] = (x0 * theta.cos() - x1 * theta.sin()) as f32;
        x[b] = (x0 * theta.sin() + x1 * theta.cos()) as f32;
    }
}

/// The naive forward pass: every token's logits, processing the tokens one by one.
pub fn naive_logits(bytes: &[u8], spec: &TinySpec, tokens: &[u32]) -> Vec<Vec<f32>> {
    let f = GgufFile::from_bytes(bytes.to_vec()).unwrap();
    let g = |n: &str| tensor(&f, n).unwrap_or_else(|| panic!("missing {n}"));
    let (e, hd) = (spec.n_embd, spec.head_dim());
    let neox = spec.arch != "llama";
    let emb = g("token_embd.weight");
    let out_w = tensor(&f, "output.weight").unwrap_or_else(|| emb.clone());
    let freqs = tensor(&f, "rope_freqs.weight");
    let group = spec.n_head / spec.n_head_kv;
    let mut kcache: Vec<Vec<Vec<f32>>> = vec![Vec::new(); spec.n_layer];
    let mut vcache: Vec<Vec<Vec<f32>>> = vec![Vec::new(); spec.n_layer];
    let mut all = Vec::new();
    for (pos, &t) in tokens.iter().enumerate() {
        let mut x = emb[t as usize * e..(t as usize + 1) * e].to_vec();
        for l in 0..spec.n_layer {
            let n = |s: &str| format!("blk.{l}.{s}");
            let opt = |s: &str| tensor(&f, &n(s));
            let h = rmsnorm(&x, &g(&n("attn_norm.weight")));
            let mut q = matvec(&g(&n("attn_q.weight")), &h);
            let mut k = matvec(&g(&n("attn_k.weight")), &h);
            let mut v = matvec(&g(&n("attn_v.weight")), &h);
            for (t, b) in [
                (&mut q, "attn_q.bias"),
                (&mut k, "attn_k.bias"),
                (&mut v, "attn_v.bias"),
            ] {
                if let Some(b) = opt(b) {
                    t.iter_mut().zip(b).for_each(|(a, b)| *a += b);
                }
            }
            for (t, nw) in [
                (&mut q, "attn_q_norm.weight"),
                (&mut k, "attn_k_norm.weight"),
            ] {
                let nw = opt(nw);
                for head in t.chunks_exact_mut(hd) {
                    if let Some(nw) = &nw {
                        let y = rmsnorm(head, nw);
                        head.copy_from_slice(&y);
                    }
                    rope(head, pos, neox, freqs.as_deref());
                }
            }
            kcache[l].push(k);
            vcache[l].push(v);
            let mut att = vec![0.0f32; spec.n_head * hd];
            for h in 0..spec.n_head {
                let kh = h / group;
                let qh = &q[h * hd..(h + 1) * hd];
                let scores: Vec<f64> = kcache[l]
                    .iter()
                    .map(|kr| {
                        qh.iter()
                            .zip(&kr[kh * hd..(kh + 1) * hd])
                            .map(|(a, b)| *a as f64 * *b as f64)
                            .sum::<f64>()
                            / (hd as f64).sqrt()
                    })
                    .collect();
                let mx = scores.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                let ex: Vec<f64> = scores.iter().map(|s| (s - mx).exp()).collect();
                let sum: f64 = ex.iter().sum();
                for (p, vr) in ex.iter().zip(&vcache[l]) {
                    for d in 0..hd {
                        att[h * hd + d] += (p / sum * vr[kh * hd + d] as f64) as f32;
                    }
                }
            }
            let o = matvec(&g(&n("attn_output.weight")), &att);
            x.iter_mut().zip(&o).for_each(|(a, b)| *a += b);
            let h = rmsnorm(&x, &g(&n("ffn_norm.weight")));
            let gt = matvec(&g(&n("ffn_gate.weight")), &h);
            let up = matvec(&g(&n("ffn_up.weight")), &h);
            let act: Vec<f32> = gt
                .iter()
                .zip(&up)
                .map(|(a, b)| (*a as f64 / (1.0 + (-*a as f64).exp()) * *b as f64) as f32)
                .collect();
            let d = matvec(&g(&n("ffn_down.weight")), &act);
            x.iter_mut().zip(&d).for_each(|(a, b)| *a += b);
        }
        let h = rmsnorm(&x, &g("output_norm.weight"));
        all.push(matvec(&out_w, &h));
    }
    all
}
