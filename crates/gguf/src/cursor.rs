//! Bounds-checked little-endian reads over a byte slice.

use crate::GgufError;

/// Longest string we accept for a metadata key or tensor name.
const MAX_NAME_LEN: u64 = 1 << 16;

pub(crate) struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Cursor { buf, pos: 0 }
    }

    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    pub(crate) fn offset(&self) -> u64 {
        self.pos as u64
    }

    pub(crate) fn remaining(&self) -> u64 {
        self.buf.len().saturating_sub(self.pos) as u64
    }

    pub(crate) fn malformed(&self, what: impl Into<String>) -> GgufError {
        GgufError::Malformed {
            what: what.into(),
            offset: self.offset(),
        }
    }

    pub(crate) fn take(
        &mut self,
        n: u64,
        what: &dyn Fn() -> String,
    ) -> Result<&'a [u8], GgufError> {
        let truncated = || GgufError::Truncated {
            what: what(),
            offset: self.offset(),
            needed: n,
            available: self.remaining(),
        };
        let n = usize::try_from(n).map_err(|_| truncated())?;
        let end = self.pos.checked_add(n).ok_or_else(truncated)?;
        let s = self.buf.get(self.pos..end).ok_or_else(truncated)?;
        self.pos = end;
        Ok(s)
    }

    fn array<const N: usize>(&mut self, what: &dyn Fn() -> String) -> Result<[u8; N], GgufError> {
        let s = self.take(N as u64, what)?;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }

    pub(crate) fn u8(&mut self, what: &dyn Fn() -> String) -> Result<u8, GgufError> {
        Ok(self.array::<1>(what)?[0])
    }
    pub(crate) fn u16(&mut self, what: &dyn Fn() -> String) -> Result<u16, GgufError> {
        self.array(what).map(u16::from_le_bytes)
    }
    pub(crate) fn u32(&mut self, what: &dyn Fn() -> String) -> Result<u32, GgufError> {
        self.array(what).map(u32::from_le_bytes)
    }
    pub(crate) fn u64(&mut self, what: &dyn Fn() -> String) -> Result<u64, GgufError> {
        self.array(what).map(u64::from_le_bytes)
    }

    /// A length-prefixed (u64) UTF-8 string. Length is checked against the bytes left.
    pub(crate) fn string(&mut self, what: &dyn Fn() -> String) -> Result<String, GgufError> {
        let start = self.offset();
        let len = self.u64(&|| format!("length of {}", what()))?;
        if len > self.remaining() {
            return Err(GgufError::Truncated {
                what: what(),
                offset: self.offset(),
                needed: len,
                available: self.remaining(),
            });
        }
        let bytes = self.take(len, what)?;
        String::from_utf8(bytes.to_vec()).map_err(|e| GgufError::Malformed {
            what: format!("{} is not valid UTF-8 ({e})", what()),
            offset: start,
        })
    }

    /// A key or tensor name: a string with a sanity limit on its length.
    pub(crate) fn name(&mut self, what: &dyn Fn() -> String) -> Result<String, GgufError> {
        let mut peek = Cursor {
            buf: self.buf,
            pos: self.pos,
        };
        let len = peek.u64(&|| format!("length of {}", what()))?;
        if len > MAX_NAME_LEN {
            return Err(self.malformed(format!(
                "{} has absurd length {len} (limit {MAX_NAME_LEN})",
                what()
            )));
        }
        self.string(what)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_bounds() {
        let bytes = [
            1u8, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, b'a',
        ];
        let mut c = Cursor::new(&bytes);
        assert_eq!(c.u32(&|| "a".into()).unwrap(), 1);
        assert_eq!(c.u64(&|| "b".into()).unwrap(), 2);
        let e = c.string(&|| "key".into()).unwrap_err().to_string();
        assert!(e.contains("truncated") && e.contains("key"), "{e}");
    }
}
