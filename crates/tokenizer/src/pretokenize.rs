//! BPE pre-tokenizers: the regex lists llama.cpp applies before merging, chosen by
//! `tokenizer.ggml.pre`.
//!
//! llama.cpp applies the regexes of a list one after another: each one splits every current
//! piece into its matches and the gaps between them. Before matching, non-ASCII whitespace is
//! replaced by U+000B (llama.cpp does this because `std::regex`'s `\s` is ASCII-only), so an
//! explicit character such as U+3000 in a class never matches a space. Unicode classes
//! (`\p{L}`, `\p{N}`, …) are the Unicode general categories, as in llama.cpp's tables.

use crate::TokenizerError;
use fancy_regex::Regex;

// The patterns are the pre-tokenizer regexes of the Hugging Face tokenizers, in the
// case-sensitive form llama.cpp uses (`'[sS]` for `(?i:'s)`).

const CONTRACTIONS: &str = r"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])";

const GPT2: &str = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)";

const LLAMA3_TAIL: &str =
    r"|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

const QWEN2_TAIL: &str =
    r"|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

const QWEN35_TAIL: &str = r"|[^\r\n\p{L}\p{N}]?[\p{L}\p{M}]+|\p{N}| ?[^\s\p{L}\p{M}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

const SEED_CODER_TAIL: &str =
    r"|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1}| ?[^\s\p{L}\p{N}\r\n]+|\s*[\r\n]+|\s+(?!\S)|\s+";

// The cased letters (Unicode `LC`). Code points whose NFC form differs (U+1F7D, U+1FBE,
// U+1FD3, U+1FDB, U+2126, U+212A) are escaped so that editors cannot normalise them away.
const DEEPSEEK_LLM_LETTERS: &str = r"\s?[A-Za-zµÀ-ÖØ-öø-ƺƼ-ƿǄ-ʓʕ-ʯͰ-ͳͶͷͻ-ͽͿΆΈ-ΊΌΎ-ΡΣ-ϵϷ-ҁҊ-ԯԱ-ՖႠ-ჅᎠ-Ᏽᏸ-ᏽᲐ-ᲺᲽ-Ჿᴀ-ᴫᵫ-ᵷᵹ-ᶚḀ-ἕἘ-Ἕἠ-ὅὈ-Ὅὐ-ὗὙὛὝ\x{1F5F}-\x{1F7D}ᾀ-ᾴᾶ-ᾼ\x{1FBE}ῂ-ῄῆ-ῌ\x{1FD0}-\x{1FD3}\x{1FD6}-\x{1FDB}ῠ-Ῥῲ-ῴῶ-ῼℂℇℊ-ℓℕℙ-ℝℤ\x{2126}ℨ\x{212A}-\x{212D}ℯ-ℴℹℼ-ℿⅅ-ⅉⅎↃↄⰀ-ⱻⱾ-ⳤⳫ-ⳮⳲⳳꙀ-ꙭꚀ-ꚛꜢ-ꝯꝱ-ꞇꞋ-ꞎꭰ-ꮿﬀ-ﬆﬓ-ﬗＡ-Ｚａ-ｚ𐐀-𐑏𐒰-𐓓𐓘-𐓻𐲀-𐲲𐳀-𐳲𑢠-𑣟𞤀-𞥃]+";

const CJK_HANGUL: &str = r"[一-龥ࠀ-一가-퟿]+";

// llama.cpp's `\p{S}` leaves out `~` (its ASCII symbol list lacks it), so ours does too.
const DEEPSEEK_V3_MAIN: &str = r##"[!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+|[^\r\n\p{L}\p{P}[\p{S}&&[^~]]]?[\p{L}\p{M}]+| ?[\p{P}[\p{S}&&[^~]]]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"##;

const BLOOM: &str = r" ?[^(\s|.,!?…。，、।۔،)]+";

const TEKKEN: &str = r"[^\r\n\p{L}\p{N}]?((?=[\p{L}])([^a-z]))*((?=[\p{L}])([^A-Z]))+|[^\r\n\p{L}\p{N}]?((?=[\p{L}])([^a-z]))+((?=[\p{L}])([^A-Z]))*|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+";

const GPT4O: &str = r"[^\r\n\p{L}\p{N}]?((?=[\p{L}])([^a-z]))*((?=[\p{L}])([^A-Z]))+(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])?|[^\r\n\p{L}\p{N}]?((?=[\p{L}])([^a-z]))+((?=[\p{L}])([^A-Z]))*(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+";

