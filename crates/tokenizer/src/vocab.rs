//! The vocabulary: token texts and attributes, special ids, lookups and merge ranks, set up
//! from a [`VocabConfig`] the way llama.cpp's `llama_vocab::load` does.

use crate::TokenizerError;
use crate::config::{ModelKind, VocabConfig, keys};
use crate::pretokenize::{self, PreKind};
use std::collections::{BTreeSet, HashMap};

/// Token attribute bits (llama.cpp's `llama_token_attr`).
pub mod attr {
    pub const UNDEFINED: u32 = 0;
    pub const UNKNOWN: u32 = 1 << 0;
    pub const UNUSED: u32 = 1 << 1;
    pub const NORMAL: u32 = 1 << 2;
    pub const CONTROL: u32 = 1 << 3;
    pub const USER_DEFINED: u32 = 1 << 4;
    pub const BYTE: u32 = 1 << 5;
    pub const LSTRIP: u32 = 1 << 7;
    pub const RSTRIP: u32 = 1 << 8;
}

/// Attribute bits for a GGUF token type.
fn attr_for_type(t: i32) -> u32 {
    match t {
        1 => attr::NORMAL,
        2 => attr::UNKNOWN,
        3 => attr::CONTROL,
        4 => attr::USER_DEFINED,
        5 => attr::UNUSED,
        6 => attr::BYTE,
        _ => attr::UNDEFINED,
    }
}

/// Resolved special token ids.
#[derive(Debug, Clone, Default)]
pub(crate) struct Specials {
    pub bos: Option<u32>,
    pub eos: Option<u32>,
    pub eot: Option<u32>,
    pub eom: Option<u32>,
    pub unk: Option<u32>,
    pub sep: Option<u32>,
    pub pad: Option<u32>,
    pub fim_pre: Option<u32>,
    pub fim_suf: Option<u32>,
    pub fim_mid: Option<u32>,
    pub fim_pad: Option<u32>,
    pub fim_rep: Option<u32>,
    pub fim_sep: Option<u32>,
}

/// BPE merge ranks, keyed by interned halves so lookups need no allocation.
#[derive(Debug, Default)]
pub(crate) struct MergeRanks {
    halves: HashMap<String, u32>,
    ranks: HashMap<(u32, u32), u32>,
}

impl MergeRanks {
    fn new(merges: &[String]) -> MergeRanks {
        let mut m = MergeRanks::default();
        for (rank, merge) in merges.iter().enumerate() {
            let Ok(rank) = u32::try_from(rank) else {
                break;
            };
            // llama.cpp splits at the first space after the first byte; no space → ("", "").
            let space = merge.bytes().skip(1).position(|b| b == b' ').map(|p| p + 1);
            let (left, right) = match space {
                Some(pos) => (
                    merge.get(..pos).unwrap_or(""),
                    merge.get(pos + 1..).unwrap_or(""),
                ),
                None => ("", ""),
            };
            let l = m.intern(left);
            let r = m.intern(right);
            // The first occurrence of a pair keeps its rank.
            m.ranks.entry((l, r)).or_insert(rank);
        }
        m
    }

    fn intern(&mut self, s: &str) -> u32 {
        if let Some(&id) = self.halves.get(s) {
            return id;
        }
        let id = u32::try_from(self.halves.len()).unwrap_or(u32::MAX);
        self.halves.insert(s.to_string(), id);
        id
    }

    /// The rank of merging `left` and `right`, lower merges first.
    pub(crate) fn rank(&self, left: &str, right: &str) -> Option<u32> {
        let l = *self.halves.get(left)?;
        let r = *self.halves.get(right)?;
        self.ranks.get(&(l, r)).copied()
    }
}

/// The vocabulary and its llama.cpp-derived settings.
#[derive(Debug)]
pub(crate) struct Vocab {
    pub model: ModelKind,
    pub pre: PreKind,
    pub texts: Vec<String>,
    pub scores: Vec<f32>,
    pub attrs: Vec<u32>,
    pub ids: HashMap<String, u32>,
    pub merges: MergeRanks,
    pub specials: Specials,
    pub eog: BTreeSet<u32>,
    /// Control, user-defined and unknown tokens, longest text first.
    pub special_cache: Vec<u32>,
    pub add_bos: bool,
    pub add_eos: bool,
    pub add_space_prefix: bool,
    pub ignore_merges: bool,
    pub clean_spaces: bool,
}

