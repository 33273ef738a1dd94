//! When generation ends: stop strings over the decoded text, end-of-generation tokens and
//! the token budget.

/// Why a choice ended (mirrors the API's `finish_reason`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finish {
    /// A stop string or an end-of-generation token: `"stop"`.
    Stop,
    /// `max_tokens` were generated: `"length"`.
    Length,
}

impl Finish {
    /// The API's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Finish::Stop => "stop",
            Finish::Length => "length",
        }
    }
}

/// The token-level end conditions of one choice: the model's end-of-generation token ids
/// (EOS, EOT, `<|im_end|>` …, from the tokenizer; empty for `--ignore-eos`) and the
/// completion budget.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndConditions {
    eog: Vec<u32>,
    max_tokens: u32,
}

impl EndConditions {
    pub fn new(eog_tokens: impl IntoIterator<Item = u32>, max_tokens: u32) -> Self {
        let mut eog: Vec<u32> = eog_tokens.into_iter().collect();
        eog.sort_unstable();
        eog.dedup();
        EndConditions { eog, max_tokens }
    }

    /// Whether `token` ends generation by itself.
    pub fn is_eog(&self, token: u32) -> bool {
        self.eog.binary_search(&token).is_ok()
    }

    pub fn max_tokens(&self) -> u32 {
        self.max_tokens
    }

    /// Whether the budget is spent after `generated` tokens (true at once for a budget of 0).
    pub fn budget_spent(&self, generated: u32) -> bool {
        generated >= self.max_tokens
    }

    /// The verdict on a freshly sampled `token`, the `generated`-th of this choice (counting
    /// it, so the first token is 1):
    /// - `Some(Finish::Stop)`: an end-of-generation token; its text is not emitted;
    /// - `Some(Finish::Length)`: an ordinary token that spends the budget; emit it, then end;
    /// - `None`: emit it and continue.
    pub fn check(&self, token: u32, generated: u32) -> Option<Finish> {
        if self.is_eog(token) {
            Some(Finish::Stop)
        } else if self.budget_spent(generated) {
            Some(Finish::Length)
        } else {
            None
        }
    }
}

/// What to do with a piece of decoded text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StopOutcome {
    /// Emit this text (possibly empty: everything is held back for now) and continue.
    Emit(String),
    /// A stop string was completed: emit `emit_before` (the text before it), then end the
    /// choice with `finish_reason: "stop"`. The stop string itself is never emitted.
    Stop { emit_before: String },
}

/// Finds stop strings in a stream of decoded text pieces.
///
/// It sees text, not tokens, so a stop string is found wherever the token boundaries fall.
/// Text that could still become the start of a stop string is held back until the next
/// piece decides; held text is released as soon as it cannot be a stop string any more, or
/// by [`finish`](Self::finish) when generation ends for another reason. When several stop
/// strings are complete, the one that starts first wins.
///
/// The pieces are `&str`, so a UTF-8 character split across tokens must already have been
/// joined upstream (the tokenizer's streaming decoder does that).
#[derive(Debug, Clone)]
pub struct StopMatcher {
    stops: Vec<String>,
    /// Longest stop string, in bytes.
    max_len: usize,
    /// Text received but not yet emitted; never contains a whole stop string.
    held: String,
    stopped: bool,
}

impl StopMatcher {
    /// A matcher for these stop strings (empty strings are ignored; the API allows up to 4).
    pub fn new<S: AsRef<str>>(stops: impl IntoIterator<Item = S>) -> Self {
        let stops: Vec<String> = stops
            .into_iter()
            .map(|s| s.as_ref().to_owned())
            .filter(|s| !s.is_empty())
            .collect();
        let max_len = stops.iter().map(String::len).max().unwrap_or(0);
        StopMatcher {
            stops,
            max_len,
            held: String::new(),
            stopped: false,
        }
    }

    /// Whether a stop string has been found (later pushes emit nothing).
    pub fn is_stopped(&self) -> bool {
        self.stopped
    }

    /// The text currently held back.
    pub fn held(&self) -> &str {
        &self.held
    }

    /// Feeds the next piece of decoded text.
    pub fn push(&mut self, piece: &str) -> StopOutcome {
        if self.stopped {
            return StopOutcome::Stop {
                emit_before: String::new(),
            };
        }
        self.held.push_str(piece);
        if self.stops.is_empty() {
            return StopOutcome::Emit(std::mem::take(&mut self.held));
        }
        // Held text never contains a whole stop string, so a match found now is new; take
        // the one that starts first.
        let first = self
            .stops
            .iter()
            .filter_map(|s| self.held.find(s.as_str()))
            .min();
        if let Some(start) = first {
            self.held.truncate(start);
            self.stopped = true;
            return StopOutcome::Stop {
                emit_before: std::mem::take(&mut self.held),
            };
        }
        // Hold back the longest suffix that is a proper prefix of some stop string. Any
        // stop string that starts earlier would already be complete, so emitting the text
        // before that suffix can never leak part of a stop string.
        let split = self.hold_start();
        let rest = self.held.split_off(split);
        StopOutcome::Emit(std::mem::replace(&mut self.held, rest))
    }

    /// Ends the stream (end-of-generation token or budget spent): returns the held text,
    /// which is no stop string since none was completed.
    pub fn finish(&mut self) -> String {
        std::mem::take(&mut self.held)
    }

