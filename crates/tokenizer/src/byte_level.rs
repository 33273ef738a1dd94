//! GPT-2's reversible byte ↔ character mapping used by byte-level BPE vocabularies.
//!
//! Printable bytes (`!`..=`~`, `¡`..=`¬`, `®`..=`ÿ`) stand for themselves; the other 68 bytes
//! are given the characters U+0100, U+0101, … in byte order.

/// Whether `b` is one of the bytes that map to the character with the same number.
const fn is_printable(b: u8) -> bool {
    matches!(b, 0x21..=0x7E | 0xA1..=0xAC | 0xAE..=0xFF)
}

const fn build_byte_to_char() -> [char; 256] {
    let mut table = ['\0'; 256];
    let mut next = 0x100u32;
    let mut b = 0usize;
    while b < 256 {
        let byte = b as u8;
        let cp = if is_printable(byte) {
            b as u32
        } else {
            let cp = next;
            next += 1;
            cp
        };
        table[b] = match char::from_u32(cp) {
            Some(c) => c,
            None => '\0',
        };
        b += 1;
    }
    table
}

/// Byte → its stand-in character.
static BYTE_TO_CHAR: [char; 256] = build_byte_to_char();

/// The non-printable bytes in order: `SHIFTED[i]` is the byte mapped to U+0100 + i.
const fn build_shifted() -> [u8; 68] {
    let mut out = [0u8; 68];
    let mut n = 0usize;
    let mut b = 0usize;
    while b < 256 {
        if !is_printable(b as u8) && n < 68 {
            out[n] = b as u8;
            n += 1;
        }
        b += 1;
    }
    out
}

static SHIFTED: [u8; 68] = build_shifted();

/// The stand-in character for a byte.
pub(crate) fn byte_to_char(b: u8) -> char {
    BYTE_TO_CHAR[usize::from(b)]
}

/// The byte a stand-in character encodes, if it is one.
pub(crate) fn char_to_byte(c: char) -> Option<u8> {
    let cp = u32::from(c);
    if let Ok(b) = u8::try_from(cp) {
        return is_printable(b).then_some(b);
    }
    let idx = usize::try_from(cp.checked_sub(0x100)?).ok()?;
    SHIFTED.get(idx).copied()
}

/// Appends the byte-level encoding of `text` to `out`.
pub(crate) fn encode_into(text: &str, out: &mut String) {
    out.reserve(text.len() * 2);
    for &b in text.as_bytes() {
        out.push(byte_to_char(b));
    }
}

/// Decodes a byte-level token text as llama.cpp's `llama_decode_text` does: characters that
/// are not stand-ins are written as `[UNK_BYTE_0x…]` markers.
pub(crate) fn decode_token_text(text: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    for c in text.chars() {
        match char_to_byte(c) {
            Some(b) => out.push(b),
            None => {
                out.extend_from_slice(b"[UNK_BYTE_0x");
                let mut buf = [0u8; 4];
                for b in c.encode_utf8(&mut buf).bytes() {
                    out.extend_from_slice(format!("{b:02x}").as_bytes());
                }
                out.extend_from_slice(text.as_bytes());
                out.push(b']');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mapping_is_a_bijection() {
        let mut seen = std::collections::HashSet::new();
        for b in 0..=255u8 {
            let c = byte_to_char(b);
            assert!(seen.insert(c), "byte {b} maps to a used char {c:?}");
            assert_eq!(char_to_byte(c), Some(b));
        }
        assert_eq!(byte_to_char(b' '), 'Ġ');
        assert_eq!(byte_to_char(b'\n'), 'Ċ');
        assert_eq!(byte_to_char(b'A'), 'A');
        assert_eq!(char_to_byte('a'), Some(b'a'));
        assert_eq!(char_to_byte('\u{AD}'), None);
        assert_eq!(char_to_byte('中'), None);
    }

    #[test]
    fn decode_marks_unknown_chars() {
        assert_eq!(decode_token_text("ĠHi"), b" Hi".to_vec());
        let out = String::from_utf8(decode_token_text("A中")).unwrap();
        assert_eq!(out, "A[UNK_BYTE_0xe4b8adA中]");
    }
}