impl Vocab {
    pub(crate) fn new(cfg: VocabConfig) -> Result<Vocab, TokenizerError> {
        let n = cfg.tokens.len();
        if n == 0 || u32::try_from(n).is_err() {
            return Err(TokenizerError::VocabSize(n));
        }

        // `VocabConfig` can be built by hand, so the per-token arrays are checked here too.
        for (key, len) in [
            (keys::SCORES, cfg.scores.as_ref().map(Vec::len)),
            (keys::TOKEN_TYPE, cfg.token_types.as_ref().map(Vec::len)),
        ] {
            if let Some(len) = len
                && len < n
            {
                return Err(TokenizerError::BadValue {
                    key,
                    reason: format!("has {len} entries for {n} tokens"),
                });
            }
        }

        // Model-kind defaults (llama.cpp `load`).
        let mut d = Specials::default();
        let (mut add_bos, mut add_eos, mut add_space_prefix, clean_spaces);
        let mut ignore_merges = false;
        let mut pre = PreKind::Default;
        match cfg.model {
            ModelKind::Spm => {
                d.bos = Some(1);
                d.eos = Some(2);
                d.unk = Some(0);
                add_bos = true;
                add_eos = false;
                add_space_prefix = true;
                clean_spaces = false;
            }
            ModelKind::Bpe => {
                d.bos = Some(11);
                d.eos = Some(11);
                let setup = pretokenize::setup_for(cfg.pre.as_deref())?;
                pre = setup.kind;
                ignore_merges = setup.ignore_merges;
                add_bos = setup.add_bos;
                add_eos = false;
                add_space_prefix = false;
                clean_spaces = setup.clean_spaces;
                if setup.no_default_bos {
                    d.bos = None;
                }
            }
        }
        if let Some(v) = cfg.add_space_prefix {
            add_space_prefix = v;
        }

        // Tokens, scores, attributes.
        let mut texts = Vec::with_capacity(n);
        let mut ids: HashMap<String, u32> = HashMap::with_capacity(n);
        for (i, text) in cfg.tokens.into_iter().enumerate() {
            let id = u32::try_from(i).map_err(|_| TokenizerError::VocabSize(n))?;
            let text = if text.is_empty() {
                format!("[EMPTY_{i}]")
            } else {
                text
            };
            if let Some(&first) = ids.get(&text) {
                return Err(TokenizerError::DuplicateToken {
                    text,
                    first,
                    second: id,
                });
            }
            ids.insert(text.clone(), id);
            texts.push(text);
        }
        let scores = match cfg.scores {
            Some(mut s) => {
                s.truncate(n);
                s
            }
            None => vec![0.0; n],
        };
        let mut attrs: Vec<u32> = match &cfg.token_types {
            Some(t) => t.iter().take(n).map(|&t| attr_for_type(t)).collect(),
            None => vec![attr::NORMAL; n],
        };

        // Special ids: defaults out of range are dropped; metadata ids out of range are ignored.
        let n32 = n as u64;
        let in_range = |id: Option<u32>| id.filter(|&i| u64::from(i) < n32);
        let pick = |default: Option<u32>, meta: Option<u32>| in_range(meta).or(in_range(default));
        let m = &cfg.special;
        let mut sp = Specials {
            bos: pick(d.bos, m.bos),
            eos: pick(d.eos, m.eos),
            eot: pick(None, m.eot),
            eom: pick(None, m.eom),
            unk: pick(d.unk, m.unk),
            sep: pick(None, m.sep),
            pad: pick(None, m.pad),
            fim_pre: pick(None, m.fim_pre),
            fim_suf: pick(None, m.fim_suf),
            fim_mid: pick(None, m.fim_mid),
            fim_pad: pick(None, m.fim_pad),
            fim_rep: pick(None, m.fim_rep),
            fim_sep: pick(None, m.fim_sep),
        };

        if let Some(v) = cfg.add_bos {
            add_bos = v;
        }
        if let Some(v) = cfg.add_eos {
            add_eos = v;
        }
        if add_bos && sp.bos.is_none() {
            return Err(TokenizerError::MissingSpecialToken {
                flag: keys::ADD_BOS,
                id_key: keys::BOS_ID,
            });
        }
        if add_eos && sp.eos.is_none() {
            return Err(TokenizerError::MissingSpecialToken {
                flag: keys::ADD_EOS,
                id_key: keys::EOS_ID,
            });
        }

        detect_specials_by_text(&ids, &mut attrs, &mut sp);
        mark_unused(&texts, &mut attrs);
        let eog = end_of_generation_set(&texts, &ids, &mut attrs, &sp);

        // Special-token cache for parsing special text: longest first (ties by id).
        let mut special_cache: Vec<u32> = (0..n)
            .filter(|&i| attrs[i] & (attr::CONTROL | attr::USER_DEFINED | attr::UNKNOWN) != 0)
            .filter_map(|i| u32::try_from(i).ok())
            .collect();
        special_cache.sort_by(|&a, &b| {
            let (la, lb) = (texts[a as usize].len(), texts[b as usize].len());
            lb.cmp(&la).then(a.cmp(&b))
        });

        // Phi-3: special tokens strip the whitespace that follows them.
        let name = cfg.model_name.as_deref().unwrap_or("").to_lowercase();
        if name.contains("phi-3") || name.contains("phi3") {
            for &id in &special_cache {
                attrs[id as usize] |= attr::RSTRIP;
            }
            if let Some(&id) = ids.get("</s>") {
                attrs[id as usize] |= attr::RSTRIP;
            }
            for t in ["<unk>", "<s>", "<|endoftext|>"] {
                if let Some(&id) = ids.get(t) {
                    attrs[id as usize] &= !attr::RSTRIP;
                }
            }
        }

        let merges = MergeRanks::new(&cfg.merges);
        Ok(Vocab {
            model: cfg.model,
            pre,
            texts,
            scores,
            attrs,
            ids,
            merges,
            specials: sp,
            eog,
            special_cache,
            add_bos,
            add_eos,
            add_space_prefix,
            ignore_merges,
            clean_spaces,
        })
    }

