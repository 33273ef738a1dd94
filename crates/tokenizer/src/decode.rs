//! Detokenisation: token pieces, whole-sequence decoding (llama.cpp's `detokenize`) and a
//! streaming decoder that never emits a broken UTF-8 character.

use crate::Tokenizer;
use crate::byte_level;
use crate::config::ModelKind;
use crate::vocab::{Vocab, attr};

/// The bytes a token stands for, with control and unknown tokens rendered as their text
/// (llama.cpp's `token_to_piece` with `special = true`). Unused/undefined tokens are empty.
pub(crate) fn piece_bytes(vocab: &Vocab, id: u32) -> Vec<u8> {
    let a = vocab.attr(id);
    let Some(text) = vocab.text(id) else {
        return Vec::new();
    };
    if a & (attr::UNKNOWN | attr::CONTROL | attr::USER_DEFINED) != 0 {
        return text.as_bytes().to_vec();
    }
    if a & attr::NORMAL != 0 {
        return match vocab.model {
            ModelKind::Spm => text.replace('\u{2581}', " ").into_bytes(),
            ModelKind::Bpe => byte_level::decode_token_text(text),
        };
    }
    if a & attr::BYTE != 0 {
        return vec![byte_of_byte_token(text)];
    }
    Vec::new()
}

/// The byte of a `<0xXX>` token (llama.cpp reads the two characters after `<0x` with
/// `strtol`, so a malformed one reads as its valid hex prefix, or 0).
fn byte_of_byte_token(text: &str) -> u8 {
    let digits = text.get(3..).unwrap_or("");
    let hex: String = digits
        .chars()
        .take(2)
        .take_while(char::is_ascii_hexdigit)
        .collect();
    u8::from_str_radix(&hex, 16).unwrap_or(0)
}

/// Options for [`Tokenizer::decode_with`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DecodeOptions {
    /// Drop a leading BOS and trailing EOS when the model adds them.
    pub remove_special: bool,
    /// Render control tokens as their text instead of omitting them.
    pub unparse_special: bool,
}

/// llama.cpp's `detokenize`: concatenated pieces, the SentencePiece leading space removed,
/// and for vocabularies that ask for it the `clean_spaces` passes.
pub(crate) fn detokenize(tok: &Tokenizer, tokens: &[u32], opts: DecodeOptions) -> Vec<u8> {
    let v = &tok.vocab;
    let mut tokens = tokens;
    let mut remove_space = v.add_space_prefix;
    if opts.remove_special
        && v.add_bos
        && let Some((&first, rest)) = tokens.split_first()
        && Some(first) == v.specials.bos
    {
        remove_space = false;
        tokens = rest;
    }
    if opts.remove_special
        && v.add_eos
        && let Some((&last, rest)) = tokens.split_last()
        && Some(last) == v.specials.eos
    {
        tokens = rest;
    }
    let mut text = Vec::new();
    for &id in tokens {
        let mut piece = tok.token_piece(id, opts.unparse_special);
        if remove_space && let Some(rest) = piece.strip_prefix(b" ") {
            piece = rest;
        }
        remove_space = false;
        text.extend_from_slice(piece);
    }
    if v.clean_spaces {
        clean_spaces(&mut text);
    }
    text
}

/// The three `clean_spaces` passes: no space before `?!.,`, none around a lone `'`, and none
/// before the contractions `'s 'm 're 've`.
fn clean_spaces(text: &mut Vec<u8>) {
    // Pass 1: " ?", " !", " .", " ,".
    let mut out: Vec<u8> = Vec::with_capacity(text.len());
    for (i, &x) in text.iter().enumerate() {
        if i > 0 && text[i - 1] == b' ' && matches!(x, b'?' | b'!' | b'.' | b',') {
            out.pop();
        }
        out.push(x);
    }
    // Pass 2: " ' " → "'". llama.cpp blanks the dropped space in place, so it no longer
    // counts as the space before a following quote.
    let mut t = std::mem::take(&mut out);
    let mut i = 0;
    while i < t.len() {
        let x = t[i];
        if x == b'\'' && i > 0 && i + 1 < t.len() && t[i - 1] == b' ' && t[i + 1] == b' ' {
            out.pop();
            out.push(x);
            t[i + 1] = 0;
            i += 2;
            continue;
        }
        out.push(x);
        i += 1;
    }
    // Pass 3: " 's", " 'm", " 're", " 've".
    let t = std::mem::take(&mut out);
    for (i, &x) in t.iter().enumerate() {
        if x == b'\'' && i > 0 && t[i - 1] == b' ' && i + 1 < t.len() {
            let x1 = t[i + 1];
            let x2 = t.get(i + 2).copied();
            let drop = matches!(x1, b's' | b'm')
                || (!matches!(x1, b't' | b'd') && matches!((x1, x2), (b'r' | b'v', Some(b'e'))));
            if drop {
                out.pop();
            }
        }
        out.push(x);
    }
    *text = out;
}

