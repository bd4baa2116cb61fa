//! The group-commit writer: one task owns the write connection, takes every request that
//! is waiting (up to a bound), writes them in one transaction and fsyncs once.
//!
//! A batch of transitions is first applied with one multi-row statement per table (rows
//! passed as one JSON array through `json_each`, so each statement is prepared once). If
//! any check fails — a duplicate `(case_id, seq)`, a stale head, a lost lease, a timer
//! already fired — the batch is rolled back to its savepoint and re-applied one savepoint
//! per transition, so only the bad transition fails and its neighbours still commit.

use super::super::{
    ChainHead, Claim, ClaimedJob, Committed, Deployed, Error, FlowVersion, Lease, Result, Time,
    Transition, chain,
};
use super::{from_micros, get, micros, parse_uuid};
use serde_json::{Value, json};
use sqlx::SqliteConnection;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

pub(super) enum Request {
    Commit(Box<Prepared>, oneshot::Sender<Result<Committed>>),
    Claim(Claim, oneshot::Sender<Result<Vec<ClaimedJob>>>),
    Release(Lease, Time, oneshot::Sender<Result<()>>),
    Deploy {
        flow_id: String,
        hash: String,
        source: String,
        id: Uuid,
        now: Time,
        reply: oneshot::Sender<Result<Deployed>>,
    },
}

#[derive(Default)]
pub(super) struct Stats {
    transactions: AtomicU64,
    transitions: AtomicU64,
    rejected: AtomicU64,
    isolated_batches: AtomicU64,
    max_batch: AtomicU64,
}

impl Stats {
    pub(super) fn snapshot(&self) -> super::super::CommitStats {
        super::super::CommitStats {
            transactions: self.transactions.load(Ordering::Relaxed),
            transitions: self.transitions.load(Ordering::Relaxed),
            rejected: self.rejected.load(Ordering::Relaxed),
            isolated_batches: self.isolated_batches.load(Ordering::Relaxed),
            max_batch: self.max_batch.load(Ordering::Relaxed),
        }
    }
}

/// A transition with its events canonicalised and hashed, and its event and head rows
/// already serialised as JSON array texts, ready to write.
pub(super) struct Prepared {
    t: Transition,
    case_id: String,
    /// `[case_id, seq, type, payload, at, prev_hash, hash]` per event, as JSON text.
    events: Vec<String>,
    /// `[case_id, status, snapshot, seq, hash, outcome, updated_at, prev_seq, prev_hash]`.
    head_row: String,
    head: ChainHead,
}

impl Prepared {
    pub(super) fn new(t: Transition) -> Self {
        let case_id = t.case_id.hyphenated().to_string();
        let mut head = t.prev.clone();
        let mut events = Vec::with_capacity(t.events.len());
        for event in &t.events {
            let seq = head.seq + 1;
            let payload = chain::canonical_json(&event.payload);
            let at = chain::format_time(event.at);
            let hash = chain::event_hash(&head.hash, &t.case_id, seq, &event.kind, &payload, &at);
            let row = (&case_id, seq, &event.kind, &payload, &at, &head.hash, &hash);
            // Serialising strings and numbers cannot fail.
            events.push(serde_json::to_string(&row).unwrap_or_default());
            head = ChainHead { seq, hash };
        }
        let snapshot = t.snapshot.as_ref().map(|s| s.to_string());
        let row = (
            &case_id,
            t.status.as_str(),
            snapshot,
            head.seq,
            &head.hash,
            &t.outcome,
            micros(t.now),
            t.prev.seq,
            &t.prev.hash,
        );
        let head_row = serde_json::to_string(&row).unwrap_or_default();
        Prepared {
            t,
            case_id,
            events,
            head_row,
            head,
        }
    }
}