    pub(crate) fn n_tokens(&self) -> usize {
        self.texts.len()
    }

    pub(crate) fn id(&self, text: &str) -> Option<u32> {
        self.ids.get(text).copied()
    }

    pub(crate) fn attr(&self, id: u32) -> u32 {
        self.attrs
            .get(id as usize)
            .copied()
            .unwrap_or(attr::UNDEFINED)
    }

    pub(crate) fn text(&self, id: u32) -> Option<&str> {
        self.texts.get(id as usize).map(String::as_str)
    }

    pub(crate) fn score(&self, id: u32) -> f32 {
        self.scores.get(id as usize).copied().unwrap_or(0.0)
    }

    /// SentencePiece byte fallback: `<0xXX>`, else the byte itself as a token.
    pub(crate) fn spm_byte_token(&self, b: u8) -> Option<u32> {
        self.id(&format!("<0x{b:02X}>"))
            .or_else(|| std::str::from_utf8(&[b]).ok().and_then(|s| self.id(s)))
    }
}

/// Marks `attrs[id]` as control, as llama.cpp does for control-looking tokens.
fn force_control(attrs: &mut [u32], id: u32) {
    if let Some(a) = attrs.get_mut(id as usize) {
        *a |= attr::CONTROL;
    }
}

/// llama.cpp finds EOT, EOM and FIM tokens by their text when the metadata does not name
/// them, and makes them control tokens. We scan in id order (llama.cpp's order is that of a
/// hash map), so with several candidates the lowest id wins.
fn detect_specials_by_text(ids: &HashMap<String, u32>, attrs: &mut [u32], sp: &mut Specials) {
    const EOT: &[&str] = &[
        "<|eot_id|>",
        "<|im_end|>",
        "<|end|>",
        "<end_of_turn>",
        "<|endoftext|>",
        "<|end_of_text|>",
        "<EOT>",
        "_<EOT>",
        "[EOT]",
        "<｜end▁of▁sentence｜>",
        "<end_of_utterance>",
    ];
    const EOM: &[&str] = &["<|eom_id|>"];
    const FIM_PRE: &[&str] = &[
        "<|fim_prefix|>",
        "<fim-prefix>",
        "<fim_prefix>",
        "<｜fim▁begin｜>",
        "<PRE>",
        "▁<PRE>",
        "<|code_prefix|>",
        "<|prefix|>",
    ];
    const FIM_SUF: &[&str] = &[
        "<|fim_suffix|>",
        "<fim-suffix>",
        "<fim_suffix>",
        "<｜fim▁hole｜>",
        "<SUF>",
        "▁<SUF>",
        "<|code_suffix|>",
        "<|suffix|>",
    ];
    const FIM_MID: &[&str] = &[
        "<|fim_middle|>",
        "<fim-middle>",
        "<fim_middle>",
        "<｜fim▁end｜>",
        "<MID>",
        "▁<MID>",
        "<|code_middle|>",
        "<|middle|>",
    ];
    const FIM_PAD: &[&str] = &["<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>", "[PAD]"];
    const FIM_REP: &[&str] = &[
        "<|fim_repo|>",
        "<|repo_name|>",
        "<fim-repo>",
        "<REPO>",
        "<reponame>",
    ];
    const FIM_SEP: &[&str] = &["<|file_sep|>"];

    let slots: [(&mut Option<u32>, &[&str]); 8] = [
        (&mut sp.eot, EOT),
        (&mut sp.eom, EOM),
        (&mut sp.fim_pre, FIM_PRE),
        (&mut sp.fim_suf, FIM_SUF),
        (&mut sp.fim_mid, FIM_MID),
        (&mut sp.fim_pad, FIM_PAD),
        (&mut sp.fim_rep, FIM_REP),
        (&mut sp.fim_sep, FIM_SEP),
    ];
    for (slot, names) in slots {
        if slot.is_some() {
            continue;
        }
        let found = names.iter().filter_map(|t| ids.get(*t).copied()).min();
        if let Some(id) = found {
            *slot = Some(id);
            force_control(attrs, id);
        }
    }
}

