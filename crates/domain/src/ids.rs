//! Identifiers of stored entities. They are assigned by storage and never parsed from
//! untrusted text except where a route carries one (comment ids).

use std::fmt;

macro_rules! id_type {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(pub i64);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

id_type!(
    /// A registered user.
    UserId
);
id_type!(
    /// An article. Clients never see it: they address articles by slug.
    ArticleId
);
id_type!(
    /// A comment; the contract exposes it as an integer.
    CommentId
);
