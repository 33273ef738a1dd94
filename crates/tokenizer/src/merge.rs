//! The two merge algorithms over a linked list of symbols with a priority queue
//! (llama.cpp's `llm_tokenizer_spm_session` and `llm_tokenizer_bpe_session`).
//!
//! Symbols are byte ranges of one string; neighbours are always contiguous, so the text of
//! a candidate merge is a slice and costs no allocation. A queued candidate is stale when one
//! of its symbols has changed since; that shows as a different total length.

use crate::vocab::Vocab;
use std::cmp::Ordering;
use std::collections::BinaryHeap;

const NONE: usize = usize::MAX;

#[derive(Debug, Clone, Copy)]
struct Symbol {
    start: usize,
    len: usize,
    prev: usize,
    next: usize,
}

/// Splits `text` into one symbol per character, linked in order.
fn symbols_of(text: &str) -> Vec<Symbol> {
    let n = text.chars().count();
    let mut out = Vec::with_capacity(n);
    for (i, (start, c)) in text.char_indices().enumerate() {
        out.push(Symbol {
            start,
            len: c.len_utf8(),
            prev: if i == 0 { NONE } else { i - 1 },
            next: if i + 1 == n { NONE } else { i + 1 },
        });
    }
    out
}

/// Merges `right` into `left` and unlinks it.
fn merge(symbols: &mut [Symbol], left: usize, right: usize) {
    let (r_len, r_next) = (symbols[right].len, symbols[right].next);
    symbols[left].len += r_len;
    symbols[left].next = r_next;
    symbols[right].len = 0;
    if r_next != NONE {
        symbols[r_next].prev = left;
    }
}

/// Whether a queued pair still describes two live neighbours of the recorded total size.
fn is_current(symbols: &[Symbol], left: usize, right: usize, size: usize) -> bool {
    let (l, r) = (symbols[left], symbols[right]);
    l.len != 0 && r.len != 0 && l.next == right && l.len + r.len == size
}

fn slice(text: &str, s: Symbol) -> &str {
    text.get(s.start..s.start + s.len).unwrap_or("")
}

/// A SentencePiece candidate: highest score first, then leftmost.
#[derive(Debug)]
struct SpmBigram {
    score: f32,
    left: usize,
    right: usize,
    size: usize,
}

impl Ord for SpmBigram {
    fn cmp(&self, other: &Self) -> Ordering {
        self.score
            .total_cmp(&other.score)
            .then_with(|| other.left.cmp(&self.left))
    }
}
impl PartialOrd for SpmBigram {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl PartialEq for SpmBigram {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for SpmBigram {}

/// SentencePiece tokenisation of already escaped text (spaces are `▁`): repeatedly merge the
/// adjacent pair whose concatenation is the highest-scoring token; what is left and is not a
/// token falls back to byte tokens (`<0xXX>`), or to the unknown token.
pub(crate) fn spm(vocab: &Vocab, text: &str, out: &mut Vec<u32>) {
    let mut symbols = symbols_of(text);
    if symbols.is_empty() {
        return;
    }
    let mut queue = BinaryHeap::new();
    let try_add = |symbols: &[Symbol], queue: &mut BinaryHeap<SpmBigram>, left, right| {
        if left == NONE || right == NONE {
            return;
        }
        let (l, r): (Symbol, Symbol) = (symbols[left], symbols[right]);
        let size = l.len + r.len;
        let Some(joined) = text.get(l.start..l.start + size) else {
            return;
        };
        if let Some(id) = vocab.id(joined) {
            queue.push(SpmBigram {
                score: vocab.score(id),
                left,
                right,
                size,
            });
        }
    };
    for i in 1..symbols.len() {
        try_add(&symbols, &mut queue, i - 1, i);
    }
    while let Some(b) = queue.pop() {
        if !is_current(&symbols, b.left, b.right, b.size) {
            continue;
        }
        merge(&mut symbols, b.left, b.right);
        let prev = symbols[b.left].prev;
        let next = symbols[b.left].next;
        try_add(&symbols, &mut queue, prev, b.left);
        try_add(&symbols, &mut queue, b.left, next);
    }
    let mut i = 0;
    while i != NONE {
        let s = symbols[i];
        let piece = slice(text, s);
        match vocab.id(piece) {
            Some(id) => out.push(id),
            None => {
                for &byte in piece.as_bytes() {
                    if let Some(id) = vocab.spm_byte_token(byte).or(vocab.specials.unk) {
                        out.push(id);
                    }
                }
            }
        }
        i = s.next;
    }
}

/// A BPE candidate: lowest merge rank first, then leftmost.
#[derive(Debug, PartialEq, Eq)]
struct BpeBigram {
    rank: u32,
    left: usize,
    right: usize,
    size: usize,
}

impl Ord for BpeBigram {
    fn cmp(&self, other: &Self) -> Ordering {
        other
            .rank
            .cmp(&self.rank)
            .then_with(|| other.left.cmp(&self.left))
            .then_with(|| other.size.cmp(&self.size))
            .then_with(|| other.right.cmp(&self.right))
    }
}
impl PartialOrd for BpeBigram {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Byte-level BPE of one pre-tokenized, byte-encoded word: repeatedly merge the adjacent pair
/// with the lowest merge rank. Final symbols that are not tokens are emitted byte by byte,
/// keeping only the bytes that are tokens on their own (as llama.cpp does).
pub(crate) fn bpe(vocab: &Vocab, word: &str, out: &mut Vec<u32>) {
    if word.is_empty() {
        return;
    }
    if vocab.ignore_merges
        && let Some(id) = vocab.id(word)
    {
        out.push(id);
        return;
    }
    let mut symbols = symbols_of(word);
    let mut queue = BinaryHeap::new();
    let try_add = |symbols: &[Symbol], queue: &mut BinaryHeap<BpeBigram>, left, right| {
        if left == NONE || right == NONE {
            return;
        }
        let (l, r): (Symbol, Symbol) = (symbols[left], symbols[right]);
        if let Some(rank) = vocab.merges.rank(slice(word, l), slice(word, r)) {
            queue.push(BpeBigram {
                rank,
                left,
                right,
                size: l.len + r.len,
            });
        }
    };
    for i in 1..symbols.len() {
        try_add(&symbols, &mut queue, i - 1, i);
    }
    while let Some(b) = queue.pop() {
        if !is_current(&symbols, b.left, b.right, b.size) {
            continue;
        }
        merge(&mut symbols, b.left, b.right);
        let prev = symbols[b.left].prev;
        let next = symbols[b.left].next;
        try_add(&symbols, &mut queue, prev, b.left);
        try_add(&symbols, &mut queue, b.left, next);
    }
    let mut i = 0;
    while i != NONE {
        let s = symbols[i];
        let piece = slice(word, s);
        match vocab.id(piece) {
            Some(id) => out.push(id),
            None => {
                for &byte in piece.as_bytes() {
                    if let Some(id) = std::str::from_utf8(&[byte]).ok().and_then(|c| vocab.id(c)) {
                        out.push(id);
                    }
                }
            }
        }
        i = s.next;
    }
}
