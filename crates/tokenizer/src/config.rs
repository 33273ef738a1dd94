//! The tokenizer's view of GGUF metadata, typed and checked once.

use crate::TokenizerError;
use switchyard_gguf::{Metadata, Value};

/// Metadata keys read by [`VocabConfig::try_from`].
pub mod keys {
    pub const MODEL: &str = "tokenizer.ggml.model";
    pub const PRE: &str = "tokenizer.ggml.pre";
    pub const TOKENS: &str = "tokenizer.ggml.tokens";
    pub const SCORES: &str = "tokenizer.ggml.scores";
    pub const TOKEN_TYPE: &str = "tokenizer.ggml.token_type";
    pub const MERGES: &str = "tokenizer.ggml.merges";
    pub const BOS_ID: &str = "tokenizer.ggml.bos_token_id";
    pub const EOS_ID: &str = "tokenizer.ggml.eos_token_id";
    pub const EOT_ID: &str = "tokenizer.ggml.eot_token_id";
    pub const EOM_ID: &str = "tokenizer.ggml.eom_token_id";
    pub const UNK_ID: &str = "tokenizer.ggml.unknown_token_id";
    /// Spelled this way in the GGUF specification and in llama.cpp.
    pub const SEP_ID: &str = "tokenizer.ggml.seperator_token_id";
    pub const PAD_ID: &str = "tokenizer.ggml.padding_token_id";
    pub const MASK_ID: &str = "tokenizer.ggml.mask_token_id";
    pub const FIM_PRE_ID: &str = "tokenizer.ggml.fim_pre_token_id";
    pub const FIM_SUF_ID: &str = "tokenizer.ggml.fim_suf_token_id";
    pub const FIM_MID_ID: &str = "tokenizer.ggml.fim_mid_token_id";
    pub const FIM_PAD_ID: &str = "tokenizer.ggml.fim_pad_token_id";
    pub const FIM_REP_ID: &str = "tokenizer.ggml.fim_rep_token_id";
    pub const FIM_SEP_ID: &str = "tokenizer.ggml.fim_sep_token_id";
    /// Deprecated spellings of the FIM ids.
    pub const PREFIX_ID: &str = "tokenizer.ggml.prefix_token_id";
    pub const SUFFIX_ID: &str = "tokenizer.ggml.suffix_token_id";
    pub const MIDDLE_ID: &str = "tokenizer.ggml.middle_token_id";
    pub const ADD_BOS: &str = "tokenizer.ggml.add_bos_token";
    pub const ADD_EOS: &str = "tokenizer.ggml.add_eos_token";
    pub const ADD_SEP: &str = "tokenizer.ggml.add_sep_token";
    pub const ADD_SPACE_PREFIX: &str = "tokenizer.ggml.add_space_prefix";
    pub const GENERAL_NAME: &str = "general.name";
}

/// The tokenizer algorithm, from `tokenizer.ggml.model`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelKind {
    /// `llama`: SentencePiece-style score-based merges with byte fallback.
    Spm,
    /// `gpt2`: byte-level BPE with ranked merges and a regex pre-tokenizer.
    Bpe,
}

/// Special token ids as the metadata gives them (before llama.cpp's defaults and checks).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SpecialIds {
    pub bos: Option<u32>,
    pub eos: Option<u32>,
    pub eot: Option<u32>,
    pub eom: Option<u32>,
    pub unk: Option<u32>,
    pub sep: Option<u32>,
    pub pad: Option<u32>,
    pub mask: Option<u32>,
    pub fim_pre: Option<u32>,
    pub fim_suf: Option<u32>,
    pub fim_mid: Option<u32>,
    pub fim_pad: Option<u32>,
    pub fim_rep: Option<u32>,
    pub fim_sep: Option<u32>,
}

