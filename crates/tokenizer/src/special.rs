//! Splitting input text at special-token texts (llama.cpp's `tokenizer_st_partition`).

use crate::vocab::{Vocab, attr};

/// A piece of the input: plain text (a byte range) or an already decided token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fragment {
    Text { start: usize, end: usize },
    Token(u32),
}

/// `isspace` in the C locale.
fn is_c_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0B | 0x0C | b'\r')
}

/// Splits `text` at occurrences of special tokens, longest tokens first.
///
/// User-defined tokens are always matched; control and unknown tokens only when
/// `parse_special` is true. Tokens with the `LSTRIP`/`RSTRIP` attribute swallow the
/// whitespace before/after them.
pub(crate) fn partition(vocab: &Vocab, text: &str, parse_special: bool) -> Vec<Fragment> {
    let mut frags = Vec::new();
    if text.is_empty() {
        return frags;
    }
    frags.push(Fragment::Text {
        start: 0,
        end: text.len(),
    });
    let bytes = text.as_bytes();
    for &id in &vocab.special_cache {
        let a = vocab.attr(id);
        if !parse_special && a & (attr::CONTROL | attr::UNKNOWN) != 0 {
            continue;
        }
        let Some(needle) = vocab.text(id) else {
            continue;
        };
        if needle.is_empty() || !text.contains(needle) {
            continue;
        }
        let mut next = Vec::with_capacity(frags.len() + 2);
        for f in frags {
            let Fragment::Text { mut start, end } = f else {
                next.push(f);
                continue;
            };
            loop {
                let found = text.get(start..end).and_then(|s| s.find(needle));
                let Some(rel) = found else {
                    if start < end {
                        next.push(Fragment::Text { start, end });
                    }
                    break;
                };
                let at = start + rel;
                let mut left_end = at;
                if a & attr::LSTRIP != 0 {
                    while left_end > start && is_c_space(bytes[left_end - 1]) {
                        left_end -= 1;
                    }
                }
                if left_end > start {
                    next.push(Fragment::Text {
                        start,
                        end: left_end,
                    });
                }
                next.push(Fragment::Token(id));
                let mut right = at + needle.len();
                if a & attr::RSTRIP != 0 {
                    while right < end && is_c_space(bytes[right]) {
                        right += 1;
                    }
                }
                start = right;
                if start >= end {
                    break;
                }
            }
        }
        frags = next;
    }
    frags
}
