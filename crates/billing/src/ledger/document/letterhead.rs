//! Who issues the invoices: the partnership's name, address, VAT registration and the bank
//! account schools pay into, as printed on every invoice and credit note.
//!
//! Each part is a type that can only hold a valid value, checked once when the
//! configuration is read, so a document never prints a sort code a bank would refuse.

use std::fmt;

/// A problem with the partnership's details.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LetterheadError {
    #[error("a VAT registration number is GB followed by 9 or 12 digits, e.g. GB123456789")]
    VatNumber,
    #[error("a sort code is six digits, e.g. 20-00-00")]
    SortCode,
    #[error("an account number is eight digits")]
    AccountNumber,
    #[error("bank details need the account name, sort code and account number together")]
    HalfBank,
    #[error("the address has one to six lines of at most 100 characters")]
    Address,
}

/// A UK VAT registration number: `GB` and 9 digits (or 12 for a branch).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VatNumber(String);

impl VatNumber {
    pub fn parse(text: &str) -> Result<Self, LetterheadError> {
        let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
        let compact = compact.to_uppercase();
        let digits = compact.strip_prefix("GB").unwrap_or(&compact);
        if matches!(digits.len(), 9 | 12) && digits.chars().all(|c| c.is_ascii_digit()) {
            Ok(Self(format!("GB{digits}")))
        } else {
            Err(LetterheadError::VatNumber)
        }
    }
}

impl fmt::Display for VatNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A UK sort code, printed `20-00-00`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SortCode([u8; 6]);

impl SortCode {
    pub fn parse(text: &str) -> Result<Self, LetterheadError> {
        let digits: Vec<u8> = text
            .chars()
            .filter(|c| !matches!(c, '-' | ' '))
            .map(|c| c.to_digit(10).and_then(|d| u8::try_from(d).ok()))
            .collect::<Option<_>>()
            .ok_or(LetterheadError::SortCode)?;
        <[u8; 6]>::try_from(digits)
            .map(Self)
            .map_err(|_| LetterheadError::SortCode)
    }
}

impl fmt::Display for SortCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = self.0;
        write!(f, "{}{}-{}{}-{}{}", d[0], d[1], d[2], d[3], d[4], d[5])
    }
}

/// A UK bank account number: eight digits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountNumber(String);

impl AccountNumber {
    pub fn parse(text: &str) -> Result<Self, LetterheadError> {
        let digits: String = text.chars().filter(|c| *c != ' ').collect();
        if digits.len() == 8 && digits.chars().all(|c| c.is_ascii_digit()) {
            Ok(Self(digits))
        } else {
            Err(LetterheadError::AccountNumber)
        }
    }
}

impl fmt::Display for AccountNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where schools pay by bank transfer (BACS).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BankDetails {
    pub account_name: String,
    pub sort_code: SortCode,
    pub account_number: AccountNumber,
}

/// The partnership as its invoices present it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Letterhead {
    pub name: String,
    /// Street lines, town and postcode; may be empty (an unconfigured demo).
    pub address: Vec<String>,
    /// Printed when the partnership is VAT registered.
    pub vat_number: Option<VatNumber>,
    /// Printed with the reference to quote; without it the invoice says to contact finance.
    pub bank: Option<BankDetails>,
}

impl Letterhead {
    /// A letterhead that is only a name: no address, VAT number or bank details.
    #[must_use]
    pub fn named(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            address: Vec::new(),
            vat_number: None,
            bank: None,
        }
    }

    /// The letterhead from its configured parts: `address` comma-separated
    /// ("Barnet Partnership Centre, 1 High Street, London, N11 3HG"), and the bank's three
    /// parts all set or none.
    pub fn from_parts(
        name: &str,
        address: Option<&str>,
        vat_number: Option<&str>,
        bank: (Option<&str>, Option<&str>, Option<&str>),
    ) -> Result<Self, LetterheadError> {
        let address: Vec<String> = address
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect();
        if address.len() > 6 || address.iter().any(|l| l.chars().count() > 100) {
            return Err(LetterheadError::Address);
        }
        let bank = match bank {
            (None, None, None) => None,
            (Some(name), Some(sort), Some(number)) if !name.trim().is_empty() => {
                Some(BankDetails {
                    account_name: name.trim().to_owned(),
                    sort_code: SortCode::parse(sort)?,
                    account_number: AccountNumber::parse(number)?,
                })
            }
            _ => return Err(LetterheadError::HalfBank),
        };
        Ok(Self {
            name: name.to_owned(),
            address,
            vat_number: vat_number
                .filter(|v| !v.trim().is_empty())
                .map(VatNumber::parse)
                .transpose()?,
            bank,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_are_checked_and_printed_as_banks_print_them() {
        assert_eq!(
            SortCode::parse("200000").map(|s| s.to_string()),
            Ok("20-00-00".into())
        );
        assert_eq!(
            SortCode::parse("20 00 00").map(|s| s.to_string()),
            Ok("20-00-00".into())
        );
        assert_eq!(SortCode::parse("20-00-0"), Err(LetterheadError::SortCode));
        assert_eq!(SortCode::parse("2a-00-00"), Err(LetterheadError::SortCode));
        assert!(AccountNumber::parse("1234 5678").is_ok());
        assert_eq!(
            AccountNumber::parse("1234567"),
            Err(LetterheadError::AccountNumber)
        );
        assert_eq!(
            VatNumber::parse("gb 123 4567 89").map(|v| v.to_string()),
            Ok("GB123456789".into())
        );
        assert_eq!(
            VatNumber::parse("123456789").map(|v| v.to_string()),
            Ok("GB123456789".into())
        );
        assert_eq!(VatNumber::parse("GB12345"), Err(LetterheadError::VatNumber));
        let head = Letterhead::from_parts(
            "Barnet Partnership",
            Some("1 High Street, London, N11 3HG"),
            None,
            (
                Some("Barnet Partnership"),
                Some("20-00-00"),
                Some("12345678"),
            ),
        )
        .expect("letterhead");
        assert_eq!(head.address, ["1 High Street", "London", "N11 3HG"]);
        assert_eq!(
            Letterhead::from_parts("P", None, None, (Some("P"), None, None)),
            Err(LetterheadError::HalfBank)
        );
    }
}
