//! The forward pass over a batch of rows (tokens of one or more sequences), in llama.cpp's
//! order of operations.

use super::attention::{AttnShape, attend};
use super::config::Hparams;
use super::kv::KvCache;
use super::ops::{Rope, rms_norm, rms_norm_inplace};
use super::weights::{Layer, Matrix};
use super::{BatchEntry, Logits, Model, Trace};
use crate::EngineError;
use crate::kernels::{AType, ActRows, MatMul, act, reference};
use rayon::prelude::*;
use std::cell::RefCell;

/// Activations quantised once per format and reused by every matrix that takes that format.
struct Quantized<'a> {
    x: &'a [f32],
    k: usize,
    done: Vec<ActRows>,
}

impl<'a> Quantized<'a> {
    fn new(x: &'a [f32], k: usize) -> Self {
        Quantized {
            x,
            k,
            done: Vec::new(),
        }
    }
    /// Rows of `x`.
    fn rows(&self) -> usize {
        self.x.len() / self.k.max(1)
    }
    /// The activations in format `ty`, already converted by [`Quantized::get`].
    fn cached(&self, ty: AType) -> Result<&ActRows, EngineError> {
        self.done
            .iter()
            .find(|a| a.ty() == ty)
            .ok_or_else(|| EngineError::Invalid("activation cache".into()))
    }
    fn get(&mut self, ty: AType) -> Result<&ActRows, EngineError> {
        let i = match self.done.iter().position(|a| a.ty() == ty) {
            Some(i) => i,
            None => {
                let mut a = ActRows::new(ty, self.k)?;
                a.quantize(self.x)?;
                self.done.push(a);
                self.done.len() - 1
            }
        };
        self.done
            .get(i)
            .ok_or_else(|| EngineError::Invalid("activation cache".into()))
    }
}

struct Ctx<'m> {
    model: &'m Model,
    hp: &'m Hparams,
    mm: MatMul,
    /// Output buffers handed back by earlier layers of this pass ([`Ctx::give`]). A prompt
    /// step otherwise allocates and frees tens of MB per layer, and the allocator returns that
    /// memory to the kernel each time: page faults and zeroing were about 4% of a prompt.
    spare: RefCell<Vec<Vec<f32>>>,
}

impl Ctx<'_> {
    /// A buffer of `len` values for an output that will be written in full: the smallest
    /// spare one that holds `len` (it may hold an earlier layer's values until then), else a
    /// new one.
    fn buf(&self, len: usize) -> Vec<f32> {
        let mut spare = self.spare.borrow_mut();
        let fit = spare
            .iter()
            .enumerate()
            .filter(|(_, v)| v.capacity() >= len)
            .min_by_key(|(_, v)| v.capacity())
            .map(|(i, _)| i);
        let mut v = fit.map(|i| spare.swap_remove(i)).unwrap_or_default();
        v.resize(len, 0.0);
        v
    }

    /// Hands buffers back for [`Ctx::buf`].
    fn give<const N: usize>(&self, bufs: [Vec<f32>; N]) {
        self.spare.borrow_mut().extend(bufs);
    }

    /// [`Ctx::linear`] of several matrices over the same input, in one pass over the thread
    /// pool when the input is one row (decode).
    fn linear_group<const N: usize>(
        &self,
        ws: [(&Matrix, Option<&[f32]>); N],
        x: &mut Quantized,
    ) -> Result<[Vec<f32>; N], EngineError> {
        let mut views = Vec::with_capacity(N);
        for (w, _) in &ws {
            let view = w.view(&self.model.file)?;
            x.get(view.wt().act_type())?;
            views.push(view);
        }
        let mut outs: [Vec<f32>; N] = std::array::from_fn(|_| Vec::new());
        for (o, v) in outs.iter_mut().zip(&views) {
            *o = self.buf(x.rows() * v.n());
        }
        {
            let mut jobs = Vec::with_capacity(N);
            for (v, o) in views.iter().zip(outs.iter_mut()) {
                jobs.push((*v, x.cached(v.wt().act_type())?, o.as_mut_slice()));
            }
            self.mm.run_group(&mut jobs)?;
        }
        for ((_, bias), (out, v)) in ws.iter().zip(outs.iter_mut().zip(&views)) {
            if let Some(b) = bias {
                for row in out.chunks_exact_mut(v.n()) {
                    for (val, &bb) in row.iter_mut().zip(*b) {
                        *val += bb;
                    }
                }
            }
        }
        Ok(outs)
    }

    /// `out = x · Wᵀ (+ bias)` for every row of `x`.
    fn linear(
        &self,
        w: &Matrix,
        x: &mut Quantized,
        bias: Option<&[f32]>,
    ) -> Result<Vec<f32>, EngineError> {
        let [out] = self.linear_group([(w, bias)], x)?;
        Ok(out)
    }
}

