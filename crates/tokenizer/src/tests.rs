//! Unit tests on small hand-made vocabularies.

use super::*;
use switchyard_gguf::Value;

const UNK: i32 = 2;
const CONTROL: i32 = 3;
const USER: i32 = 4;
const BYTE: i32 = 6;

/// A SentencePiece vocabulary: `<unk> <s> </s>`, the 256 byte tokens, then `normal`
/// (text, score) entries.
fn spm_config(normal: &[(&str, f32)]) -> VocabConfig {
    let mut tokens = vec!["<unk>".to_string(), "<s>".into(), "</s>".into()];
    let mut types = vec![UNK, CONTROL, CONTROL];
    let mut scores = vec![0.0, 0.0, 0.0];
    for b in 0..=255u8 {
        tokens.push(format!("<0x{b:02X}>"));
        types.push(BYTE);
        scores.push(0.0);
    }
    for (t, s) in normal {
        tokens.push(t.to_string());
        types.push(1);
        scores.push(*s);
    }
    let mut cfg = VocabConfig::new(ModelKind::Spm, tokens);
    cfg.token_types = Some(types);
    cfg.scores = Some(scores);
    cfg
}

fn spm(normal: &[(&str, f32)]) -> Tokenizer {
    Tokenizer::from_config(spm_config(normal)).unwrap()
}

/// A byte-level BPE vocabulary: the 256 byte characters, then `extra` tokens, with `merges`.
fn bpe_config(pre: &str, extra: &[(&str, i32)], merges: &[&str]) -> VocabConfig {
    let mut tokens: Vec<String> = (0..=255u8)
        .map(|b| byte_level::byte_to_char(b).to_string())
        .collect();
    let mut types = vec![1; 256];
    for (t, ty) in extra {
        tokens.push(t.to_string());
        types.push(*ty);
    }
    let mut cfg = VocabConfig::new(ModelKind::Bpe, tokens);
    cfg.token_types = Some(types);
    cfg.pre = Some(pre.to_string());
    cfg.merges = merges.iter().map(|m| m.to_string()).collect();
    cfg
}

fn bpe(pre: &str, extra: &[(&str, i32)], merges: &[&str]) -> Tokenizer {
    Tokenizer::from_config(bpe_config(pre, extra, merges)).unwrap()
}

fn texts(tok: &Tokenizer, ids: &[u32]) -> Vec<String> {
    ids.iter()
        .map(|&i| tok.token_text(i).unwrap().to_string())
        .collect()
}

#[test]
fn spm_merges_highest_score_first() {
    // "▁abc": ▁a, ab, bc are candidates; bc scores best, then ▁a, and "▁abc" never forms.
    let vocab = [("▁", -5.0), ("a", -5.0), ("b", -5.0), ("c", -5.0)];
    let mut v = vocab.to_vec();
    v.extend([("▁a", -2.0), ("ab", -3.0), ("bc", -1.0)]);
    let tok = spm(&v);
    let ids = tok.encode("abc", false, false).unwrap();
    assert_eq!(texts(&tok, &ids), ["▁a", "bc"]);

    let mut v = vocab.to_vec();
    v.extend([("▁a", -4.0), ("ab", -1.0), ("bc", -2.0), ("▁ab", -3.0)]);
    let tok = spm(&v);
    let ids = tok.encode("abc", false, false).unwrap();
    assert_eq!(texts(&tok, &ids), ["▁ab", "c"]);
}

#[test]
fn spm_equal_scores_merge_leftmost_first() {
    let tok = spm(&[("▁", -1.0), ("x", -1.0), ("xx", -1.0)]);
    let ids = tok.encode("xxx", false, false).unwrap();
    assert_eq!(texts(&tok, &ids), ["▁", "xx", "x"]);
}