/// Streaming detokeniser: feed tokens one at a time and get back only complete UTF-8 text.
///
/// Bytes of a character split across tokens are held back until the character is complete.
/// Bytes that can never form a valid character come out as U+FFFD. Pieces are concatenated
/// as they are (no leading-space removal, no space cleaning), as llama.cpp prints generated
/// tokens.
#[derive(Debug, Clone, Default)]
pub struct Decoder {
    pending: Vec<u8>,
    render_special: bool,
}

impl Decoder {
    /// A decoder that omits control tokens.
    pub fn new() -> Decoder {
        Decoder::default()
    }

    /// A decoder that renders control tokens as their text when `render_special` is true.
    pub fn with_special(render_special: bool) -> Decoder {
        Decoder {
            pending: Vec::new(),
            render_special,
        }
    }

    /// Adds one token and returns the text completed by it (possibly empty).
    pub fn push(&mut self, tokenizer: &Tokenizer, id: u32) -> String {
        let piece = tokenizer.token_piece(id, self.render_special);
        self.push_bytes(piece)
    }

    /// Adds raw bytes and returns the text they complete (possibly empty).
    pub fn push_bytes(&mut self, bytes: &[u8]) -> String {
        self.pending.extend_from_slice(bytes);
        let mut out = String::new();
        let mut consumed = 0;
        loop {
            let rest = &self.pending[consumed..];
            match std::str::from_utf8(rest) {
                Ok(s) => {
                    out.push_str(s);
                    consumed = self.pending.len();
                    break;
                }
                Err(e) => {
                    let valid = e.valid_up_to();
                    out.push_str(std::str::from_utf8(&rest[..valid]).unwrap_or_default());
                    consumed += valid;
                    match e.error_len() {
                        // An incomplete character at the end: wait for more bytes.
                        None => break,
                        Some(n) => {
                            out.push(char::REPLACEMENT_CHARACTER);
                            consumed += n;
                        }
                    }
                }
            }
        }
        self.pending.drain(..consumed);
        out
    }

    /// Whether bytes of an incomplete character are being held back.
    pub fn has_pending(&self) -> bool {
        !self.pending.is_empty()
    }

    /// Ends the stream: held-back bytes of an unfinished character come out as U+FFFD.
    pub fn finish(&mut self) -> String {
        let out = String::from_utf8_lossy(&self.pending).into_owned();
        self.pending.clear();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_spaces_matches_llama_cpp_passes() {
        let mut t = b"Hello , world ! I 'm here . It ' s they 're ok 'tis".to_vec();
        clean_spaces(&mut t);
        assert_eq!(
            String::from_utf8(t).unwrap(),
            "Hello, world! I'm here. It's they're ok 'tis"
        );
        // The blanked space stops the second quote from being joined.
        let mut t = b"a ' ' b".to_vec();
        clean_spaces(&mut t);
        assert_eq!(String::from_utf8(t).unwrap(), "a'' b");
    }

    #[test]
    fn byte_tokens_parse_like_strtol() {
        assert_eq!(byte_of_byte_token("<0x0A>"), 10);
        assert_eq!(byte_of_byte_token("<0xff>"), 255);
        assert_eq!(byte_of_byte_token("<0xG1>"), 0);
        assert_eq!(byte_of_byte_token("<0x"), 0);
    }

    #[test]
    fn decoder_holds_back_split_characters() {
        let mut d = Decoder::new();
        let euro = "€".as_bytes(); // e2 82 ac
        assert_eq!(d.push_bytes(b"a"), "a");
        assert_eq!(d.push_bytes(&euro[..1]), "");
        assert!(d.has_pending());
        assert_eq!(d.push_bytes(&euro[1..2]), "");
        assert_eq!(d.push_bytes(&[euro[2], b'b']), "€b");
        assert!(!d.has_pending());
        let emoji = "😀".as_bytes();
        assert_eq!(d.push_bytes(&emoji[..3]), "");
        assert_eq!(d.finish(), "\u{FFFD}");
        assert!(!d.has_pending());
    }

    #[test]
    fn decoder_replaces_invalid_bytes_and_continues() {
        let mut d = Decoder::new();
        assert_eq!(d.push_bytes(&[b'x', 0xFF, b'y']), "x\u{FFFD}y");
        // A lead byte followed by a non-continuation byte is invalid, not incomplete.
        assert_eq!(d.push_bytes(&[0xE2, b'z']), "\u{FFFD}z");
        assert_eq!(d.finish(), "");
    }
}
