//! Closed sets of names stored as SCREAMING_SNAKE_CASE text.
//!
//! Statuses, kinds and methods are stored as text rather than integers so a database row
//! reads the same as the API and the logs; one macro gives every such enum the same
//! spelling rules, parsing and display, so the database, the domain and the API agree.

use std::str::FromStr;

use crate::DomainError;

/// A stored row that this build cannot read back: written by hand or by a newer release.
#[derive(Debug, thiserror::Error)]
#[error("corrupt row: {0}")]
pub struct CorruptRow(pub String);

/// Parses a stored name, treating an unknown one as corruption (ours, not the caller's):
/// the database said it, so the caller cannot fix it and gets an internal error.
///
/// # Errors
/// `DomainError::Internal` naming `what` and the raw value.
pub fn stored<T: FromStr>(what: &str, raw: &str) -> Result<T, DomainError> {
    raw.parse()
        .map_err(|_| DomainError::internal(CorruptRow(format!("{what} `{raw}`"))))
}

/// A stored value this build does not recognise: the database was written by a newer
/// release, or edited by hand.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind} `{value}`")]
pub struct UnknownValue {
    pub kind: &'static str,
    pub value: String,
}

/// Declares an enum whose variants are stored and serialised as the given texts, with
/// `ALL`, `as_str`, `Display` and `FromStr` (failing with [`UnknownValue`]).
///
/// ```
/// kernel::named_enum!(
///     /// How a receipt arrived.
///     Method { Bacs => "BACS", Card => "CARD" }
/// );
/// assert_eq!(Method::Bacs.as_str(), "BACS");
/// assert_eq!("CARD".parse::<Method>(), Ok(Method::Card));
/// assert!("card".parse::<Method>().is_err());
/// ```
#[macro_export]
macro_rules! named_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, ::serde::Serialize, ::serde::Deserialize)]
        pub enum $name {
            $($(#[$vmeta])* #[serde(rename = $text)] $variant),+
        }

        impl $name {
            pub const ALL: &'static [Self] = &[$(Self::$variant),+];

            #[must_use]
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $text),+
                }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = $crate::UnknownValue;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::ALL
                    .iter()
                    .copied()
                    .find(|v| v.as_str() == s)
                    .ok_or_else(|| $crate::UnknownValue { kind: stringify!($name), value: s.to_owned() })
            }
        }
    };
}
