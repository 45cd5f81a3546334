//! The one place where database errors become [`StoreError`]s.

use conduit_domain::{StoreError, UniqueField};
use sea_orm::{DbErr, RuntimeErr, sqlx};

/// Unique indexes whose violation a caller can act on. PostgreSQL names the index; SQLite
/// says "UNIQUE constraint failed: index 'name'" for expression indexes and
/// "UNIQUE constraint failed: table.column" for plain ones, so both spellings are listed.
const UNIQUE_FIELDS: [(&str, UniqueField); 4] = [
    ("users_email_lower_key", UniqueField::Email),
    ("users_username_lower_key", UniqueField::Username),
    ("articles_slug_key", UniqueField::Slug),
    ("articles.slug", UniqueField::Slug),
];

/// Classifies a database error: a known unique violation becomes `Duplicate`, a failure
/// to reach or keep talking to the database becomes `Unavailable`, anything else is
/// `Unexpected`.
pub(crate) fn store_error(err: DbErr) -> StoreError {
    match classify(&err) {
        Kind::Duplicate(field) => StoreError::Duplicate(field),
        Kind::Unavailable => StoreError::Unavailable(Box::new(err)),
        Kind::Unexpected => StoreError::Unexpected(Box::new(err)),
    }
}

enum Kind {
    Duplicate(UniqueField),
    Unavailable,
    Unexpected,
}

fn classify(err: &DbErr) -> Kind {
    let sqlx_err = match err {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => return Kind::Unavailable,
        DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e)) => &**e,
        _ => return Kind::Unexpected,
    };
    match sqlx_err {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => Kind::Unavailable,
        sqlx::Error::Database(db) => {
            if db.is_unique_violation() {
                let name = db.constraint().unwrap_or_else(|| db.message());
                return UNIQUE_FIELDS
                    .iter()
                    .find(|(key, _)| name.contains(key))
                    .map_or(Kind::Unexpected, |(_, field)| Kind::Duplicate(*field));
            }
            let sqlite = db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some();
            match db.code() {
                Some(code) if transient_code(&code, sqlite) => Kind::Unavailable,
                _ => Kind::Unexpected,
            }
        }
        _ => Kind::Unexpected,
    }
}

/// Error codes that say "the database is there but cannot serve you right now":
/// PostgreSQL's connection exceptions (class 08), shutdowns and connection limits, and
/// SQLite's BUSY and LOCKED families (whose extended codes keep the primary code in the
/// low byte).
///
/// The two families must not be mixed: a PostgreSQL SQLSTATE can be all digits (22021,
/// "invalid byte sequence", has 5 in its low byte), and read as an SQLite code it would
/// pass for BUSY.
fn transient_code(code: &str, sqlite: bool) -> bool {
    if sqlite {
        return code
            .parse::<u32>()
            .is_ok_and(|extended| matches!(extended & 0xff, 5 | 6));
    }
    code.starts_with("08") || matches!(code, "57P01" | "57P02" | "57P03" | "53300")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_failures_are_unavailable() {
        let err = store_error(DbErr::ConnectionAcquire(sea_orm::ConnAcquireErr::Timeout));
        assert!(matches!(err, StoreError::Unavailable(_)));
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset");
        let err = store_error(DbErr::Query(RuntimeErr::SqlxError(
            sqlx::Error::Io(io).into(),
        )));
        assert!(matches!(err, StoreError::Unavailable(_)));
    }

    #[test]
    fn other_failures_are_unexpected() {
        let err = store_error(DbErr::Query(RuntimeErr::SqlxError(
            sqlx::Error::RowNotFound.into(),
        )));
        assert!(matches!(err, StoreError::Unexpected(_)));
        assert!(matches!(
            store_error(DbErr::RecordNotInserted),
            StoreError::Unexpected(_)
        ));
    }

    #[test]
    fn transient_codes() {
        for code in ["08006", "57P01", "53300"] {
            assert!(transient_code(code, false), "PostgreSQL {code}");
        }
        for code in ["5", "517", "6", "262"] {
            assert!(transient_code(code, true), "SQLite {code}");
        }
        // 22021 (invalid byte sequence) has 5 in its low byte: not SQLite's BUSY.
        for code in ["23505", "22021", "42P01", "5"] {
            assert!(!transient_code(code, false), "PostgreSQL {code}");
        }
        for code in ["2067", "1", "787", "08006"] {
            assert!(!transient_code(code, true), "SQLite {code}");
        }
    }
}
