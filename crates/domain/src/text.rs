//! Shared checks for text values, and the JSON Schema patterns that describe them.

use crate::Invalid;

/// JSON Schema pattern of "not blank": at least one character that is neither white
/// space nor a control character.
pub const NOT_BLANK_PATTERN: &str = r"[^\s\u0000-\u001F\u007F-\u009F]";

/// JSON Schema pattern of a single-line, non-blank value.
pub const SINGLE_LINE_PATTERN: &str = r"^[^\u0000-\u001F\u007F-\u009F]*[^\s\u0000-\u001F\u007F-\u009F][^\u0000-\u001F\u007F-\u009F]*$";

/// JSON Schema pattern of a multi-line, non-blank value: no NUL character anywhere
/// (PostgreSQL cannot store one in text), and at least one character that is neither
/// white space nor a control character.
pub const MULTI_LINE_PATTERN: &str = r"^[^\u0000]*[^\s\u0000-\u001F\u007F-\u009F][^\u0000]*$";

/// JSON Schema pattern of text that may be blank but holds no NUL character.
pub const NO_NUL_PATTERN: &str = r"^[^\u0000]*$";

/// Fails when `raw` holds a NUL character, which no text column can store.
pub(crate) fn no_nul(raw: &str) -> Result<(), Invalid> {
    if raw.contains('\0') {
        Err(Invalid::Format {
            expected: "text without NUL (U+0000) characters",
        })
    } else {
        Ok(())
    }
}

/// True when `raw` has nothing but white space and control characters.
pub fn is_blank(raw: &str) -> bool {
    raw.chars().all(|c| c.is_whitespace() || c.is_control())
}

/// A single-line value: not blank, at most `max` characters as sent, no control
/// characters. Returned trimmed. Lengths count the text as sent, so that the documented
/// `maxLength` is exactly the rule.
pub(crate) fn single_line(raw: &str, max: usize) -> Result<String, Invalid> {
    let text = multi_line(raw, max)?;
    if text.chars().any(char::is_control) {
        return Err(Invalid::Format {
            expected: "one line of text without control characters",
        });
    }
    Ok(text.trim().to_owned())
}

/// A multi-line value: not blank and at most `max` characters; kept as sent.
pub(crate) fn multi_line(raw: &str, max: usize) -> Result<String, Invalid> {
    if is_blank(raw) {
        return Err(Invalid::Blank);
    }
    at_most(raw, max)?;
    no_nul(raw)?;
    Ok(raw.to_owned())
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