    /// Start of the longest suffix of `held` that some stop string begins with.
    fn hold_start(&self) -> usize {
        let bytes = self.held.as_bytes();
        let len = bytes.len();
        // A proper prefix is at most max_len − 1 bytes long.
        let earliest = len.saturating_sub(self.max_len.saturating_sub(1));
        (earliest..len)
            .filter(|&i| self.held.is_char_boundary(i))
            .find(|&i| {
                let suffix = bytes.get(i..).unwrap_or_default();
                self.stops.iter().any(|s| s.as_bytes().starts_with(suffix))
            })
            .unwrap_or(len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds all pieces; returns the emitted text and whether a stop string was hit.
    fn run(stops: &[&str], pieces: &[&str]) -> (String, bool) {
        let mut m = StopMatcher::new(stops.iter().copied());
        let mut out = String::new();
        for p in pieces {
            match m.push(p) {
                StopOutcome::Emit(t) => out.push_str(&t),
                StopOutcome::Stop { emit_before } => {
                    out.push_str(&emit_before);
                    return (out, true);
                }
            }
        }
        out.push_str(&m.finish());
        (out, false)
    }

    #[test]
    fn stop_across_token_boundaries() {
        assert_eq!(
            run(&["o wo"], &["Hel", "lo wor", "ld"]),
            ("Hell".into(), true)
        );
    }

    #[test]
    fn holds_back_a_possible_prefix_and_emits_it_when_it_is_not_one() {
        let mut m = StopMatcher::new(["Help"]);
        assert_eq!(m.push("Say Hel"), StopOutcome::Emit("Say ".into()));
        assert_eq!(m.held(), "Hel");
        assert_eq!(m.push("lo"), StopOutcome::Emit("Hello".into()));
        assert_eq!(m.held(), "");
        assert_eq!(m.push(" He"), StopOutcome::Emit(" ".into()));
        assert_eq!(m.finish(), "He");
    }

    #[test]
    fn overlapping_prefixes() {
        // "aab": after "aa" the held text must shift by one when a third 'a' arrives.
        assert_eq!(
            run(&["aab"], &["a", "a", "a", "b", "c"]),
            ("a".into(), true)
        );
        assert_eq!(run(&["abab"], &["ab", "ab", "c"]), ("".into(), true));
        assert_eq!(run(&["abab"], &["aba", "cab", "ab"]), ("abac".into(), true));
        assert_eq!(run(&["abab"], &["aba", "c"]), ("abac".into(), false));
    }

    #[test]
    fn multiple_stops_earliest_start_wins() {
        assert_eq!(
            run(&["END", "x"], &["ab", "cEN", "Dx"]),
            ("abc".into(), true)
        );
        assert_eq!(
            run(&["world", "lo"], &["hello world"]),
            ("hel".into(), true)
        );
        // Both complete in the same piece; "cd" starts first.
        assert_eq!(run(&["def", "cd"], &["ab", "cdefg"]), ("ab".into(), true));
        // Held for one stop while another completes later in the stream.
        assert_eq!(
            run(&["\n\n", "###"], &["a\n", "#", "##"]),
            ("a\n".into(), true)
        );
    }

    #[test]
    fn stop_at_the_very_start() {
        assert_eq!(run(&["Hi"], &["Hi there"]), ("".into(), true));
        assert_eq!(run(&["Hi"], &["H", "i", " there"]), ("".into(), true));
    }

    #[test]
    fn after_stop_nothing_more_is_emitted() {
        let mut m = StopMatcher::new(["."]);
        assert_eq!(
            m.push("a. b"),
            StopOutcome::Stop {
                emit_before: "a".into()
            }
        );
        assert!(m.is_stopped());
        assert_eq!(
            m.push("more"),
            StopOutcome::Stop {
                emit_before: String::new()
            }
        );
        assert_eq!(m.finish(), "");
    }

    #[test]
    fn no_stops_passes_everything_through() {
        let mut m = StopMatcher::new(Vec::<String>::new());
        assert_eq!(m.push("abc"), StopOutcome::Emit("abc".into()));
        let mut m = StopMatcher::new([""]);
        assert_eq!(m.push("abc"), StopOutcome::Emit("abc".into()));
    }

    #[test]
    fn multibyte_text_and_stops() {
        assert_eq!(run(&["é!"], &["caf", "é", "!", "x"]), ("caf".into(), true));
        // A stop sharing a first byte with the text must not split a character.
        let mut m = StopMatcher::new(["ép"]);
        assert_eq!(m.push("aè"), StopOutcome::Emit("aè".into()));
        assert_eq!(m.push("é"), StopOutcome::Emit(String::new()));
        assert_eq!(m.push("q"), StopOutcome::Emit("éq".into()));
        assert_eq!(
            run(&["日本"], &["こんにちは日", "本語"]),
            ("こんにちは".into(), true)
        );
    }

    #[test]
    fn emitted_text_concatenates_to_input_without_stop() {
        // Property: without a stop hit, emitted + finish == all input, for awkward splits.
        let text = "the cat sat on the mat, the end";
        for cut in 1..text.len() {
            let (a, b) = text.split_at(cut);
            let (out, stopped) = run(&["the ends", "mat!", "cat sat on the rug"], &[a, b]);
            assert!(!stopped);
            assert_eq!(out, text);
        }
    }

    #[test]
    fn end_conditions() {
        let e = EndConditions::new([2, 128009, 2], 3);
        assert!(e.is_eog(2) && e.is_eog(128009) && !e.is_eog(3));
        assert_eq!(e.check(5, 1), None);
        assert_eq!(e.check(5, 3), Some(Finish::Length));
        assert_eq!(e.check(2, 3), Some(Finish::Stop));
        assert_eq!(e.check(128009, 1), Some(Finish::Stop));
        assert!(EndConditions::new([], 0).budget_spent(0));
        assert_eq!(Finish::Length.as_str(), "length");
        assert_eq!(Finish::Stop.as_str(), "stop");
    }
}
