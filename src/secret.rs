//! Secrets (the Authorization token, the MD5 key, the GatePay secret) in a type that cannot
//! leak through `Debug`, `Display` or serialisation.

use std::fmt;

/// A credential. Its text is reachable only through [`Secret::expose`], so every place that
/// uses it is easy to find; printing it in any form shows `***`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Also hands the text to the operations log's writer, which masks it should it ever
    /// appear in a line.
    pub fn new(text: impl Into<String>) -> Secret {
        let text = text.into();
        crate::logging::register_secret(&text);
        Secret(text)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        // Best effort: overwrite the buffer before it is freed.
        let mut bytes = std::mem::take(&mut self.0).into_bytes();
        bytes.fill(0);
        std::hint::black_box(&bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_prints_its_text() {
        let s = Secret::new("2I9Q4nExEddsH6zo");
        assert_eq!(format!("{s:?}"), "***");
        assert_eq!(format!("{s}"), "***");
        assert_eq!(format!("{:?}", Some(&s)), "Some(***)");
        assert_eq!(s.expose(), "2I9Q4nExEddsH6zo");
    }
}