#[test]
fn spm_byte_fallback_and_space_prefix() {
    let tok = spm(&[("a", -1.0)]);
    // No "▁" token: the prefix space falls back to its UTF-8 bytes; "€" likewise.
    let ids = tok.encode("a€", false, false).unwrap();
    assert_eq!(
        texts(&tok, &ids),
        [
            "<0xE2>", "<0x96>", "<0x81>", "a", "<0xE2>", "<0x82>", "<0xAC>"
        ]
    );
    // Byte tokens decode to their raw bytes: the prefix comes back as "▁", as in llama.cpp.
    assert_eq!(tok.decode(&ids), "▁a€");
    // add_space_prefix = false drops the prefix.
    let mut cfg = spm_config(&[("a", -1.0)]);
    cfg.add_space_prefix = Some(false);
    let tok = Tokenizer::from_config(cfg).unwrap();
    assert_eq!(texts(&tok, &tok.encode("a", false, false).unwrap()), ["a"]);
}

#[test]
fn spm_bos_and_special_parsing() {
    let tok = spm(&[
        ("▁", -1.0),
        ("a", -1.0),
        ("b", -1.0),
        ("▁a", -0.5),
        ("▁b", -0.5),
    ]);
    assert!(tok.add_bos());
    assert_eq!(tok.bos(), Some(1));
    let with = tok.encode("a</s>b", true, true).unwrap();
    // After a special token the next fragment gets the space prefix again.
    assert_eq!(texts(&tok, &with), ["<s>", "▁a", "</s>", "▁b"]);
    let without = tok.encode("a</s>b", false, false).unwrap();
    assert!(!without.contains(&2), "{without:?}");
    assert_eq!(tok.decode(&without), "a</s>b");
    // Control tokens are not rendered unless asked. Only the very first piece loses its
    // leading space, and here that is the (empty) BOS piece, as in llama.cpp.
    assert_eq!(tok.decode(&with), " a b");
    assert_eq!(tok.decode(&with[1..]), "a b");
    let opts = DecodeOptions {
        remove_special: false,
        unparse_special: true,
    };
    assert_eq!(tok.decode_with(&with, opts), "<s> a</s> b");
    let opts = DecodeOptions {
        remove_special: true,
        unparse_special: true,
    };
    // With BOS removed llama.cpp keeps the first piece's leading space.
    assert_eq!(tok.decode_with(&with, opts), " a</s> b");
}

#[test]
fn bpe_merges_by_rank() {
    let extra = [("ab", 1), ("bc", 1)];
    let tok = bpe("gpt-2", &extra, &["b c", "a b"]);
    assert_eq!(
        texts(&tok, &tok.encode("abc", false, false).unwrap()),
        ["a", "bc"]
    );
    let tok = bpe("gpt-2", &extra, &["a b", "b c"]);
    assert_eq!(
        texts(&tok, &tok.encode("abc", false, false).unwrap()),
        ["ab", "c"]
    );
}

#[test]
fn bpe_byte_level_and_pretokenizer() {
    let extra = [
        ("Ġw", 1),
        ("Ġwo", 1),
        ("he", 1),
        ("hel", 1),
        ("hell", 1),
        ("hello", 1),
    ];
    let merges = ["h e", "he l", "hel l", "hell o", "Ġ w", "Ġw o"];
    let tok = bpe("gpt-2", &extra, &merges);
    let ids = tok.encode("hello wo", false, false).unwrap();
    assert_eq!(texts(&tok, &ids), ["hello", "Ġwo"]);
    assert_eq!(tok.decode(&ids), "hello wo");
    assert!(!tok.add_bos(), "gpt-2 adds no BOS by default");
    // Non-ASCII text goes through its UTF-8 bytes.
    let ids = tok.encode("é", false, false).unwrap();
    assert_eq!(texts(&tok, &ids), ["Ã", "©"]);
    assert_eq!(tok.decode(&ids), "é");
}

