//! The scalars a client writes as text: `Date` (`kernel::dates::parse_iso`), `Decimal`
//! (`kernel::money::is_decimal`) and `AcademicYear` (`kernel::AcademicYear`'s `FromStr`).
//!
//! Contract: any text is taken or refused, never a panic; a date taken is written back as
//! the same text; a decimal taken is digits with at most one `-` in front and one `.`; an
//! academic year taken is written back as the text it was read from (trimmed); and every
//! amount `Money::decimal` writes is a decimal the scalar takes.
#![no_main]

use kernel::AcademicYear;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if data.len() >= 8 {
        let pence = i64::from_le_bytes(data[..8].try_into().expect("8 bytes"));
        let written = kernel::Money::from_pence(pence).decimal();
        assert!(kernel::money::is_decimal(&written), "{written}");
    }
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Some(date) = kernel::dates::parse_iso(text) {
        assert_eq!(date.format("%Y-%m-%d").to_string(), text);
    }
    if kernel::money::is_decimal(text) {
        let unsigned = text.strip_prefix('-').unwrap_or(text);
        assert!(unsigned.bytes().all(|b| b.is_ascii_digit() || b == b'.'));
        assert!(unsigned.bytes().filter(|b| *b == b'.').count() <= 1);
        assert!(unsigned.starts_with(|c: char| c.is_ascii_digit()));
        assert!(unsigned.ends_with(|c: char| c.is_ascii_digit()));
    }
    if let Ok(year) = text.parse::<AcademicYear>() {
        assert_eq!(year.to_string(), text.trim(), "{text:?}");
        assert_eq!(year.to_string().parse::<AcademicYear>().ok(), Some(year));
    }
});