/// A JSON array of already-serialised rows.
fn join_rows<'a>(rows: impl Iterator<Item = &'a String> + Clone) -> String {
    // Sized once: batches reach megabytes, and growing by doubling copies them over and over.
    let mut out = String::with_capacity(2 + rows.clone().map(|r| r.len() + 1).sum::<usize>());
    out.push('[');
    for (i, row) in rows.enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(row);
    }
    out.push(']');
    out
}

async fn exec_text(
    conn: &mut SqliteConnection,
    place: &'static str,
    sql: &'static str,
    param: String,
) -> Result<u64, Fail> {
    sqlx::query(sql)
        .bind(param)
        .execute(&mut *conn)
        .await
        .map(|r| r.rows_affected())
        .map_err(|e| Fail::Db(place, e))
}

/// Why applying a set of transitions failed.
enum Fail {
    Conflict(String),
    LeaseLost,
    TimerGone,
    Db(&'static str, sqlx::Error),
}

impl Fail {
    fn into_error(self, p: &Prepared) -> Error {
        match self {
            Fail::Conflict(detail) => Error::Conflict {
                case_id: p.t.case_id,
                detail,
            },
            Fail::LeaseLost => match &p.t.complete_job {
                Some(l) => Error::LeaseLost {
                    job_id: l.job_id,
                    owner: l.owner.clone(),
                    epoch: l.epoch,
                },
                None => Error::Conflict {
                    case_id: p.t.case_id,
                    detail: "lease lost".into(),
                },
            },
            Fail::TimerGone => Error::TimerGone {
                case_id: p.t.case_id,
                timer_id: p.t.fire_timer.clone().unwrap_or_default(),
            },
            Fail::Db(place, source) => Error::Database { place, source },
        }
    }
}

fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.is_unique_violation())
}

async fn exec<T: serde::Serialize>(
    conn: &mut SqliteConnection,
    place: &'static str,
    sql: &'static str,
    rows: &[T],
) -> Result<u64, Fail> {
    // Serialising JSON values cannot fail.
    let param = serde_json::to_string(rows).unwrap_or_default();
    sqlx::query(sql)
        .bind(param)
        .execute(&mut *conn)
        .await
        .map(|r| r.rows_affected())
        .map_err(|e| Fail::Db(place, e))
}

async fn plain(conn: &mut SqliteConnection, sql: &'static str) -> Result<(), sqlx::Error> {
    sqlx::query(sql).execute(&mut *conn).await.map(|_| ())
}