#[test]
fn bpe_ignore_merges_takes_whole_words() {
    // "abc" is a token but no merge builds it.
    let extra = [("abc", 1), ("<|begin_of_text|>", CONTROL)];
    let tok = bpe("gpt-2", &extra, &[]);
    assert_eq!(
        texts(&tok, &tok.encode("abc", false, false).unwrap()),
        ["a", "b", "c"]
    );
    let mut cfg = bpe_config("llama-bpe", &extra, &[]);
    cfg.special.bos = Some(257);
    let tok = Tokenizer::from_config(cfg).unwrap();
    assert_eq!(
        texts(&tok, &tok.encode("abc", false, false).unwrap()),
        ["abc"]
    );
    // llama3 adds BOS by default; metadata can turn it off.
    assert_eq!(tok.encode("abc", true, false).unwrap(), [257, 256]);
    let mut cfg = bpe_config("llama-bpe", &extra, &[]);
    cfg.special.bos = Some(257);
    cfg.add_bos = Some(false);
    let tok = Tokenizer::from_config(cfg).unwrap();
    assert_eq!(tok.encode("abc", true, false).unwrap(), [256]);
}

#[test]
fn bpe_special_and_user_defined_tokens() {
    let extra = [
        ("<|im_end|>", CONTROL),
        ("[PAD1]", USER),
        ("<|endoftext|>", CONTROL),
    ];
    let tok = bpe("qwen2", &extra, &[]);
    let (im_end, pad, eot) = (256, 257, 258);
    let ids = tok.encode("a<|im_end|>b[PAD1]", false, true).unwrap();
    assert_eq!(texts(&tok, &ids), ["a", "<|im_end|>", "b", "[PAD1]"]);
    // Without parse_special, control text is plain text but user-defined tokens still match.
    let ids = tok.encode("a<|im_end|>b[PAD1]", false, false).unwrap();
    assert!(!ids.contains(&im_end));
    assert_eq!(ids.last(), Some(&pad));
    assert_eq!(tok.decode(&ids), "a<|im_end|>b[PAD1]");
    // End of generation: both turn markers; the lower id becomes EOT.
    assert!(tok.is_eog(im_end) && tok.is_eog(eot));
    assert_eq!(tok.eot(), Some(im_end));
    assert!(tok.is_control(im_end));
    assert!(!tok.is_eog(pad));
}

#[test]
fn eog_set_includes_eos_eot_eom() {
    let extra = [
        ("<|eot_id|>", CONTROL),
        ("<|eom_id|>", CONTROL),
        ("<|end_of_text|>", CONTROL),
    ];
    let mut cfg = bpe_config("llama3", &extra, &[]);
    cfg.special.bos = Some(258);
    cfg.special.eos = Some(258);
    let tok = Tokenizer::from_config(cfg).unwrap();
    let eog: Vec<u32> = tok.eog_tokens().iter().copied().collect();
    assert_eq!(eog, [256, 257, 258]);
    assert_eq!(tok.eot(), Some(256));
    assert_eq!(tok.eom(), Some(257));
}

#[test]
fn harmony_end_is_not_eog_when_return_and_call_exist() {
    let extra = [
        ("<|end|>", CONTROL),
        ("<|return|>", CONTROL),
        ("<|call|>", CONTROL),
    ];
    let tok = bpe("gpt-2", &extra, &[]);
    assert!(!tok.is_eog(256));
    assert!(tok.is_eog(257) && tok.is_eog(258));
    let tok = bpe("gpt-2", &extra[..1], &[]);
    assert!(tok.is_eog(256));
}

#[test]
fn phi3_special_tokens_strip_following_whitespace() {
    let extra = [("<|end|>", CONTROL)];
    let mut cfg = bpe_config("gpt-2", &extra, &[]);
    cfg.model_name = Some("Phi-3-mini".into());
    let tok = Tokenizer::from_config(cfg).unwrap();
    let ids = tok.encode("a<|end|> \n b", false, true).unwrap();
    assert_eq!(texts(&tok, &ids), ["a", "<|end|>", "b"]);
    let tok = bpe("gpt-2", &extra, &[]);
    let ids = tok.encode("a<|end|> b", false, true).unwrap();
    assert_eq!(texts(&tok, &ids), ["a", "<|end|>", "Ġ", "b"]);
}

