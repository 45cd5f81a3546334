//! A change to an optional field: keep it, clear it, or set it.

/// What a change does to an optional field (an account's bio, say). Unlike a nested
/// `Option`, each case is named: [`Patch::Keep`] leaves the field as it is,
/// [`Patch::Clear`] empties it and [`Patch::Set`] gives it a value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Patch<T> {
    /// Leave the field as it is.
    #[default]
    Keep,
    /// Empty the field.
    Clear,
    /// Give the field this value.
    Set(T),
}

impl<T> Patch<T> {
    /// True for [`Patch::Keep`]: the field does not change.
    pub fn is_keep(&self) -> bool {
        matches!(self, Self::Keep)
    }

    /// The same change, of `f`'s value.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Patch<U> {
        match self {
            Self::Keep => Patch::Keep,
            Self::Clear => Patch::Clear,
            Self::Set(value) => Patch::Set(f(value)),
        }
    }

    /// Applies the change to `field`.
    pub fn apply_to(self, field: &mut Option<T>) {
        match self {
            Self::Keep => {}
            Self::Clear => *field = None,
            Self::Set(value) => *field = Some(value),
        }
    }
}

/// A value that may be "none" (a blank bio, say) as a change: `Some` sets it, `None`
/// clears the field.
impl<T> From<Option<T>> for Patch<T> {
    fn from(value: Option<T>) -> Self {
        value.map_or(Self::Clear, Self::Set)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_change_applies_as_named() {
        let mut field = Some("old");
        Patch::Keep.apply_to(&mut field);
        assert_eq!(field, Some("old"));
        Patch::Set("new").apply_to(&mut field);
        assert_eq!(field, Some("new"));
        Patch::Clear.apply_to(&mut field);
        assert_eq!(field, None);
    }

    #[test]
    fn a_none_value_clears_and_map_keeps_the_case() {
        assert_eq!(Patch::from(None::<u8>), Patch::Clear);
        assert_eq!(Patch::from(Some(2)).map(|n| n * 2), Patch::Set(4));
        assert_eq!(Patch::<u8>::Keep.map(|n| n * 2), Patch::Keep);
        assert!(Patch::<u8>::default().is_keep());
    }
}