/// Applies transitions with one statement per table, checking every expected count.
async fn apply(conn: &mut SqliteConnection, items: &[&Prepared]) -> Result<(), Fail> {
    let creates: Vec<Value> = items
        .iter()
        .filter_map(|p| {
            p.t.create
                .as_ref()
                .map(|c| json!([p.case_id, c.flow_version.to_string(), micros(p.t.now)]))
        })
        .collect();
    if !creates.is_empty() {
        let r = exec(
            conn,
            "creating cases",
            "INSERT INTO cases (id, flow_version_id, status, last_seq, last_hash, created_at, updated_at)
             SELECT j.value->>0, j.value->>1, 'running', 0,
                    '0000000000000000000000000000000000000000000000000000000000000000', j.value->>2, j.value->>2
             FROM json_each(?1) AS j",
            &creates,
        )
        .await;
        match r {
            Err(Fail::Db(_, e)) if is_unique_violation(&e) => {
                return Err(Fail::Conflict("a case with this id already exists".into()));
            }
            other => {
                other?;
            }
        }
    }

    if items.iter().any(|p| !p.events.is_empty()) {
        let r = exec_text(
            conn,
            "appending events",
            "INSERT INTO events (case_id, seq, type, payload, at, prev_hash, hash)
             SELECT j.value->>0, j.value->>1, j.value->>2, j.value->>3, j.value->>4, j.value->>5, j.value->>6
             FROM json_each(?1) AS j",
            join_rows(items.iter().flat_map(|p| p.events.iter())),
        )
        .await;
        match r {
            Err(Fail::Db(_, e)) if is_unique_violation(&e) => {
                return Err(Fail::Conflict(
                    "an event with this seq was already appended".into(),
                ));
            }
            other => {
                other?;
            }
        }
    }

    let heads: Vec<&String> = items
        .iter()
        .filter(|p| !p.events.is_empty() || p.t.create.is_some())
        .map(|p| &p.head_row)
        .collect();
    if !heads.is_empty() {
        let n = exec_text(
            conn,
            "updating case heads",
            "UPDATE cases SET status = j.value->>1,
                    snapshot = COALESCE(j.value->>2, cases.snapshot),
                    snapshot_seq = CASE WHEN j.value->>2 IS NULL THEN cases.snapshot_seq ELSE j.value->>3 END,
                    last_seq = j.value->>3, last_hash = j.value->>4,
                    outcome = COALESCE(j.value->>5, cases.outcome), updated_at = j.value->>6
             FROM json_each(?1) AS j
             WHERE cases.id = j.value->>0 AND cases.last_seq = j.value->>7 AND cases.last_hash = j.value->>8",
            join_rows(heads.iter().copied()),
        )
        .await?;
        if n != heads.len() as u64 {
            return Err(Fail::Conflict(
                "the case moved on since this transition was decided".into(),
            ));
        }
    }

    let completes: Vec<Value> = items
        .iter()
        .filter_map(|p| p.t.complete_job.as_ref())
        .map(|l| json!([l.job_id.to_string(), l.owner, l.epoch]))
        .collect();
    if !completes.is_empty() {
        let n = exec(
            conn,
            "completing jobs",
            "DELETE FROM jobs WHERE rowid IN (
                SELECT jobs.rowid FROM json_each(?1) AS j JOIN jobs ON jobs.id = j.value->>0
                WHERE jobs.lease_owner = j.value->>1 AND jobs.lease_epoch = j.value->>2)",
            &completes,
        )
        .await?;
        if n != completes.len() as u64 {
            return Err(Fail::LeaseLost);
        }
    }

    let cancelled: Vec<Value> = items
        .iter()
        .flat_map(|p| p.t.cancel_jobs.iter().map(|j| json!(j.to_string())))
        .collect();
    if !cancelled.is_empty() {
        exec(
            conn,
            "cancelling jobs",
            "DELETE FROM jobs WHERE id IN (SELECT j.value FROM json_each(?1) AS j)",
            &cancelled,
        )
        .await?;
    }

    let fires: Vec<Value> = items
        .iter()
        .filter_map(|p| {
            p.t.fire_timer
                .as_ref()
                .map(|t| json!([p.case_id, t, micros(p.t.now)]))
        })
        .collect();
    if !fires.is_empty() {
        let n = exec(
            conn,
            "firing timers",
            "DELETE FROM timers WHERE rowid IN (
                SELECT timers.rowid FROM json_each(?1) AS j
                JOIN timers ON timers.case_id = j.value->>0 AND timers.timer_id = j.value->>1
                WHERE timers.due_at <= j.value->>2)",
            &fires,
        )
        .await?;
        if n != fires.len() as u64 {
            return Err(Fail::TimerGone);
        }
    }

    let cancels: Vec<Value> = items
        .iter()
        .flat_map(|p| p.t.cancel_timers.iter().map(|t| json!([p.case_id, t])))
        .collect();
    if !cancels.is_empty() {
        exec(
            conn,
            "cancelling timers",
            "DELETE FROM timers WHERE rowid IN (
                SELECT timers.rowid FROM json_each(?1) AS j
                JOIN timers ON timers.case_id = j.value->>0 AND timers.timer_id = j.value->>1)",
            &cancels,
        )
        .await?;
    }

    let arms: Vec<Value> = items
        .iter()
        .flat_map(|p| {
            p.t.arm_timers
                .iter()
                .map(|t| json!([p.case_id, t.timer_id, t.node, micros(t.due)]))
        })
        .collect();
    if !arms.is_empty() {
        exec(
            conn,
            "arming timers",
            "INSERT INTO timers (case_id, timer_id, node, due_at)
             SELECT j.value->>0, j.value->>1, j.value->>2, j.value->>3 FROM json_each(?1) AS j WHERE true
             ON CONFLICT (case_id, timer_id) DO UPDATE SET node = excluded.node, due_at = excluded.due_at",
            &arms,
        )
        .await?;
    }

    let jobs: Vec<Value> = items
        .iter()
        .flat_map(|p| {
            p.t.jobs.iter().map(|j| {
                let (owner, expires) = match &j.lease_to {
                    Some((owner, expires)) => (Some(owner.as_str()), Some(micros(*expires))),
                    None => (None, None),
                };
                json!([
                    j.id.to_string(),
                    p.case_id,
                    j.kind,
                    j.payload.to_string(),
                    micros(j.due),
                    expires.unwrap_or(micros(j.due)),
                    owner,
                    i64::from(owner.is_some()),
                    expires
                ])
            })
        })
        .collect();
    if !jobs.is_empty() {
        exec(
            conn,
            "enqueuing jobs",
            "INSERT INTO jobs (id, case_id, kind, payload, due_at, ready_at, lease_owner, lease_epoch, lease_expires_at, claims)
             SELECT j.value->>0, j.value->>1, j.value->>2, j.value->>3, j.value->>4, j.value->>5,
                    j.value->>6, j.value->>7, j.value->>8, j.value->>7
             FROM json_each(?1) AS j",
            &jobs,
        )
        .await?;
    }

    let closes: Vec<Value> = items
        .iter()
        .flat_map(|p| p.t.close_tasks.iter().map(|t| json!([t, micros(p.t.now)])))
        .collect();
    if !closes.is_empty() {
        exec(
            conn,
            "closing tasks",
            "UPDATE tasks SET open = 0, closed_at = j.value->>1 FROM json_each(?1) AS j
             WHERE tasks.id = j.value->>0 AND tasks.open = 1",
            &closes,
        )
        .await?;
    }

    let escalations: Vec<Value> = items
        .iter()
        .flat_map(|p| p.t.escalate_tasks.iter().map(|(t, role)| json!([t, role])))
        .collect();
    if !escalations.is_empty() {
        exec(
            conn,
            "escalating tasks",
            "UPDATE tasks SET escalated_to = j.value->>1 FROM json_each(?1) AS j WHERE tasks.id = j.value->>0",
            &escalations,
        )
        .await?;
    }

    let opens: Vec<Value> = items
        .iter()
        .flat_map(|p| {
            p.t.open_tasks.iter().map(|t| {
                json!([
                    t.task_id,
                    p.case_id,
                    t.node,
                    t.role,
                    t.authority,
                    t.due.map(micros),
                    micros(p.t.now)
                ])
            })
        })
        .collect();
    if !opens.is_empty() {
        exec(
            conn,
            "opening tasks",
            "INSERT INTO tasks (id, case_id, node, role, authority, due_at, open, opened_at)
             SELECT j.value->>0, j.value->>1, j.value->>2, j.value->>3, j.value->>4, j.value->>5, 1, j.value->>6
             FROM json_each(?1) AS j WHERE true
             ON CONFLICT (id) DO UPDATE SET open = 1, role = excluded.role, authority = excluded.authority,
                due_at = excluded.due_at, opened_at = excluded.opened_at, closed_at = NULL,
                escalated_to = NULL",
            &opens,
        )
        .await?;
    }

    // A finished case owns no work: whatever its last transition did not clean up
    // explicitly (a job of a cancelled branch, an SLA timer) goes with it.
    let finished: Vec<Value> = items
        .iter()
        .filter(|p| p.t.status.is_final())
        .map(|p| json!([p.case_id, micros(p.t.now)]))
        .collect();
    if !finished.is_empty() {
        exec(
            conn,
            "clearing jobs of finished cases",
            "DELETE FROM jobs WHERE case_id IN (SELECT j.value->>0 FROM json_each(?1) AS j)",
            &finished,
        )
        .await?;
        exec(
            conn,
            "clearing timers of finished cases",
            "DELETE FROM timers WHERE case_id IN (SELECT j.value->>0 FROM json_each(?1) AS j)",
            &finished,
        )
        .await?;
        exec(
            conn,
            "closing tasks of finished cases",
            "UPDATE tasks SET open = 0, closed_at = j.value->>1 FROM json_each(?1) AS j
             WHERE tasks.case_id = j.value->>0 AND tasks.open = 1",
            &finished,
        )
        .await?;
    }
    Ok(())
}

