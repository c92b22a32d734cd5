//! A lexical pre-scan of a GraphQL document, run before the parser sees it.
//!
//! async-graphql's parser recurses once per nested value or selection, so a document of a
//! thousand nested `[` overflows a worker thread's stack and aborts the whole process. The
//! scan walks the text once, without recursion, and refuses a document whose brackets nest
//! deeper than any real query needs before the parser is called. While it walks it also
//! notices NUL characters in string values, which PostgreSQL cannot store in `text`.

/// What the scan refuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScanError {
    /// `{`, `[` and `(` nest deeper than the limit.
    TooNested { limit: usize },
    /// A string contains a NUL character, literally or as `\u0000` / `\u{0}`.
    Nul,
}

/// Scans `query`, refusing nesting deeper than `max_nesting` and NUL characters.
///
/// Brackets inside strings, block strings and comments do not count. The scan stops at the
/// first problem; a document it passes may still be malformed, which the parser reports.
pub fn scan(query: &str, max_nesting: usize) -> Result<(), ScanError> {
    let bytes = query.as_bytes();
    let mut depth = 0usize;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            0 => return Err(ScanError::Nul),
            b'#' => {
                while i < bytes.len() && bytes[i] != b'\n' && bytes[i] != b'\r' {
                    i += 1;
                }
            }
            b'"' if bytes[i..].starts_with(b"\"\"\"") => i = block_string_end(bytes, i + 3)?,
            b'"' => i = string_end(bytes, i + 1)?,
            b'{' | b'[' | b'(' => {
                depth += 1;
                if depth > max_nesting {
                    return Err(ScanError::TooNested { limit: max_nesting });
                }
            }
            b'}' | b']' | b')' => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    Ok(())
}

/// The index of the closing quote of a string whose body starts at `i` (or the end of the
/// text when it is unterminated, which the parser reports).
fn string_end(bytes: &[u8], mut i: usize) -> Result<usize, ScanError> {
    while i < bytes.len() {
        match bytes[i] {
            b'"' | b'\n' | b'\r' => return Ok(i),
            0 => return Err(ScanError::Nul),
            b'\\' if bytes.get(i + 1) == Some(&b'u') => {
                if escapes_nul(&bytes[i + 2..]) {
                    return Err(ScanError::Nul);
                }
                i += 2;
            }
            b'\\' => i += 2,
            _ => i += 1,
        }
    }
    Ok(i)
}

/// Whether the text after `\u` spells code point zero: `0000` or `{0…0}`.
///
/// Only the hex digits after `{` are looked at: reading on to the next `}` would read the
/// rest of the document for every `\u{` in it, quadratic time for a megabyte of them.
fn escapes_nul(rest: &[u8]) -> bool {
    if let Some(braced) = rest.strip_prefix(b"{") {
        let digits = braced.iter().take_while(|b| b.is_ascii_hexdigit()).count();
        digits > 0
            && braced.get(digits) == Some(&b'}')
            && braced[..digits].iter().all(|d| *d == b'0')
    } else {
        rest.len() >= 4 && rest[..4].iter().all(|d| *d == b'0')
    }
}

/// The index of the last quote of a block string whose body starts at `i`.
fn block_string_end(bytes: &[u8], mut i: usize) -> Result<usize, ScanError> {
    while i < bytes.len() {
        if bytes[i] == 0 {
            return Err(ScanError::Nul);
        }
        if bytes[i..].starts_with(b"\\\"\"\"") {
            i += 4;
        } else if bytes[i..].starts_with(b"\"\"\"") {
            return Ok(i + 2);
        } else {
            i += 1;
        }
    }
    Ok(i)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nested(open: &str, close: &str, n: usize) -> String {
        format!(
            "{{ school(urn: {}1{}) {{ name }} }}",
            open.repeat(n),
            close.repeat(n)
        )
    }

    #[test]
    fn counts_every_kind_of_bracket() {
        assert_eq!(scan(&nested("[", "]", 10), 64), Ok(()));
        assert_eq!(
            scan(&nested("[", "]", 1_500), 64),
            Err(ScanError::TooNested { limit: 64 })
        );
        assert_eq!(
            scan(&nested("{a: ", "}", 2_000), 64),
            Err(ScanError::TooNested { limit: 64 })
        );
        let selections = format!("{}{}", "{ a ".repeat(100), "}".repeat(100));
        assert_eq!(
            scan(&selections, 64),
            Err(ScanError::TooNested { limit: 64 })
        );
    }

    #[test]
    fn brackets_in_strings_and_comments_do_not_count() {
        let deep = "[".repeat(1_000);
        assert_eq!(scan(&format!("{{ a(s: \"{deep}\") }}"), 8), Ok(()));
        assert_eq!(scan(&format!("{{ a(s: \"\"\"{deep}\"\"\") }}"), 8), Ok(()));
        assert_eq!(scan(&format!("# {deep}\n{{ a }}"), 8), Ok(()));
        assert_eq!(scan(&format!("{{ a(s: \"\\\"{deep}\") }}"), 8), Ok(()));
        assert_eq!(
            scan(&format!("{{ a(s: \"\"\"\\\"\"\"{deep}\"\"\") }}"), 8),
            Ok(())
        );
    }

    #[test]
    fn finds_nul_characters() {
        assert_eq!(scan("{ a(s: \"a\\u0000b\") }", 8), Err(ScanError::Nul));
        assert_eq!(scan("{ a(s: \"a\\u{0}b\") }", 8), Err(ScanError::Nul));
        assert_eq!(scan("{ a(s: \"a\\u{000}b\") }", 8), Err(ScanError::Nul));
        assert_eq!(scan("{ a(s: \"a\0b\") }", 8), Err(ScanError::Nul));
        assert_eq!(scan("{ a(s: \"\"\"a\0b\"\"\") }", 8), Err(ScanError::Nul));
        assert_eq!(scan("{ a(s: \"a\\u0041\\u{10}b\") }", 8), Ok(()));
        assert_eq!(scan("{ a(s: \"\\\\u0000\") }", 8), Ok(()));
    }

    #[test]
    fn unterminated_braced_escapes_take_linear_time() {
        // Each `\u{` used to read on to the next `}`: the whole rest of this document, so
        // 200,000 of them (600 KB, under the 1 MiB body limit) were ~6·10^10 steps.
        let doc = format!("{{ a(s: \"{}\") }}", "\\u{".repeat(200_000));
        let started = std::time::Instant::now();
        assert_eq!(scan(&doc, 8), Ok(()));
        assert!(
            started.elapsed() < std::time::Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
        assert_eq!(scan("{ a(s: \"\\u{0 }\") }", 8), Ok(()));
        assert_eq!(scan("{ a(s: \"\\u{00x}\") }", 8), Ok(()));
    }

    #[test]
    fn never_panics_on_truncated_text() {
        for text in [
            "\"", "\"\\", "\"\\u", "\"\\u{", "\"\"\"", "\"\"\"\\", "#", "{", "}}}",
        ] {
            let _ = scan(text, 8);
        }
    }
}
