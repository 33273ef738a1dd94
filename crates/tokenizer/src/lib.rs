//! BPE and SentencePiece tokenizers built from GGUF metadata, token-exact with llama.cpp.
//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let file = switchyard_gguf::GgufFile::open("model.gguf")?;
//! let tok = switchyard_tokenizer::Tokenizer::from_gguf(&file)?;
//! let ids = tok.encode("Hello world", true, false)?;
//! assert_eq!(tok.decode(&ids), "Hello world");
//! # Ok(()) }
//! ```

mod byte_level;
mod config;
mod decode;
mod merge;
mod pretokenize;
mod special;
mod vocab;

pub use config::{ModelKind, SpecialIds, VocabConfig, keys};
pub use decode::{DecodeOptions, Decoder};
pub use error::TokenizerError;
pub use pretokenize::PreKind;

mod error;

use special::Fragment;
use std::collections::BTreeSet;
use switchyard_gguf::{GgufFile, Metadata};
use vocab::{Vocab, attr};

/// A tokenizer for one vocabulary. Cheap to share (`&Tokenizer` is all encoding needs).
#[derive(Debug)]
pub struct Tokenizer {
    vocab: Vocab,
    pre: Option<pretokenize::PreTokenizer>,
    /// `token_to_piece(id, special = true)` for every token.
    pieces: Vec<Box<[u8]>>,
}

impl Tokenizer {
    /// Builds the tokenizer from a GGUF file's metadata.
    pub fn from_gguf(file: &GgufFile) -> Result<Tokenizer, TokenizerError> {
        Tokenizer::from_metadata(file.metadata())
    }

    /// Builds the tokenizer from GGUF metadata.
    pub fn from_metadata(md: &Metadata) -> Result<Tokenizer, TokenizerError> {
        Tokenizer::from_config(VocabConfig::try_from(md)?)
    }

    /// Builds the tokenizer from an already typed configuration.
    pub fn from_config(cfg: VocabConfig) -> Result<Tokenizer, TokenizerError> {
        let vocab = Vocab::new(cfg)?;
        let pre = match vocab.model {
            ModelKind::Bpe => Some(pretokenize::PreTokenizer::new(vocab.pre)?),
            ModelKind::Spm => None,
        };
        let pieces = (0..vocab.n_tokens())
            .map(|i| {
                u32::try_from(i)
                    .map(|id| decode::piece_bytes(&vocab, id).into_boxed_slice())
                    .unwrap_or_default()
            })
            .collect();
        Ok(Tokenizer { vocab, pre, pieces })
    }

    /// Tokenizes `text` like llama.cpp's `llama_tokenize`.
    ///
    /// With `add_special`, BOS (and EOS) are added when the vocabulary's metadata asks for
    /// them (`tokenizer.ggml.add_bos_token` / `add_eos_token`, else llama.cpp's defaults for
    /// the model). With `parse_special`, the texts of control tokens (such as `<|im_end|>`) in
    /// `text` become those tokens; otherwise they are tokenized as plain text. User-defined
    /// tokens are always matched, as in llama.cpp.
    pub fn encode(
        &self,
        text: &str,
        add_special: bool,
        parse_special: bool,
    ) -> Result<Vec<u32>, TokenizerError> {
        let v = &self.vocab;
        let fragments = special::partition(v, text, parse_special);
        let mut out = Vec::with_capacity(text.len() / 3 + 2);
        if add_special && v.add_bos {
            out.extend(v.specials.bos);
        }
        match v.model {
            ModelKind::Spm => {
                let mut prev_special = true;
                let mut buf = String::new();
                for f in fragments {
                    match f {
                        Fragment::Token(id) => {
                            out.push(id);
                            prev_special = true;
                        }
                        Fragment::Text { start, end } => {
                            buf.clear();
                            if v.add_space_prefix && prev_special {
                                buf.push('\u{2581}');
                            }
                            for c in text.get(start..end).unwrap_or("").chars() {
                                buf.push(if c == ' ' { '\u{2581}' } else { c });
                            }
                            merge::spm(v, &buf, &mut out);
                            prev_special = false;
                        }
                    }
                }
            }
            ModelKind::Bpe => {
                let mut word = String::new();
                for f in fragments {
                    match f {
                        Fragment::Token(id) => out.push(id),
                        Fragment::Text { start, end } => {
                            let Some(pre) = &self.pre else { continue };
                            for w in pre.split(text.get(start..end).unwrap_or(""))? {
                                word.clear();
                                byte_level::encode_into(w, &mut word);
                                merge::bpe(v, &word, &mut out);
                            }
                        }
                    }
                }
            }
        }
        if add_special && v.add_eos {
            out.extend(v.specials.eos);
        }
        Ok(out)
    }