const BAILINGMOE: &str = r"'(?:[sSdDmMtT]|[lL][lL]|[vV][eE]|[rR][eE])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]|\s+(?!\S)|\s+";

/// The regex family of a pre-tokenizer (several names share one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PreKind {
    /// llama.cpp's fallback for `default` and for files without `tokenizer.ggml.pre`.
    Default,
    Llama3,
    Qwen2,
    Qwen35,
    Gpt2,
    Starcoder,
    Falcon,
    DeepseekLlm,
    DeepseekCoder,
    DeepseekV3,
    Bloom,
    Viking,
    Tekken,
    Gpt4o,
    SeedCoder,
    BailingMoe,
}

/// How a `tokenizer.ggml.pre` name configures the BPE tokenizer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PreSetup {
    pub kind: PreKind,
    /// A pre-tokenized word that is itself a token is emitted whole, without merging.
    pub ignore_merges: bool,
    /// Overrides the BPE default `add_bos = false` (before metadata overrides it again).
    pub add_bos: bool,
    /// Whether detokenisation applies llama.cpp's `clean_spaces` passes.
    pub clean_spaces: bool,
    /// The pre-tokenizer removes the default BOS id (ChatGLM).
    pub no_default_bos: bool,
}

/// The pre-tokenizer setup for a `tokenizer.ggml.pre` value, as llama.cpp maps the names.
pub(crate) fn setup_for(name: Option<&str>) -> Result<PreSetup, TokenizerError> {
    use PreKind::*;
    let mut s = PreSetup {
        kind: Default,
        ignore_merges: false,
        add_bos: false,
        clean_spaces: true,
        no_default_bos: false,
    };
    let Some(name) = name else {
        return Ok(s);
    };
    match name {
        "default" => {}
        "llama3" | "llama-v3" | "llama-bpe" | "falcon3" | "falcon-h1" | "pixtral" | "midm-2.0"
        | "lfm2" | "jina-v5-nano" => {
            s.kind = Llama3;
            s.ignore_merges = true;
            s.add_bos = true;
        }
        "dbrx" | "smaug-bpe" => s.kind = Llama3,
        "glm4" | "chatglm-bpe" => {
            s.kind = Llama3;
            s.no_default_bos = true;
        }
        "deepseek-llm" => {
            s.kind = DeepseekLlm;
            s.clean_spaces = false;
        }
        "deepseek-coder" => {
            s.kind = DeepseekCoder;
            s.clean_spaces = false;
        }
        "deepseek-v3" | "hunyuan-dense" | "joyai-llm" => {
            s.kind = DeepseekV3;
            s.clean_spaces = false;
        }
        "falcon" => s.kind = Falcon,
        "starcoder" | "refact" | "codeshell" | "exaone" | "minerva-7b" | "mellum2" => {
            s.kind = Starcoder
        }
        "command-r" | "smollm" => {
            s.kind = Starcoder;
            s.clean_spaces = false;
        }
        "gpt-2" | "phi-2" | "jina-es" | "jina-de" | "gigachat" | "jina-v2-es" | "jina-v2-de"
        | "a.x-4.0" | "mellum" | "modern-bert" | "mpt" | "olmo" | "jais" | "exaone4"
        | "jina-v1-en" | "jina-v2-code" | "roberta-bpe" => s.kind = Gpt2,
        "trillion" | "granite-docling" => {
            s.kind = Gpt2;
            s.clean_spaces = false;
        }
        "qwen2" | "deepseek-r1-qwen" | "kormo" | "f2llmv2" | "hunyuan" | "solar-open" => {
            s.kind = Qwen2;
            s.clean_spaces = false;
        }
        "stablelm2" | "megrez" => s.kind = Qwen2,
        "qwen35" => {
            s.kind = Qwen35;
            s.clean_spaces = false;
        }
        "poro-chat" => {
            s.kind = Bloom;
            s.clean_spaces = false;
        }
        "bloom" | "gpt3-finnish" => s.kind = Bloom,
        "viking" => {
            s.kind = Viking;
            s.clean_spaces = false;
        }
        "tekken" => {
            s.kind = Tekken;
            s.clean_spaces = false;
            s.ignore_merges = true;
            s.add_bos = true;
        }
        "gpt-4o" | "llama4" | "kanana2" | "minimax-m2" => {
            s.kind = Gpt4o;
            s.clean_spaces = false;
        }
        "seed-coder" => {
            s.kind = SeedCoder;
            s.clean_spaces = false;
        }
        "grok-2" => {
            s.kind = Qwen2;
            s.clean_spaces = false;
        }
        "bailingmoe" | "bailingmoe2" | "llada-moe" => {
            s.kind = BailingMoe;
            s.clean_spaces = false;
        }
        other => return Err(TokenizerError::UnsupportedPreTokenizer(other.to_string())),
    }
    Ok(s)
}

