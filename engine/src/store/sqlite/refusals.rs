//! The `refusals` table: refused attempts to act on a task, beside (never in) the cases'
//! histories. Inserts run on the writer thread like every other write.

use super::super::{Error, Refusal, RefusalFilter, Result};
use super::{from_micros, get, micros, parse_uuid};
use sqlx::{SqliteConnection, SqlitePool};

pub(super) async fn insert(conn: &mut SqliteConnection, r: &Refusal) -> Result<()> {
    sqlx::query(
        "INSERT INTO refusals (case_id, task_id, action, user, rule, message, directory, at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )
    .bind(r.case_id.to_string())
    .bind(&r.task_id)
    .bind(&r.action)
    .bind(&r.user)
    .bind(&r.rule)
    .bind(&r.message)
    .bind(r.directory.as_deref())
    .bind(micros(r.at))
    .execute(&mut *conn)
    .await
    .map_err(Error::db("recording a refusal"))?;
    Ok(())
}

pub(super) async fn list(pool: &SqlitePool, filter: &RefusalFilter) -> Result<Vec<Refusal>> {
    const P: &str = "refusals";
    let rows = sqlx::query(
        "SELECT case_id, task_id, action, user, rule, message, directory, at FROM refusals
         WHERE (?1 IS NULL OR case_id = ?1) ORDER BY at DESC, id DESC LIMIT ?2",
    )
    .bind(filter.case_id.map(|c| c.to_string()))
    .bind(filter.limit.map(i64::from).unwrap_or(-1))
    .fetch_all(pool)
    .await
    .map_err(Error::db("listing refusals"))?;
    rows.iter()
        .map(|row| {
            Ok(Refusal {
                case_id: parse_uuid(P, &get::<String>(row, P, "case_id")?)?,
                task_id: get(row, P, "task_id")?,
                action: get(row, P, "action")?,
                user: get(row, P, "user")?,
                rule: get(row, P, "rule")?,
                message: get(row, P, "message")?,
                directory: get(row, P, "directory")?,
                at: from_micros(P, get(row, P, "at")?)?,
            })
        })
        .collect()
}
