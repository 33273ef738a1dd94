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

/// A queued merge candidate: `(left, right, total length when queued)`.
trait Candidate: Ord {
    fn pair(&self) -> (usize, usize, usize);
}

/// The loop both algorithms share: queue every adjacent pair that `candidate` accepts, then
/// repeatedly merge the best live candidate and offer the pairs it forms with its neighbours.
fn merge_all<B: Candidate>(
    symbols: &mut [Symbol],
    candidate: impl Fn(Symbol, Symbol, usize, usize) -> Option<B>,
) {
    let offer = |symbols: &[Symbol], queue: &mut BinaryHeap<B>, left: usize, right: usize| {
        if left != NONE
            && right != NONE
            && let Some(b) = candidate(symbols[left], symbols[right], left, right)
        {
            queue.push(b);
        }
    };
    let mut queue = BinaryHeap::new();
    for i in 1..symbols.len() {
        offer(symbols, &mut queue, i - 1, i);
    }
    while let Some(b) = queue.pop() {
        let (left, right, size) = b.pair();
        if !is_current(symbols, left, right, size) {
            continue;
        }
        merge(symbols, left, right);
        let (prev, next) = (symbols[left].prev, symbols[left].next);
        offer(symbols, &mut queue, prev, left);
        offer(symbols, &mut queue, left, next);
    }
}

/// Emits the final symbols in order: each piece's token, or, when the piece is not a token,
/// whatever `byte_token` gives for each of its bytes.
fn emit(
    vocab: &Vocab,
    text: &str,
    symbols: &[Symbol],
    byte_token: impl Fn(u8) -> Option<u32>,
    out: &mut Vec<u32>,
) {
    let mut i = if symbols.is_empty() { NONE } else { 0 };
    while i != NONE {
        let s = symbols[i];
        let piece = slice(text, s);
        match vocab.id(piece) {
            Some(id) => out.push(id),
            None => out.extend(piece.bytes().filter_map(&byte_token)),
        }
        i = s.next;
    }
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
impl Candidate for SpmBigram {
    fn pair(&self) -> (usize, usize, usize) {
        (self.left, self.right, self.size)
    }
}

/// SentencePiece tokenisation of already escaped text (spaces are `▁`): repeatedly merge the
/// adjacent pair whose concatenation is the highest-scoring token; what is left and is not a
/// token falls back to byte tokens (`<0xXX>`), or to the unknown token.
pub(crate) fn spm(vocab: &Vocab, text: &str, out: &mut Vec<u32>) {
    let mut symbols = symbols_of(text);
    merge_all(&mut symbols, |l, r, left, right| {
        let size = l.len + r.len;
        let id = vocab.id(text.get(l.start..l.start + size)?)?;
        Some(SpmBigram {
            score: vocab.score(id),
            left,
            right,
            size,
        })
    });
    emit(
        vocab,
        text,
        &symbols,
        |byte| vocab.spm_byte_token(byte).or(vocab.specials.unk),
        out,
    );
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
impl Candidate for BpeBigram {
    fn pair(&self) -> (usize, usize, usize) {
        (self.left, self.right, self.size)
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
    merge_all(&mut symbols, |l, r, left, right| {
        let rank = vocab.merges.rank(slice(word, l), slice(word, r))?;
        Some(BpeBigram {
            rank,
            left,
            right,
            size: l.len + r.len,
        })
    });
    emit(
        vocab,
        word,
        &symbols,
        |byte| std::str::from_utf8(&[byte]).ok().and_then(|c| vocab.id(c)),
        out,
    );
}