pub(super) fn run(
    model: &Model,
    batch: &mut [BatchEntry<'_>],
    logits: Logits,
    tr: &mut Trace,
) -> Result<Vec<Vec<f32>>, EngineError> {
    let hp = &model.hp;
    // Rows: (entry, position) in batch order; check everything before touching a cache.
    let mut seq_of = Vec::new();
    let mut pos_of = Vec::new();
    let mut toks = Vec::new();
    for (i, e) in batch.iter().enumerate() {
        let c = &e.seq.cache;
        if c.n_layer() != hp.n_layer || c.kv_dim() != hp.kv_dim() {
            return Err(EngineError::Invalid(
                "sequence was made for another model".into(),
            ));
        }
        if e.tokens.is_empty() {
            return Err(EngineError::Invalid("empty token list".into()));
        }
        let needed = c.len() + e.tokens.len();
        if needed > c.n_ctx() {
            return Err(EngineError::ContextFull {
                needed,
                n_ctx: c.n_ctx(),
            });
        }
        for (j, &t) in e.tokens.iter().enumerate() {
            if t as usize >= model.weights.n_vocab {
                return Err(EngineError::BadToken {
                    token: t,
                    vocab: model.weights.n_vocab,
                });
            }
            seq_of.push(i);
            pos_of.push(c.len() + j);
            toks.push(t);
        }
    }
    let result = layers(model, batch, &seq_of, &pos_of, &toks, logits, tr);
    for e in batch.iter_mut() {
        match &result {
            Ok(_) => {
                let len = e.seq.cache.len() + e.tokens.len();
                e.seq.cache.commit(len)?;
                e.seq.tokens.extend_from_slice(e.tokens);
            }
            Err(_) => e.seq.cache.rollback(),
        }
    }
    result
}

fn layers(
    model: &Model,
    batch: &mut [BatchEntry<'_>],
    seq_of: &[usize],
    pos_of: &[usize],
    toks: &[u32],
    logits: Logits,
    tr: &mut Trace,
) -> Result<Vec<Vec<f32>>, EngineError> {
    let hp = &model.hp;
    let w = &model.weights;
    let ctx = Ctx {
        model,
        hp,
        mm: MatMul { isa: model.isa },
        spare: RefCell::new(Vec::new()),
    };
    let (m, e) = (toks.len(), hp.n_embd);
    let (hd, q_dim, kv_dim) = (hp.head_dim, hp.q_dim(), hp.kv_dim());

    // Token embeddings: dequantised rows of the embedding matrix.
    let embd = w.tok_embd.view(&model.file)?;
    let mut x = vec![0.0f32; m * e];
    for (row, &t) in x.chunks_exact_mut(e).zip(toks) {
        reference::dequantize_row(embd.wt(), embd.row(t as usize), row);
    }
    tr.put(|| "inp_embd".into(), &x);

    // RoPE tables per row.
    let rope = Rope {
        n_rot: hp.n_rot,
        freq_base: hp.rope_freq_base,
        freq_scale: hp.rope_freq_scale,
        neox: hp.arch.rope_neox(),
        freq_factors: w.rope_freqs.clone(),
    };
    let tables: Vec<Vec<(f32, f32)>> = pos_of
        .iter()
        .map(|&p| {
            let mut t = Vec::new();
            rope.table(p, &mut t);
            t
        })
        .collect();
    let shape = AttnShape {
        n_head: hp.n_head,
        n_head_kv: hp.n_head_kv,
        head_dim: hd,
        scale: 1.0 / (hd as f32).sqrt(),
        isa: model.isa,
    };

    let mut h = vec![0.0f32; m * e];
    for (l, layer) in w.layers.iter().enumerate() {
        norm_rows(&x, &layer.attn_norm, hp.rms_eps, e, &mut h);
        tr.put(|| format!("attn_norm-{l}"), &h);
        let mut hq = Quantized::new(&h, e);
        let [mut q, mut k, v] = ctx.linear_group(
            [
                (&layer.wq, layer.bq.as_deref()),
                (&layer.wk, layer.bk.as_deref()),
                (&layer.wv, layer.bv.as_deref()),
            ],
            &mut hq,
        )?;
        drop(hq);
        tr.put(|| format!("Qcur-{l}"), &q);
        tr.put(|| format!("Kcur-{l}"), &k);
        tr.put(|| format!("Vcur-{l}"), &v);
        heads(
            &mut q,
            q_dim,
            hd,
            layer.q_norm.as_deref(),
            hp.rms_eps,
            &rope,
            &tables,
        );
        heads(
            &mut k,
            kv_dim,
            hd,
            layer.k_norm.as_deref(),
            hp.rms_eps,
            &rope,
            &tables,
        );
        tr.put(|| format!("Qrope-{l}"), &q);
        tr.put(|| format!("Krope-{l}"), &k);
        for (r, &s) in seq_of.iter().enumerate() {
            let entry = batch
                .get_mut(s)
                .ok_or_else(|| EngineError::Invalid("row out of range".into()))?;
            entry.seq.cache.append(
                l,
                &k[r * kv_dim..(r + 1) * kv_dim],
                &v[r * kv_dim..(r + 1) * kv_dim],
            )?;
        }
        let caches: Vec<&KvCache> = batch.iter().map(|b| &b.seq.cache).collect();
        let mut att = ctx.buf(m * q_dim);
        attend(l, &shape, &caches, seq_of, pos_of, &q, &mut att)?;
        tr.put(|| format!("kqv_out-{l}"), &att);
        let mut aq = Quantized::new(&att, q_dim);
        let o = ctx.linear(&layer.wo, &mut aq, layer.bo.as_deref())?;
        tr.put(|| format!("attn_out-{l}"), &o);
        add(&mut x, &o);
        drop(aq);
        ctx.give([q, k, v, att, o]);
        tr.put(|| format!("ffn_inp-{l}"), &x);
        ffn(&ctx, layer, l, &mut x, &mut h, tr)?;
        tr.put(|| format!("l_out-{l}"), &x);
    }

    // Logits for the requested rows.
    let pick: Vec<usize> = match logits {
        Logits::None => return Ok(vec![Vec::new(); batch.len()]),
        Logits::All => (0..m).collect(),
        Logits::Last => (0..m)
            .filter(|&r| seq_of.get(r + 1) != seq_of.get(r))
            .collect(),
    };
    let mut fin = vec![0.0f32; pick.len() * e];
    for (dst, &r) in fin.chunks_exact_mut(e).zip(&pick) {
        rms_norm(&x[r * e..(r + 1) * e], &w.output_norm, hp.rms_eps, dst);
    }
    tr.put(|| "result_norm".into(), &fin);
    let mut fq = Quantized::new(&fin, e);
    let out = ctx.linear(&w.output, &mut fq, None)?;
    tr.put(|| "result_output".into(), &out);
    let nv = w.output.n();
    let mut per = vec![Vec::new(); batch.len()];
    for (i, &r) in pick.iter().enumerate() {
        if let Some(s) = seq_of.get(r).and_then(|&s| per.get_mut(s)) {
            s.extend_from_slice(&out[i * nv..(i + 1) * nv]);
        }
    }
    Ok(per)
}

/// The feed-forward block: `x += down(silu(gate(n)) · up(n))` with `n = rms_norm(x)`.
fn ffn(
    ctx: &Ctx,
    layer: &Layer,
    l: usize,
    x: &mut [f32],
    h: &mut [f32],
    tr: &mut Trace,
) -> Result<(), EngineError> {
    let e = ctx.hp.n_embd;
    norm_rows(x, &layer.ffn_norm, ctx.hp.rms_eps, e, h);
    tr.put(|| format!("ffn_norm-{l}"), h);
    let mut hq = Quantized::new(h, e);
    let [mut g, u] = ctx.linear_group([(&layer.gate, None), (&layer.up, None)], &mut hq)?;
    drop(hq);
    tr.put(|| format!("ffn_gate-{l}"), &g);
    tr.put(|| format!("ffn_up-{l}"), &u);
    let (isa, n_ff) = (ctx.mm.isa, ctx.hp.n_ff);
    g.par_chunks_mut(n_ff)
        .zip(u.par_chunks(n_ff))
        .for_each(|(a, b)| act::swiglu(isa, a, b));
    tr.put(|| format!("ffn_swiglu-{l}"), &g);
    let mut gq = Quantized::new(&g, ctx.hp.n_ff);
    let d = ctx.linear(&layer.down, &mut gq, None)?;
    tr.put(|| format!("ffn_out-{l}"), &d);
    add(x, &d);
    drop(gq);
    ctx.give([g, u, d]);
    Ok(())
}

fn norm_rows(x: &[f32], w: &[f32], eps: f32, e: usize, out: &mut [f32]) {
    out.par_chunks_mut(e)
        .zip(x.par_chunks(e))
        .for_each(|(o, r)| rms_norm(r, w, eps, o));
}

/// Per head: optional RMS norm (qwen3 q/k norm), then RoPE at the row's position.
fn heads(
    t: &mut [f32],
    width: usize,
    hd: usize,
    norm: Option<&[f32]>,
    eps: f32,
    rope: &Rope,
    tables: &[Vec<(f32, f32)>],
) {
    t.par_chunks_mut(width)
        .zip(tables.par_iter())
        .for_each(|(row, table)| {
            for head in row.chunks_exact_mut(hd) {
                if let Some(nw) = norm {
                    rms_norm_inplace(head, nw, eps);
                }
                rope.apply(head, table);
            }
        });
}

fn add(x: &mut [f32], y: &[f32]) {
    for (a, &b) in x.iter_mut().zip(y) {
        *a += b;
    }
}
