//! An incremental server-sent-events parser (the WHATWG event-stream format).
//!
//! Bytes may arrive split anywhere: inside a line, between `\r` and `\n`,
//! inside a UTF-8 sequence. Lines end with LF, CRLF or CR. Comment lines
//! (`:`), `event:`, `id:` and `retry:` fields are understood; several `data:`
//! lines form one event joined by `\n`. A leading UTF-8 BOM is skipped.

/// One dispatched event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    /// The `event:` field, if any (`None` means the default, `message`).
    pub event: Option<String>,
    pub data: String,
}

/// The stream broke the parser's limits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SseError {
    #[error("an upstream SSE event is larger than {limit} bytes")]
    EventTooLarge { limit: usize },
}

/// Incremental parser: feed bytes with [`SseParser::push`], end with [`SseParser::finish`].
#[derive(Debug)]
pub struct SseParser {
    line: Vec<u8>,
    data: String,
    has_data: bool,
    event: Option<String>,
    /// The last byte seen was a `\r` that ended a line; a following `\n` belongs to it.
    skip_lf: bool,
    /// No line has been completed yet (for BOM stripping).
    at_start: bool,
    limit: usize,
}

/// Default limit for one event (line or joined data): 16 MiB.
pub const DEFAULT_EVENT_LIMIT: usize = 16 << 20;

impl Default for SseParser {
    fn default() -> Self {
        Self::with_limit(DEFAULT_EVENT_LIMIT)
    }
}

impl SseParser {
    pub fn new() -> Self {
        Self::default()
    }

    /// A parser refusing events larger than `limit` bytes.
    pub fn with_limit(limit: usize) -> Self {
        SseParser {
            line: Vec::new(),
            data: String::new(),
            has_data: false,
            event: None,
            skip_lf: false,
            at_start: true,
            limit,
        }
    }

    /// Feeds bytes; complete events are appended to `out`.
    pub fn push(&mut self, mut bytes: &[u8], out: &mut Vec<SseEvent>) -> Result<(), SseError> {
        if self.skip_lf && !bytes.is_empty() {
            self.skip_lf = false;
            if let Some(rest) = bytes.strip_prefix(b"\n") {
                bytes = rest;
            }
        }
        while let Some(i) = bytes.iter().position(|&b| b == b'\n' || b == b'\r') {
            let (line, rest) = bytes.split_at(i);
            self.line.extend_from_slice(line);
            let was_cr = rest.first() == Some(&b'\r');
            bytes = rest.get(1..).unwrap_or_default();
            self.end_line(out)?;
            if was_cr {
                if bytes.is_empty() {
                    self.skip_lf = true;
                } else if let Some(rest) = bytes.strip_prefix(b"\n") {
                    bytes = rest;
                }
            }
        }
        self.line.extend_from_slice(bytes);
        if self.line.len() > self.limit {
            return Err(SseError::EventTooLarge { limit: self.limit });
        }
        Ok(())
    }

    /// The stream ended: a last unterminated line and pending data are
    /// dispatched (leniently; the format would discard them).
    pub fn finish(&mut self, out: &mut Vec<SseEvent>) -> Result<(), SseError> {
        if !self.line.is_empty() {
            self.end_line(out)?;
        }
        self.dispatch(out);
        Ok(())
    }

    fn end_line(&mut self, out: &mut Vec<SseEvent>) -> Result<(), SseError> {
        let mut line = std::mem::take(&mut self.line);
        if self.at_start {
            self.at_start = false;
            if line.starts_with(b"\xEF\xBB\xBF") {
                line.drain(..3);
            }
        }
        if line.is_empty() {
            self.dispatch(out);
        } else if line.first() != Some(&b':') {
            let text = String::from_utf8_lossy(&line);
            let (field, value) = match text.split_once(':') {
                Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
                None => (text.as_ref(), ""),
            };
            match field {
                "data" => {
                    if self.has_data {
                        self.data.push('\n');
                    }
                    self.data.push_str(value);
                    self.has_data = true;
                    if self.data.len() > self.limit {
                        return Err(SseError::EventTooLarge { limit: self.limit });
                    }
                }
                "event" => self.event = Some(value.to_owned()),
                // `id`, `retry` and unknown fields do not matter to us.
                _ => {}
            }
        }
        // Reuse the allocation for the next line.
        line.clear();
        self.line = line;
        Ok(())
    }