    /// The bytes token `id` stands for. Control and unknown tokens give their text when
    /// `special` is true and nothing otherwise; out-of-range ids give nothing.
    pub fn token_piece(&self, id: u32, special: bool) -> &[u8] {
        if !special && self.vocab.attr(id) & (attr::UNKNOWN | attr::CONTROL) != 0 {
            return &[];
        }
        self.pieces.get(id as usize).map_or(&[], |p| p)
    }

    /// Decodes tokens to text like llama.cpp's `llama_detokenize` without removing or
    /// rendering special tokens. Invalid UTF-8 becomes U+FFFD.
    pub fn decode(&self, tokens: &[u32]) -> String {
        self.decode_with(tokens, DecodeOptions::default())
    }

    /// Decodes tokens to text with explicit options.
    pub fn decode_with(&self, tokens: &[u32], opts: DecodeOptions) -> String {
        String::from_utf8_lossy(&decode::detokenize(self, tokens, opts)).into_owned()
    }

    /// A streaming decoder (control tokens omitted).
    pub fn decoder(&self) -> Decoder {
        Decoder::new()
    }

    /// Number of tokens in the vocabulary.
    pub fn n_vocab(&self) -> usize {
        self.vocab.n_tokens()
    }

    /// The id of the token whose text is exactly `text`.
    pub fn token_id(&self, text: &str) -> Option<u32> {
        self.vocab.id(text)
    }

    /// The stored text of a token (byte-level characters for BPE, `▁` for SentencePiece).
    pub fn token_text(&self, id: u32) -> Option<&str> {
        self.vocab.text(id)
    }

    /// The tokenizer algorithm.
    pub fn model_kind(&self) -> ModelKind {
        self.vocab.model
    }

    /// The BPE pre-tokenizer family (`Default` for SentencePiece).
    pub fn pre_kind(&self) -> PreKind {
        self.vocab.pre
    }

    /// Whether `encode(.., add_special = true, ..)` prepends BOS.
    pub fn add_bos(&self) -> bool {
        self.vocab.add_bos
    }

    /// Whether `encode(.., add_special = true, ..)` appends EOS.
    pub fn add_eos(&self) -> bool {
        self.vocab.add_eos
    }

    pub fn bos(&self) -> Option<u32> {
        self.vocab.specials.bos
    }

    pub fn eos(&self) -> Option<u32> {
        self.vocab.specials.eos
    }

    pub fn eot(&self) -> Option<u32> {
        self.vocab.specials.eot
    }

    pub fn eom(&self) -> Option<u32> {
        self.vocab.specials.eom
    }

    pub fn unk(&self) -> Option<u32> {
        self.vocab.specials.unk
    }

    pub fn pad(&self) -> Option<u32> {
        self.vocab.specials.pad
    }

    pub fn sep(&self) -> Option<u32> {
        self.vocab.specials.sep
    }

    /// FIM ids: prefix, suffix, middle.
    pub fn fim(&self) -> (Option<u32>, Option<u32>, Option<u32>) {
        let s = &self.vocab.specials;
        (s.fim_pre, s.fim_suf, s.fim_mid)
    }

    /// The end-of-generation tokens (EOS, EOT, EOM and end-of-turn tokens such as
    /// `<|im_end|>`, `<|eot_id|>`, `<|endoftext|>`, by llama.cpp's rules).
    pub fn eog_tokens(&self) -> &BTreeSet<u32> {
        &self.vocab.eog
    }

    /// Whether generation stops at `id`.
    pub fn is_eog(&self, id: u32) -> bool {
        self.vocab.eog.contains(&id)
    }

    /// Whether `id` is a control token (not rendered by default).
    pub fn is_control(&self, id: u32) -> bool {
        self.vocab.attr(id) & attr::CONTROL != 0
    }
}

#[cfg(test)]
mod tests;
