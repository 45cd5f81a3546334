//! Shared checks for text values.

use crate::Invalid;

/// Trims `raw` and checks it is non-blank and at most `max` characters long.
pub(crate) fn required_trimmed(raw: &str, max: usize) -> Result<String, Invalid> {
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return Err(Invalid::Blank);
    }
    at_most(trimmed, max)?;
    Ok(trimmed.to_owned())
}

/// Trims `raw`; empty becomes `None` (the contract normalises `""` to `null`).
pub(crate) fn optional_trimmed(raw: &str, max: usize) -> Result<Option<String>, Invalid> {
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return Ok(None);
    }
    at_most(trimmed, max)?;
    Ok(Some(trimmed.to_owned()))
}

/// Fails when `text` has more than `max` characters (not bytes).
pub(crate) fn at_most(text: &str, max: usize) -> Result<(), Invalid> {
    if text.chars().count() > max {
        Err(Invalid::TooLong { max })
    } else {
        Ok(())
    }
}

/// Declares a newtype over `String` with `as_str`, `into_inner`, `Display` and `AsRef<str>`.
macro_rules! string_value {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub struct $name(String);

        impl $name {
            /// The value as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// The value as an owned `String`.
            pub fn into_inner(self) -> String {
                self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

pub(crate) use string_value;