    fn dispatch(&mut self, out: &mut Vec<SseEvent>) {
        let event = self.event.take();
        if self.has_data {
            self.has_data = false;
            out.push(SseEvent {
                event,
                data: std::mem::take(&mut self.data),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_all(pieces: &[&[u8]]) -> Vec<SseEvent> {
        let mut p = SseParser::new();
        let mut out = Vec::new();
        for piece in pieces {
            p.push(piece, &mut out).unwrap();
        }
        p.finish(&mut out).unwrap();
        out
    }

    fn ev(event: Option<&str>, data: &str) -> SseEvent {
        SseEvent {
            event: event.map(str::to_owned),
            data: data.to_owned(),
        }
    }

    /// Exercises every feature: BOM, comments, CRLF, lone CR, multi-line data,
    /// `data:` without a space, `event:`/`id:`/`retry:` lines, non-ASCII text,
    /// an empty data line, and an event without a final blank line.
    const RICH: &[u8] = "\u{feff}: comment\r\n\r\nevent: message\r\nid: 7\r\ndata: {\"a\":\r\ndata:1}\r\n\r\nretry: 10\ndata: héllo wörld ✓\n\ndata: x\rdata: y\r\rdata\n\n: only a comment\n\nevent: error\ndata: {\"error\":{}}\n\ndata: [DONE]"
        .as_bytes();

    fn rich_expected() -> Vec<SseEvent> {
        vec![
            ev(Some("message"), "{\"a\":\n1}"),
            ev(None, "héllo wörld ✓"),
            ev(None, "x\ny"),
            ev(None, ""),
            ev(Some("error"), "{\"error\":{}}"),
            ev(None, "[DONE]"),
        ]
    }

    #[test]
    fn parses_all_features_in_one_piece() {
        assert_eq!(parse_all(&[RICH]), rich_expected());
    }

    #[test]
    fn any_single_split_point_gives_the_same_events() {
        for i in 0..=RICH.len() {
            let (a, b) = RICH.split_at(i);
            assert_eq!(parse_all(&[a, b]), rich_expected(), "split at {i}");
        }
    }

    #[test]
    fn any_two_split_points_give_the_same_events() {
        for i in 0..=RICH.len() {
            for j in i..=RICH.len() {
                let pieces = [&RICH[..i], &RICH[i..j], &RICH[j..]];
                assert_eq!(parse_all(&pieces), rich_expected(), "split at {i},{j}");
            }
        }
    }

    #[test]
    fn byte_by_byte() {
        let pieces: Vec<&[u8]> = RICH.chunks(1).collect();
        assert_eq!(parse_all(&pieces), rich_expected());
    }

    #[test]
    fn crlf_split_between_cr_and_lf_is_one_line_end() {
        // If the LF after a CR were taken as a second line end, the blank line
        // would dispatch "a" early and "b" would become a separate event.
        let out = parse_all(&[b"data: a\r", b"\ndata: b\r\n\r\n"]);
        assert_eq!(out, vec![ev(None, "a\nb")]);
    }

    #[test]
    fn event_field_without_data_is_not_dispatched() {
        assert_eq!(parse_all(&[b"event: ping\n\n"]), vec![]);
    }

    #[test]
    fn oversized_lines_are_refused() {
        let mut p = SseParser::with_limit(16);
        let mut out = Vec::new();
        let err = p.push(&[b'a'; 17], &mut out).unwrap_err();
        assert_eq!(err, SseError::EventTooLarge { limit: 16 });
        let mut p = SseParser::with_limit(16);
        let err = p
            .push(b"data: 0123456789\ndata: 0123456789\n", &mut out)
            .unwrap_err();
        assert_eq!(err, SseError::EventTooLarge { limit: 16 });
    }
}