/// Applies the commits of one batch: all at once, or one savepoint each if that fails.
async fn apply_commits(
    conn: &mut SqliteConnection,
    commits: &[&Prepared],
    stats: &Stats,
) -> Result<Vec<Result<Committed>>, sqlx::Error> {
    // Fast path: no savepoint, so SQLite journals no page twice. The commits are the
    // first thing in the transaction, so on failure rolling it all back loses nothing.
    if commits.len() > 1 {
        match apply(conn, commits).await {
            Ok(()) => {
                return Ok(commits
                    .iter()
                    .map(|p| {
                        Ok(Committed {
                            head: p.head.clone(),
                        })
                    })
                    .collect());
            }
            Err(_) => {
                plain(conn, "ROLLBACK").await?;
                plain(conn, "BEGIN IMMEDIATE").await?;
                stats.isolated_batches.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
    let mut out = Vec::with_capacity(commits.len());
    for p in commits {
        plain(conn, "SAVEPOINT one").await?;
        match apply(conn, std::slice::from_ref(p)).await {
            Ok(()) => {
                plain(conn, "RELEASE one").await?;
                out.push(Ok(Committed {
                    head: p.head.clone(),
                }));
            }
            Err(fail) => {
                plain(conn, "ROLLBACK TO one").await?;
                plain(conn, "RELEASE one").await?;
                out.push(Err(fail.into_error(p)));
            }
        }
    }
    Ok(out)
}

async fn claim(conn: &mut SqliteConnection, c: &Claim) -> Result<Vec<ClaimedJob>> {
    const P: &str = "claiming jobs";
    let now = micros(c.now);
    let expires =
        c.now + chrono::Duration::from_std(c.lease_for).unwrap_or(chrono::Duration::seconds(30));
    let mut rows = Vec::new();
    if c.reclaim_own {
        rows = sqlx::query(
            "UPDATE jobs SET lease_epoch = lease_epoch + 1, lease_expires_at = ?2, ready_at = ?2, claims = claims + 1
             WHERE id IN (SELECT id FROM jobs WHERE lease_owner = ?1 AND ready_at > ?3 ORDER BY ready_at LIMIT ?4)
             RETURNING id, case_id, kind, payload, due_at, claims, lease_epoch",
        )
        .bind(&c.owner)
        .bind(micros(expires))
        .bind(now)
        .bind(i64::from(c.limit))
        .fetch_all(&mut *conn)
        .await
        .map_err(Error::db(P))?;
    }
    let left = i64::from(c.limit) - rows.len() as i64;
    if left > 0 {
        rows.extend(
            sqlx::query(
                "UPDATE jobs SET lease_owner = ?1, lease_epoch = lease_epoch + 1, lease_expires_at = ?2,
                        ready_at = ?2, claims = claims + 1
                 WHERE id IN (SELECT id FROM jobs WHERE ready_at <= ?3 ORDER BY ready_at LIMIT ?4)
                 RETURNING id, case_id, kind, payload, due_at, claims, lease_epoch",
            )
            .bind(&c.owner)
            .bind(micros(expires))
            .bind(now)
            .bind(left)
            .fetch_all(&mut *conn)
            .await
            .map_err(Error::db(P))?,
        );
    }
    rows.iter()
        .map(|row| {
            let payload: String = get(row, P, "payload")?;
            let job_id = parse_uuid(P, &get::<String>(row, P, "id")?)?;
            Ok(ClaimedJob {
                case_id: parse_uuid(P, &get::<String>(row, P, "case_id")?)?,
                kind: get(row, P, "kind")?,
                payload: serde_json::from_str(&payload).map_err(|e| Error::Corrupt {
                    place: P,
                    detail: format!("payload of job {job_id}: {e}"),
                })?,
                due: from_micros(P, get(row, P, "due_at")?)?,
                claims: get(row, P, "claims")?,
                lease: Lease {
                    job_id,
                    owner: c.owner.clone(),
                    epoch: get(row, P, "lease_epoch")?,
                    expires_at: expires,
                },
            })
        })
        .collect()
}

async fn release(conn: &mut SqliteConnection, lease: &Lease, due: Time) -> Result<()> {
    let n = sqlx::query(
        "UPDATE jobs SET lease_owner = NULL, lease_expires_at = NULL, due_at = ?4, ready_at = ?4
         WHERE id = ?1 AND lease_owner = ?2 AND lease_epoch = ?3",
    )
    .bind(lease.job_id.to_string())
    .bind(&lease.owner)
    .bind(lease.epoch)
    .bind(micros(due))
    .execute(&mut *conn)
    .await
    .map_err(Error::db("releasing a job"))?
    .rows_affected();
    if n == 1 {
        Ok(())
    } else {
        Err(Error::LeaseLost {
            job_id: lease.job_id,
            owner: lease.owner.clone(),
            epoch: lease.epoch,
        })
    }
}

async fn deploy(
    conn: &mut SqliteConnection,
    flow_id: &str,
    hash: &str,
    source: &str,
    id: Uuid,
    now: Time,
) -> Result<Deployed> {
    const P: &str = "deploying a flow";
    let created = sqlx::query(
        "INSERT INTO flow_versions (id, flow_id, version, hash, source, deployed_at)
         SELECT ?1, ?2, COALESCE(MAX(version), 0) + 1, ?3, ?4, ?5 FROM flow_versions WHERE flow_id = ?2
         ON CONFLICT (flow_id, hash) DO NOTHING",
    )
    .bind(id.to_string())
    .bind(flow_id)
    .bind(hash)
    .bind(source)
    .bind(micros(now))
    .execute(&mut *conn)
    .await
    .map_err(Error::db(P))?
    .rows_affected()
        == 1;
    let row = sqlx::query("SELECT * FROM flow_versions WHERE flow_id = ?1 AND hash = ?2")
        .bind(flow_id)
        .bind(hash)
        .fetch_one(&mut *conn)
        .await
        .map_err(Error::db(P))?;
    Ok(Deployed {
        version: FlowVersion {
            id: parse_uuid(P, &get::<String>(&row, P, "id")?)?,
            flow_id: get(&row, P, "flow_id")?,
            version: get(&row, P, "version")?,
            hash: get(&row, P, "hash")?,
            source: get(&row, P, "source")?,
            deployed_at: from_micros(P, get(&row, P, "deployed_at")?)?,
        },
        created,
    })
}

/// A request's reply, held until the batch's transaction is committed.
enum Done {
    Commit(oneshot::Sender<Result<Committed>>, Result<Committed>),
    Claim(
        oneshot::Sender<Result<Vec<ClaimedJob>>>,
        Result<Vec<ClaimedJob>>,
    ),
    Release(oneshot::Sender<Result<()>>, Result<()>),
    Deploy(oneshot::Sender<Result<Deployed>>, Result<Deployed>),
}

impl Done {
    /// Sends the reply; if the transaction failed, every success becomes that failure.
    fn send(self, failed: Option<&str>) {
        fn fix<T>(r: Result<T>, failed: Option<&str>) -> Result<T> {
            match (r, failed) {
                (Ok(_), Some(why)) => Err(Error::WriterStopped(format!(
                    "the batch did not commit: {why}"
                ))),
                (r, _) => r,
            }
        }
        // A caller that stopped waiting is not an error of the batch.
        match self {
            Done::Commit(tx, r) => drop(tx.send(fix(r, failed))),
            Done::Claim(tx, r) => drop(tx.send(fix(r, failed))),
            Done::Release(tx, r) => drop(tx.send(fix(r, failed))),
            Done::Deploy(tx, r) => drop(tx.send(fix(r, failed))),
        }
    }
}

/// Runs one batch in one transaction and answers every request in it.
async fn process(conn: &mut SqliteConnection, batch: Vec<Request>, stats: &Stats) {
    let mut done = Vec::with_capacity(batch.len());
    let result: Result<(), sqlx::Error> = async {
        plain(conn, "BEGIN IMMEDIATE").await?;
        let mut commits = Vec::new();
        let mut others = Vec::new();
        for request in batch {
            match request {
                Request::Commit(p, reply) => commits.push((p, reply)),
                other => others.push(other),
            }
        }
        // Transitions first (see apply_commits), then the rest.
        if !commits.is_empty() {
            let prepared: Vec<&Prepared> = commits.iter().map(|(p, _)| p.as_ref()).collect();
            let results = apply_commits(conn, &prepared, stats).await?;
            let ok = results.iter().filter(|r| r.is_ok()).count() as u64;
            stats.transitions.fetch_add(ok, Ordering::Relaxed);
            stats
                .rejected
                .fetch_add(results.len() as u64 - ok, Ordering::Relaxed);
            stats
                .max_batch
                .fetch_max(results.len() as u64, Ordering::Relaxed);
            for ((_, reply), r) in commits.into_iter().zip(results) {
                done.push(Done::Commit(reply, r));
            }
        }
        for request in others {
            match request {
                Request::Commit(..) => {}
                // Claims, releases and deployments are single statements (or a
                // statement and a read): a failure leaves nothing behind to roll back.
                Request::Claim(c, reply) => {
                    let r = claim(conn, &c).await;
                    done.push(Done::Claim(reply, r));
                }
                Request::Release(lease, due, reply) => {
                    let r = release(conn, &lease, due).await;
                    done.push(Done::Release(reply, r));
                }
                Request::Deploy {
                    flow_id,
                    hash,
                    source,
                    id,
                    now,
                    reply,
                } => {
                    let r = deploy(conn, &flow_id, &hash, &source, id, now).await;
                    done.push(Done::Deploy(reply, r));
                }
            }
        }
        plain(conn, "COMMIT").await?;
        stats.transactions.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
    .await;
    match result {
        Ok(()) => done.into_iter().for_each(|d| d.send(None)),
        Err(e) => {
            tracing::error!(error = %e, "store writer: batch failed, rolling back");
            let _ = plain(conn, "ROLLBACK").await;
            let why = e.to_string();
            done.into_iter().for_each(|d| d.send(Some(&why)));
        }
    }
}

/// The writer loop: ends when every sender (every store handle) is gone.
pub(super) async fn run(
    mut conn: SqliteConnection,
    mut rx: mpsc::Receiver<Request>,
    stats: std::sync::Arc<Stats>,
    max_batch: usize,
) {
    let mut batch = Vec::with_capacity(max_batch);
    while rx.recv_many(&mut batch, max_batch).await > 0 {
        process(&mut conn, std::mem::take(&mut batch), &stats).await;
    }
    let _ = sqlx::Connection::close(conn).await;
}