/// The regex list of a pre-tokenizer family, in application order.
fn patterns(kind: PreKind) -> Vec<String> {
    use PreKind::*;
    let owned = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    match kind {
        Default => owned(&[r"[\p{P}\$\+<=>\^~\|]+", GPT2, r"\p{N}+", "[0-9][0-9][0-9]"]),
        Llama3 => vec![format!("{CONTRACTIONS}{LLAMA3_TAIL}")],
        Qwen2 => vec![format!("{CONTRACTIONS}{QWEN2_TAIL}")],
        Qwen35 => vec![format!("{CONTRACTIONS}{QWEN35_TAIL}")],
        SeedCoder => vec![format!("{CONTRACTIONS}{SEED_CODER_TAIL}")],
        Gpt2 => owned(&[GPT2]),
        Starcoder => owned(&[r"\p{N}", GPT2]),
        Falcon => owned(&[r"[\p{P}\$\+<=>\^~\|`]+", GPT2, "[0-9][0-9][0-9]"]),
        DeepseekLlm => owned(&[
            r"[\r\n]",
            DEEPSEEK_LLM_LETTERS,
            r"\s?[!-/:-~！-／：-～‘-‟　-。]+",
            r"\s+$",
            CJK_HANGUL,
            r"\p{N}+",
        ]),
        DeepseekCoder => owned(&[r"[\r\n]", r"\s?\p{L}+", r"\s?\p{P}+", CJK_HANGUL, r"\p{N}"]),
        DeepseekV3 => owned(&[r"\p{N}{1,3}", r"[一-龥぀-ゟ゠-ヿ]+", DEEPSEEK_V3_MAIN]),
        Bloom => owned(&[BLOOM]),
        Viking => owned(&[BLOOM, r"\p{N}"]),
        Tekken => owned(&[TEKKEN]),
        Gpt4o => owned(&[GPT4O]),
        BailingMoe => owned(&[BAILINGMOE]),
    }
}

/// A compiled pre-tokenizer.
#[derive(Debug)]
pub(crate) struct PreTokenizer {
    regexes: Vec<Regex>,
}