/// Control tokens whose text contains "unused" are also marked unused.
fn mark_unused(texts: &[String], attrs: &mut [u32]) {
    for (text, a) in texts.iter().zip(attrs.iter_mut()) {
        if *a & attr::CONTROL != 0 && text.contains("unused") {
            *a |= attr::UNUSED;
        }
    }
}

/// The end-of-generation set, by llama.cpp's rules: FIM pad/repo/sep, tokens with
/// well-known end-of-turn texts, and EOS/EOT/EOM.
fn end_of_generation_set(
    texts: &[String],
    ids: &HashMap<String, u32>,
    attrs: &mut [u32],
    sp: &Specials,
) -> BTreeSet<u32> {
    const EOG: &[&str] = &[
        "<|eot_id|>",
        "<|im_end|>",
        "<|end|>",
        "<|return|>",
        "<|call|>",
        "<|flush|>",
        "<|calls|>",
        "<end_of_turn>",
        "<|endoftext|>",
        "</s>",
        "<|eom_id|>",
        "<EOT>",
        "_<EOT>",
        "[EOT]",
        "[EOS]",
        "<|end_of_text|>",
        "<end_of_utterance>",
        "<eos>",
        "<turn|>",
        "<|tool_response>",
        "<｜end▁of▁sentence｜>",
        "[e~[",
    ];
    let mut eog = BTreeSet::new();
    eog.extend(sp.fim_pad);
    eog.extend(sp.fim_rep);
    eog.extend(sp.fim_sep);
    for t in EOG {
        if let Some(&id) = ids.get(*t) {
            eog.insert(id);
            force_control(attrs, id);
        }
    }
    // gpt-oss: these are rendered like user-defined tokens.
    for t in ["<|channel|>", "<|message|>", "<|start|>", "<|constrain|>"] {
        if let Some(&id) = ids.get(t)
            && let Some(a) = attrs.get_mut(id as usize)
        {
            *a = attr::USER_DEFINED;
        }
    }
    eog.extend(sp.eos);
    eog.extend(sp.eot);
    eog.extend(sp.eom);

    let text_of = |id: u32| texts.get(id as usize).map(String::as_str);
    let find =
        |eog: &BTreeSet<u32>, t: &str| eog.iter().copied().find(|&id| text_of(id) == Some(t));
    // o200k_harmony / solar-open: "<|end|>" ends a message, not the generation.
    if let Some(end_id) = find(&eog, "<|end|>") {
        let has = |t: &str| find(&eog, t).is_some();
        let call = has("<|call|>") || has("<|calls|>");
        if call && (has("<|return|>") || has("<|flush|>")) {
            eog.remove(&end_id);
            if let Some(a) = attrs.get_mut(end_id as usize) {
                *a = attr::USER_DEFINED;
            }
        }
    }
    // Gemma 4 / PaddleOCR: with "<|tool_response>" present, "</s>" is not an end.
    if find(&eog, "<|tool_response>").is_some()
        && let Some(s_id) = find(&eog, "</s>")
    {
        eog.remove(&s_id);
        if let Some(a) = attrs.get_mut(s_id as usize) {
            *a = attr::NORMAL;
        }
    }
    eog
}