/// Everything the tokenizer needs from a GGUF file's metadata, with types checked.
///
/// Optional fields are `None` when the key is absent; the tokenizer then applies llama.cpp's
/// defaults for the model kind.
#[derive(Debug, Clone, PartialEq)]
pub struct VocabConfig {
    pub model: ModelKind,
    /// `tokenizer.ggml.pre`, the BPE pre-tokenizer name.
    pub pre: Option<String>,
    pub tokens: Vec<String>,
    /// One score per token (SentencePiece merge priority); `None` means all zero.
    pub scores: Option<Vec<f32>>,
    /// One GGUF token type per token (1 normal, 2 unknown, 3 control, 4 user-defined,
    /// 5 unused, 6 byte); `None` means all normal.
    pub token_types: Option<Vec<i32>>,
    /// BPE merges, `"left right"`, highest priority first.
    pub merges: Vec<String>,
    pub special: SpecialIds,
    pub add_bos: Option<bool>,
    pub add_eos: Option<bool>,
    pub add_sep: Option<bool>,
    pub add_space_prefix: Option<bool>,
    /// `general.name`; llama.cpp adjusts some token attributes by model name (Phi-3).
    pub model_name: Option<String>,
}

impl VocabConfig {
    /// A minimal configuration: the given model kind and tokens, everything else absent.
    pub fn new(model: ModelKind, tokens: Vec<String>) -> VocabConfig {
        VocabConfig {
            model,
            pre: None,
            tokens,
            scores: None,
            token_types: None,
            merges: Vec::new(),
            special: SpecialIds::default(),
            add_bos: None,
            add_eos: None,
            add_sep: None,
            add_space_prefix: None,
            model_name: None,
        }
    }
}

impl TryFrom<&Metadata> for VocabConfig {
    type Error = TokenizerError;

    fn try_from(md: &Metadata) -> Result<VocabConfig, TokenizerError> {
        let model = match string(md, keys::MODEL)? {
            Some("llama") => ModelKind::Spm,
            Some("gpt2") => ModelKind::Bpe,
            Some(other) => return Err(TokenizerError::UnsupportedModel(other.to_string())),
            None => return Err(TokenizerError::MissingKey(keys::MODEL)),
        };
        let tokens =
            string_array(md, keys::TOKENS)?.ok_or(TokenizerError::MissingKey(keys::TOKENS))?;
        let n = tokens.len();
        let scores = match array(md, keys::SCORES)? {
            None => None,
            Some(items) => {
                let scores = items
                    .iter()
                    .map(|v| match v {
                        Value::F32(f) => Some(*f),
                        Value::I32(i) => Some(*i as f32),
                        _ => None,
                    })
                    .collect::<Option<Vec<f32>>>()
                    .ok_or_else(|| bad(keys::SCORES, "expected an array of f32 or i32"))?;
                check_len(keys::SCORES, scores.len(), n)?;
                Some(scores)
            }
        };
        let token_types = match array(md, keys::TOKEN_TYPE)? {
            None => None,
            Some(items) => {
                let types = items
                    .iter()
                    .map(|v| match v {
                        Value::I32(i) => Some(*i),
                        Value::U32(u) => i32::try_from(*u).ok(),
                        _ => None,
                    })
                    .collect::<Option<Vec<i32>>>()
                    .ok_or_else(|| bad(keys::TOKEN_TYPE, "expected an array of i32"))?;
                check_len(keys::TOKEN_TYPE, types.len(), n)?;
                Some(types)
            }
        };
        let merges = match (model, string_array(md, keys::MERGES)?) {
            (_, Some(m)) => m,
            (ModelKind::Bpe, None) => return Err(TokenizerError::MissingKey(keys::MERGES)),
            (ModelKind::Spm, None) => Vec::new(),
        };
        // Later keys override earlier ones, as llama.cpp reads the deprecated FIM keys last.
        let special = SpecialIds {
            bos: token_id(md, keys::BOS_ID)?,
            eos: token_id(md, keys::EOS_ID)?,
            eot: token_id(md, keys::EOT_ID)?,
            eom: token_id(md, keys::EOM_ID)?,
            unk: token_id(md, keys::UNK_ID)?,
            sep: token_id(md, keys::SEP_ID)?,
            pad: token_id(md, keys::PAD_ID)?,
            mask: token_id(md, keys::MASK_ID)?,
            fim_pre: token_id(md, keys::PREFIX_ID)?.or(token_id(md, keys::FIM_PRE_ID)?),
            fim_suf: token_id(md, keys::SUFFIX_ID)?.or(token_id(md, keys::FIM_SUF_ID)?),
            fim_mid: token_id(md, keys::MIDDLE_ID)?.or(token_id(md, keys::FIM_MID_ID)?),
            fim_pad: token_id(md, keys::FIM_PAD_ID)?,
            fim_rep: token_id(md, keys::FIM_REP_ID)?,
            fim_sep: token_id(md, keys::FIM_SEP_ID)?,
        };
        Ok(VocabConfig {
            model,
            pre: string(md, keys::PRE)?.map(str::to_string),
            tokens,
            scores,
            token_types,
            merges,
            special,
            add_bos: boolean(md, keys::ADD_BOS)?,
            add_eos: boolean(md, keys::ADD_EOS)?,
            add_sep: boolean(md, keys::ADD_SEP)?,
            add_space_prefix: boolean(md, keys::ADD_SPACE_PREFIX)?,
            model_name: string(md, keys::GENERAL_NAME)?.map(str::to_string),
        })
    }
}