#[test]
fn streaming_decoder_joins_split_characters() {
    let tok = spm(&[("a", -1.0)]);
    let ids = tok.encode("a€a", false, false).unwrap();
    let mut d = tok.decoder();
    let chunks: Vec<String> = ids.iter().map(|&i| d.push(&tok, i)).collect();
    // ▁ (3 byte tokens), a, € (3 byte tokens), a: characters appear only when complete.
    assert_eq!(chunks, ["", "", "▁", "a", "", "", "€", "a"]);
    assert_eq!(d.finish(), "");
    let mut d = Decoder::with_special(true);
    assert_eq!(d.push(&tok, 1), "<s>");
    assert_eq!(tok.decoder().push(&tok, 1), "");
}

#[test]
fn hand_built_configs_are_checked() {
    let mut cfg = spm_config(&[("a", -1.0)]);
    cfg.token_types.as_mut().unwrap().pop();
    let e = Tokenizer::from_config(cfg).unwrap_err();
    assert!(
        matches!(
            e,
            TokenizerError::BadValue {
                key: keys::TOKEN_TYPE,
                ..
            }
        ),
        "{e}"
    );
    let mut cfg = spm_config(&[("a", -1.0)]);
    cfg.scores = Some(vec![]);
    let e = Tokenizer::from_config(cfg).unwrap_err();
    assert!(
        matches!(
            e,
            TokenizerError::BadValue {
                key: keys::SCORES,
                ..
            }
        ),
        "{e}"
    );
}

#[test]
fn token_lookups() {
    let tok = spm(&[("hello", -1.0)]);
    assert_eq!(tok.n_vocab(), 3 + 256 + 1);
    assert_eq!(tok.token_id("hello"), Some(259));
    assert_eq!(tok.token_id("nope"), None);
    assert_eq!(tok.token_piece(259, false), b"hello");
    assert_eq!(tok.token_piece(3 + 0x41, false), b"A");
    assert_eq!(tok.token_piece(1, false), b"");
    assert_eq!(tok.token_piece(1, true), b"<s>");
    assert_eq!(tok.token_piece(999_999, true), b"");
    assert_eq!(tok.unk(), Some(0));
    assert_eq!(tok.eos(), Some(2));
    assert!(tok.eog_tokens().contains(&2));
    assert_eq!(tok.encode("", true, false).unwrap(), [1]);
    assert_eq!(tok.encode("", false, false).unwrap(), Vec::<u32>::new());
}

fn md(pairs: Vec<(&str, Value)>) -> Metadata {
    let mut m = Metadata::new();
    for (k, v) in pairs {
        m.insert(k, v);
    }
    m
}

fn strs(v: &[&str]) -> Value {
    Value::Array(v.iter().map(|s| Value::String(s.to_string())).collect())
}

#[test]
fn metadata_is_typed_once() {
    let m = md(vec![
        (keys::MODEL, Value::String("gpt2".into())),
        (keys::PRE, Value::String("qwen2".into())),
        (keys::TOKENS, strs(&["a", "b", "ab"])),
        (keys::MERGES, strs(&["a b"])),
        (keys::TOKEN_TYPE, Value::Array(vec![Value::I32(1); 3])),
        (keys::EOS_ID, Value::U32(2)),
        (keys::BOS_ID, Value::I32(-1)),
        (keys::ADD_BOS, Value::Bool(false)),
    ]);
    let cfg = VocabConfig::try_from(&m).unwrap();
    assert_eq!(cfg.model, ModelKind::Bpe);
    assert_eq!(cfg.special.eos, Some(2));
    assert_eq!(cfg.special.bos, None);
    assert_eq!(cfg.add_bos, Some(false));
    let tok = Tokenizer::from_metadata(&m).unwrap();
    assert_eq!(tok.encode("ab", false, false).unwrap(), [2]);
}

