//! Writing rows as multi-row `INSERT`s.

use conduit_domain::StoreError;
use sea_orm::{ConnectionTrait, DatabaseBackend, Statement, Value};

use super::{super::error::store_error, MAX_PARAMS, to_u64};

/// Rows for one table, written as multi-row `INSERT`s.
pub(super) struct Rows {
    table: &'static str,
    columns: &'static [&'static str],
    values: Vec<Value>,
}

impl Rows {
    pub(super) fn new(table: &'static str, columns: &'static [&'static str]) -> Rows {
        Rows {
            table,
            columns,
            values: Vec::new(),
        }
    }

    pub(super) fn push<const N: usize>(&mut self, row: [Value; N]) {
        debug_assert_eq!(N, self.columns.len(), "a row of {}", self.table);
        self.values.extend(row);
    }

    /// Writes every pushed row, in as few statements as the parameter limit allows;
    /// how many rows.
    pub(super) async fn flush(
        &mut self,
        conn: &impl ConnectionTrait,
        backend: DatabaseBackend,
    ) -> Result<u64, StoreError> {
        let width = self.columns.len();
        let per_statement = MAX_PARAMS / width;
        let rows = self.values.len() / width;
        let mut values = std::mem::take(&mut self.values).into_iter();
        let mut written = 0;
        while written < rows {
            let count = per_statement.min(rows - written);
            let sql = insert_sql(self.table, self.columns, count, backend);
            let batch: Vec<Value> = values.by_ref().take(count * width).collect();
            conn.execute_raw(Statement::from_sql_and_values(backend, sql, batch))
                .await
                .map_err(store_error)?;
            written += count;
        }
        Ok(to_u64(rows))
    }
}

/// `INSERT INTO table (columns) VALUES (...), (...)` with `rows` rows of placeholders.
pub(super) fn insert_sql(
    table: &str,
    columns: &[&str],
    rows: usize,
    backend: DatabaseBackend,
) -> String {
    use std::fmt::Write as _;
    let mut sql = format!("INSERT INTO {table} ({}) VALUES ", columns.join(", "));
    let mut n = 0;
    for row in 0..rows {
        sql.push_str(if row == 0 { "(" } else { ", (" });
        for col in 0..columns.len() {
            if col > 0 {
                sql.push_str(", ");
            }
            n += 1;
            if backend == DatabaseBackend::Postgres {
                let _ = write!(sql, "${n}");
            } else {
                sql.push('?');
            }
        }
        sql.push(')');
    }
    sql
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_follow_the_backend() {
        assert_eq!(
            insert_sql("t", &["a", "b"], 2, DatabaseBackend::Postgres),
            "INSERT INTO t (a, b) VALUES ($1, $2), ($3, $4)"
        );
        assert_eq!(
            insert_sql("t", &["a"], 2, DatabaseBackend::Sqlite),
            "INSERT INTO t (a) VALUES (?), (?)"
        );
    }
}