fn bad(key: &'static str, reason: impl Into<String>) -> TokenizerError {
    TokenizerError::BadValue {
        key,
        reason: reason.into(),
    }
}

fn check_len(key: &'static str, got: usize, n_tokens: usize) -> Result<(), TokenizerError> {
    if got < n_tokens {
        return Err(bad(key, format!("has {got} entries for {n_tokens} tokens")));
    }
    Ok(())
}

fn string<'a>(md: &'a Metadata, key: &'static str) -> Result<Option<&'a str>, TokenizerError> {
    match md.get(key) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(bad(key, "expected a string")),
    }
}

fn boolean(md: &Metadata, key: &'static str) -> Result<Option<bool>, TokenizerError> {
    match md.get(key) {
        None => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err(bad(key, "expected a bool")),
    }
}

fn array<'a>(md: &'a Metadata, key: &'static str) -> Result<Option<&'a [Value]>, TokenizerError> {
    match md.get(key) {
        None => Ok(None),
        Some(Value::Array(items)) => Ok(Some(items)),
        Some(_) => Err(bad(key, "expected an array")),
    }
}

fn string_array(md: &Metadata, key: &'static str) -> Result<Option<Vec<String>>, TokenizerError> {
    let Some(items) = array(md, key)? else {
        return Ok(None);
    };
    items
        .iter()
        .map(|v| match v {
            Value::String(s) => Ok(s.clone()),
            _ => Err(bad(key, "expected an array of strings")),
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

/// A token id: any integer type. Negative values (some converters write -1) mean "not set".
fn token_id(md: &Metadata, key: &'static str) -> Result<Option<u32>, TokenizerError> {
    let v: i128 = match md.get(key) {
        None => return Ok(None),
        Some(Value::U8(v)) => (*v).into(),
        Some(Value::I8(v)) => (*v).into(),
        Some(Value::U16(v)) => (*v).into(),
        Some(Value::I16(v)) => (*v).into(),
        Some(Value::U32(v)) => (*v).into(),
        Some(Value::I32(v)) => (*v).into(),
        Some(Value::U64(v)) => (*v).into(),
        Some(Value::I64(v)) => (*v).into(),
        Some(_) => return Err(bad(key, "expected an integer token id")),
    };
    if v < 0 {
        return Ok(None);
    }
    u32::try_from(v)
        .map(Some)
        .map_err(|_| bad(key, format!("token id {v} does not fit 32 bits")))
}