#[test]
fn bad_metadata_gives_errors_not_panics() {
    let base = || {
        vec![
            (keys::MODEL, Value::String("llama".into())),
            (keys::TOKENS, strs(&["<unk>", "<s>", "</s>", "a"])),
        ]
    };
    assert!(Tokenizer::from_metadata(&md(base())).is_ok());

    let err = |pairs: Vec<(&str, Value)>| Tokenizer::from_metadata(&md(pairs)).unwrap_err();
    assert!(matches!(
        err(vec![]),
        TokenizerError::MissingKey(keys::MODEL)
    ));
    let e = err(vec![(keys::MODEL, Value::String("bert".into()))]);
    assert!(matches!(e, TokenizerError::UnsupportedModel(_)), "{e}");
    let e = err(vec![(keys::MODEL, Value::U8(1))]);
    assert!(
        matches!(
            e,
            TokenizerError::BadValue {
                key: keys::MODEL,
                ..
            }
        ),
        "{e}"
    );
    let e = err(vec![(keys::MODEL, Value::String("llama".into()))]);
    assert!(matches!(e, TokenizerError::MissingKey(keys::TOKENS)), "{e}");

    let with = |k: &'static str, v: Value| {
        let mut p = base();
        p.push((k, v));
        Tokenizer::from_metadata(&md(p))
    };
    let e = with(keys::TOKENS, Value::String("a".into())).unwrap_err();
    assert!(e.to_string().contains(keys::TOKENS), "{e}");
    let e = with(keys::SCORES, Value::Array(vec![Value::F32(0.0)])).unwrap_err();
    assert!(e.to_string().contains("1 entries for 4 tokens"), "{e}");
    let e = with(keys::TOKEN_TYPE, strs(&["x", "y", "z", "w"])).unwrap_err();
    assert!(matches!(e, TokenizerError::BadValue { .. }), "{e}");
    let e = with(keys::BOS_ID, Value::String("1".into())).unwrap_err();
    assert!(matches!(e, TokenizerError::BadValue { .. }), "{e}");
    let e = with(keys::ADD_BOS, Value::U32(1)).unwrap_err();
    assert!(matches!(e, TokenizerError::BadValue { .. }), "{e}");
    let e = with(keys::TOKENS, strs(&["a", "b", "a"])).unwrap_err();
    assert!(
        matches!(
            e,
            TokenizerError::DuplicateToken {
                first: 0,
                second: 2,
                ..
            }
        ),
        "{e}"
    );
    let e = with(keys::TOKENS, strs(&[])).unwrap_err();
    assert!(matches!(e, TokenizerError::VocabSize(0)), "{e}");
    // SPM's default BOS (1) does not exist in a one-token vocabulary.
    let e = with(keys::TOKENS, strs(&["a"])).unwrap_err();
    assert!(
        matches!(e, TokenizerError::MissingSpecialToken { .. }),
        "{e}"
    );
    let e = with(keys::EOS_ID, Value::U64(1 << 40)).unwrap_err();
    assert!(e.to_string().contains("does not fit 32 bits"), "{e}");
    // An out-of-range id from the metadata falls back to the default.
    let tok = with(keys::EOS_ID, Value::U32(99)).unwrap();
    assert_eq!(tok.eos(), Some(2));

    let bpe = |extra: Vec<(&'static str, Value)>| {
        let mut p = vec![
            (keys::MODEL, Value::String("gpt2".into())),
            (keys::TOKENS, strs(&["a", "b"])),
        ];
        p.extend(extra);
        Tokenizer::from_metadata(&md(p))
    };
    let e = bpe(vec![]).unwrap_err();
    assert!(matches!(e, TokenizerError::MissingKey(keys::MERGES)), "{e}");
    let e = bpe(vec![
        (keys::MERGES, strs(&[])),
        (keys::PRE, Value::String("martian".into())),
    ])
    .unwrap_err();
    assert!(
        matches!(e, TokenizerError::UnsupportedPreTokenizer(_)),
        "{e}"
    );
    // Odd merges (no space, empty halves) are accepted like llama.cpp does.
    let tok = bpe(vec![(keys::MERGES, strs(&["ab", " ", "", "a b"]))]).unwrap();
    assert_eq!(tok.encode("ab", false, false).unwrap(), [0, 1]);
}
