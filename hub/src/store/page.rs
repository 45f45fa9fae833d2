//! Keyset pages for the admin listings (hub.md §9): newest first, keyed by `(created_at, id)`
//! (`(at, id)` for the audit). A [`Cursor`] names the last row of the previous page, so a page
//! never skips or repeats a row that was there when the listing began.

use shared::cursor::Cursor;
use sqlx::AnyConnection;
use sqlx::any::AnyRow;

use super::StoreError;

/// Escapes `%`, `_` and `\` for a `like … escape '\'` pattern.
pub(super) fn like_escaped(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Rows decoded as `T`.
pub(super) fn rows_as<T: for<'r> sqlx::FromRow<'r, AnyRow>>(
    rows: &[AnyRow],
) -> Result<Vec<T>, StoreError> {
    rows.iter().map(|row| Ok(T::from_row(row)?)).collect()
}

/// A bind value of a query built at run time.
pub(super) enum Value {
    Text(String),
    Int(i64),
}

/// `where` clauses with their numbered placeholders.
#[derive(Default)]
pub(super) struct Clauses {
    pub(super) sql: Vec<String>,
    values: Vec<Value>,
}

impl Clauses {
    /// The placeholder of a new value.
    pub(super) fn push(&mut self, value: Value) -> String {
        self.values.push(value);
        format!("${}", self.values.len())
    }

    /// `where a and b …`, or nothing.
    fn where_sql(&self) -> String {
        if self.sql.is_empty() {
            String::new()
        } else {
            format!(" where {}", self.sql.join(" and "))
        }
    }

    /// Rows strictly after `cursor` in `(time desc, id desc)` order.
    fn after(&mut self, time: &str, cursor: Option<&Cursor>) {
        if let Some(cursor) = cursor {
            let at = self.push(Value::Int(cursor.at));
            let id = self.push(Value::Text(cursor.id.clone()));
            self.sql
                .push(format!("({time} < {at} or ({time} = {at} and id < {id}))"));
        }
    }

    /// Runs `<select_from><where> order by <time> desc, id desc limit <limit>` for the page after
    /// `after` (keyset pagination, newest first).
    pub(super) async fn page(
        mut self,
        conn: &mut AnyConnection,
        select_from: &str,
        time: &str,
        after: Option<&Cursor>,
        limit: i64,
    ) -> Result<Vec<AnyRow>, StoreError> {
        self.after(time, after);
        let limit = self.push(Value::Int(limit));
        let sql = format!(
            "{select_from}{} order by {time} desc, id desc limit {limit}",
            self.where_sql()
        );
        Ok(self
            .bind(sqlx::query(sqlx::AssertSqlSafe(sql)))
            .fetch_all(conn)
            .await?)
    }

    fn bind<'q>(
        &self,
        mut query: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>,
    ) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments> {
        for value in &self.values {
            query = match value {
                Value::Text(text) => query.bind(text.clone()),
                Value::Int(n) => query.bind(*n),
            };
        }
        query
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_patterns_escape_wildcards() {
        assert_eq!(like_escaped("a_b%c\\d"), "a\\_b\\%c\\\\d");
        assert_eq!(like_escaped("ann@example.org"), "ann@example.org");
    }
}