impl PreTokenizer {
    pub(crate) fn new(kind: PreKind) -> Result<PreTokenizer, TokenizerError> {
        let regexes = patterns(kind)
            .into_iter()
            .map(|p| {
                Regex::new(&p).map_err(|e| TokenizerError::RegexCompile {
                    pattern: p.clone(),
                    message: e.to_string(),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(PreTokenizer { regexes })
    }

    /// Splits `text` into pre-tokenized words (non-empty, in order, covering all of `text`).
    pub(crate) fn split<'t>(&self, text: &'t str) -> Result<Vec<&'t str>, TokenizerError> {
        if text.is_empty() {
            return Ok(Vec::new());
        }
        // The text the regexes see, and for each of its byte offsets the offset in `text`.
        let (hay, to_orig) = whitespace_folded(text);
        let mut pieces: Vec<(usize, usize)> = vec![(0, hay.len())];
        for re in &self.regexes {
            let mut next = Vec::with_capacity(pieces.len() * 2);
            for &(start, end) in &pieces {
                let Some(sub) = hay.get(start..end) else {
                    continue;
                };
                let mut last = 0;
                for m in re.find_iter(sub) {
                    let m = m.map_err(|e| TokenizerError::RegexRun(e.to_string()))?;
                    if m.start() > last {
                        next.push((start + last, start + m.start()));
                    }
                    if m.end() > m.start() {
                        next.push((start + m.start(), start + m.end()));
                    }
                    last = m.end();
                }
                if last < sub.len() {
                    next.push((start + last, end));
                }
            }
            pieces = next;
        }
        let map = |i: usize| match &to_orig {
            None => Some(i),
            Some(m) => m.get(i).copied(),
        };
        Ok(pieces
            .into_iter()
            .filter_map(|(s, e)| text.get(map(s)?..map(e)?))
            .collect())
    }
}

/// `text` with non-ASCII whitespace replaced by U+000B. When something was replaced, also a
/// table from each byte offset of the new text (at character boundaries) to the old one.
fn whitespace_folded(text: &str) -> (std::borrow::Cow<'_, str>, Option<Vec<usize>>) {
    let needs = text.chars().any(|c| !c.is_ascii() && c.is_whitespace());
    if !needs {
        return (std::borrow::Cow::Borrowed(text), None);
    }
    let mut out = String::with_capacity(text.len());
    let mut map = Vec::with_capacity(text.len() + 1);
    for (i, c) in text.char_indices() {
        let c = if !c.is_ascii() && c.is_whitespace() {
            '\u{0B}'
        } else {
            c
        };
        for _ in 0..c.len_utf8() {
            map.push(i);
        }
        out.push(c);
    }
    map.push(text.len());
    (std::borrow::Cow::Owned(out), Some(map))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [PreKind; 16] = [
        PreKind::Default,
        PreKind::Llama3,
        PreKind::Qwen2,
        PreKind::Qwen35,
        PreKind::Gpt2,
        PreKind::Starcoder,
        PreKind::Falcon,
        PreKind::DeepseekLlm,
        PreKind::DeepseekCoder,
        PreKind::DeepseekV3,
        PreKind::Bloom,
        PreKind::Viking,
        PreKind::Tekken,
        PreKind::Gpt4o,
        PreKind::SeedCoder,
        PreKind::BailingMoe,
    ];

    fn split(kind: PreKind, text: &str) -> Vec<String> {
        let p = PreTokenizer::new(kind).unwrap();
        let words = p.split(text).unwrap();
        assert_eq!(words.concat(), text, "pieces must cover the text");
        words.into_iter().map(str::to_string).collect()
    }

    #[test]
    fn every_pattern_compiles_and_covers_the_text() {
        let text = "Hello, y'all! 3333 \u{3000}日本語\n\n  x\t😀 ÄÖü 'Re";
        for kind in ALL {
            let words = split(kind, text);
            assert!(words.iter().all(|w| !w.is_empty()), "{kind:?}: {words:?}");
        }
    }

    #[test]
    fn llama3_splits() {
        assert_eq!(
            split(PreKind::Llama3, "Hello world's 12345  \n\nok"),
            ["Hello", " world", "'s", " ", "123", "45", "  \n\n", "ok"]
        );
        assert_eq!(split(PreKind::Llama3, "'RE"), ["'RE"]);
    }

    #[test]
    fn qwen2_digits_are_single() {
        assert_eq!(split(PreKind::Qwen2, "a 123"), ["a", " ", "1", "2", "3"]);
    }

    #[test]
    fn gpt2_lists_are_applied_in_sequence() {
        // Starcoder first isolates every digit, then applies the GPT-2 pattern to the rest.
        assert_eq!(
            split(PreKind::Starcoder, "ab12 cd"),
            ["ab", "1", "2", " cd"]
        );
        assert_eq!(split(PreKind::Gpt2, "ab12 cd"), ["ab", "12", " cd"]);
    }

    #[test]
    fn non_ascii_whitespace_is_folded_before_matching() {
        // U+3000 is in deepseek-llm's punctuation class, but as whitespace it never matches it.
        // Unfolded, "。\u{3000}。" would stay one piece: all three are in that class and in
        // the CJK range U+0800-U+4E00. Folded, the space is split off by the CJK regex.
        let words = split(PreKind::DeepseekLlm, "。\u{3000}。");
        assert_eq!(words, ["。", "\u{3000}", "。"]);
    }

    #[test]
    fn symbol_class_excludes_tilde_like_llama_cpp() {
        // "~" may prefix a non-ASCII word because llama.cpp does not count it as \p{S}.
        assert_eq!(split(PreKind::DeepseekV3, "~é +é"), ["~é", " +", "é"]);
    }

    #[test]
    fn unknown_names_are_errors() {
        assert!(matches!(
            setup_for(Some("no-such-pre")),
            Err(TokenizerError::UnsupportedPreTokenizer(_))
        ));
        assert_eq!(setup_for(None).unwrap().kind, PreKind::Default);
        assert!(setup_for(Some("llama-bpe")).unwrap().ignore_merges);
    }
}
