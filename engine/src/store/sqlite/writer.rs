//! The group-commit writer: one task owns the write connection, takes every request that
//! is waiting (up to a bound), writes them in one transaction and fsyncs once.
//!
//! A batch of transitions is first applied with multi-row statements per table: rows are
//! bound parameters in chunks of fixed sizes (powers of two up to 256 rows, so a count is
//! one statement per set bit), each statement text prepared once and then only re-bound.
//! If any check fails — a duplicate `(case_id, seq)`, a stale head, a lost lease, a timer
//! already fired — the batch is rolled back and re-applied one savepoint per transition,
//! so only the bad transition fails and its neighbours still commit.

use super::super::{
    ChainHead, Claim, Claimed, ClaimedJob, ClaimedTimer, Committed, Deployed, Error, FlowVersion,
    Held, Lease, Result, Time, Transition, chain,
};
use super::{from_micros, get, micros, parse_uuid};
use sqlx::sqlite::SqliteArguments;
use sqlx::{Arguments, SqliteConnection};
use std::sync::Arc;
use std::sync::LazyLock;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

pub(super) enum Request {
    Commit(Box<Prepared>, oneshot::Sender<Result<Committed>>),
    Claim(Claim, oneshot::Sender<Result<Claimed>>),
    Renew {
        owner: String,
        held: Vec<Held>,
        until: Time,
        reply: oneshot::Sender<Result<Vec<Held>>>,
    },
    ReleaseOwned(String, Time, oneshot::Sender<Result<u64>>),
    Deploy {
        flow_id: String,
        hash: String,
        source: String,
        id: Uuid,
        now: Time,
        reply: oneshot::Sender<Result<Deployed>>,
    },
    Refusal(Box<super::super::Refusal>, oneshot::Sender<Result<()>>),
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

/// One event row, every text already in the shared form the statement binds without
/// copying (`prev_hash` is the previous row's `hash`, shared).
struct EventRow {
    seq: i64,
    kind: Arc<str>,
    payload: Arc<str>,
    at: Arc<str>,
    prev_hash: Arc<str>,
    hash: Arc<str>,
}

/// A transition with its events hashed and its rows ready to bind: built on the caller's
/// task, so the single writer only writes.
pub(super) struct Prepared {
    t: Transition,
    case_id: Arc<str>,
    events: Vec<EventRow>,
    snapshot: Option<Arc<str>>,
    /// The chain head after this transition, and its hash in bindable form.
    head: ChainHead,
    head_hash: Arc<str>,
    prev_hash: Arc<str>,
    now: i64,
}

impl Prepared {
    pub(super) fn new(mut t: Transition) -> Self {
        let case_id: Arc<str> = t.case_id.hyphenated().to_string().into();
        let prev_hash: Arc<str> = t.prev.hash.as_str().into();
        let mut hash = prev_hash.clone();
        let mut seq = t.prev.seq;
        let mut events = Vec::with_capacity(t.events.len());
        let mut last_at: Option<(Time, Arc<str>)> = None;
        for event in std::mem::take(&mut t.events) {
            seq += 1;
            // Events of one transition mostly share their time: format it once.
            let at = match &last_at {
                Some((time, text)) if *time == event.at => text.clone(),
                _ => {
                    let text: Arc<str> = chain::format_time(event.at).into();
                    last_at = Some((event.at, text.clone()));
                    text
                }
            };
            let next: Arc<str> =
                chain::event_hash(&hash, &t.case_id, seq, &event.kind, &event.payload, &at).into();
            events.push(EventRow {
                seq,
                kind: event.kind.into(),
                payload: event.payload.into(),
                at,
                prev_hash: std::mem::replace(&mut hash, next.clone()),
                hash: next,
            });
        }
        let snapshot = t.snapshot.take().map(Arc::from);
        let now = micros(t.now);
        Prepared {
            head: ChainHead {
                seq,
                hash: hash.to_string(),
            },
            head_hash: hash,
            prev_hash,
            case_id,
            events,
            snapshot,
            now,
            t,
        }
    }

    /// The `snapshot_seq` column after this transition.
    fn snapshot_seq(&self) -> Option<i64> {
        self.snapshot.as_ref().map(|_| self.head.seq)
    }
}

/// Row counts of the chunks one multi-row statement is prepared for: a batch of `n` rows
/// runs as `n / 256` statements of 256 rows, then at most three of each smaller size.
const CHUNKS: [usize; 9] = [256, 128, 64, 32, 16, 8, 4, 2, 1];

/// One multi-row statement, its text made once per chunk size: `head`, then `row`
/// repeated (comma-separated), then `tail`.
///
/// Each text also comes in an `OR ROLLBACK` form (for inserts and updates) used when the
/// whole transaction is the unit of failure: a statement that can only fail together with
/// its transaction needs no statement journal, which otherwise copies every page the
/// statement changes.
struct Bulk {
    texts: [String; CHUNKS.len()],
    whole: [String; CHUNKS.len()],
    /// Parameters bound per row.
    params: usize,
}

impl Bulk {
    fn new(head: &str, row: &str, tail: &str) -> Bulk {
        let texts = CHUNKS.map(|n| {
            let rows = vec![row; n].join(",");
            format!("{head}{rows}{tail}")
        });
        let whole = texts.clone().map(|t| {
            t.replacen("INSERT INTO ", "INSERT OR ROLLBACK INTO ", 1)
                .replacen("UPDATE ", "UPDATE OR ROLLBACK ", 1)
        });
        Bulk {
            texts,
            whole,
            params: row.matches('?').count(),
        }
    }

    /// The largest chunk that fits in `left` rows, and its statement (in its
    /// `OR ROLLBACK` form if `whole`).
    fn chunk(&'static self, left: usize, whole: bool) -> (usize, &'static str) {
        let i = CHUNKS
            .iter()
            .position(|&n| n <= left)
            .unwrap_or(CHUNKS.len() - 1);
        let texts = if whole { &self.whole } else { &self.texts };
        (CHUNKS[i], texts[i].as_str())
    }
}

/// The connection transitions are applied on, and what a failure undoes.
struct Tx<'c> {
    conn: &'c mut SqliteConnection,
    /// A failure rolls back the whole transaction (the batch is then re-run one savepoint
    /// per transition), so a failing statement may end it itself (`OR ROLLBACK`).
    whole: bool,
}

type BindResult = std::result::Result<(), sqlx::error::BoxDynError>;

/// Runs `stmt` over all `rows` in chunks, returning the total of rows affected.
async fn bulk<R>(
    tx: &mut Tx<'_>,
    place: &'static str,
    stmt: &'static LazyLock<Bulk>,
    rows: &[R],
    bind: impl Fn(&mut SqliteArguments, &R) -> BindResult,
) -> Result<u64, Fail> {
    let stmt: &'static Bulk = stmt;
    let mut affected = 0;
    let mut left = rows;
    while !left.is_empty() {
        let (n, sql) = stmt.chunk(left.len(), tx.whole);
        let (chunk, rest) = left.split_at(n);
        let mut args = SqliteArguments::default();
        args.reserve(n * stmt.params, 0);
        for row in chunk {
            bind(&mut args, row).map_err(|e| Fail::Db(place, sqlx::Error::Encode(e)))?;
        }
        affected += sqlx::query_with(sql, args)
            .execute(&mut *tx.conn)
            .await
            .map_err(|e| Fail::Db(place, e))?
            .rows_affected();
        left = rest;
    }
    Ok(affected)
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
            Fail::Db(place, error) => Error::Database { place, error },
        }
    }

    /// A unique-key violation becomes the conflict it means; anything else stays.
    fn unique_means(self, detail: &str) -> Fail {
        match self {
            Fail::Db(_, sqlx::Error::Database(d)) if d.is_unique_violation() => {
                Fail::Conflict(detail.into())
            }
            other => other,
        }
    }
}

async fn plain(conn: &mut SqliteConnection, sql: &'static str) -> Result<(), sqlx::Error> {
    sqlx::query(sql).execute(&mut *conn).await.map(|_| ())
}

macro_rules! bulk_sql {
    ($name:ident, $head:expr, $row:expr, $tail:expr) => {
        static $name: LazyLock<Bulk> = LazyLock::new(|| Bulk::new($head, $row, $tail));
    };
}

// A created case is inserted with its head after the transition, so it needs no update.
bulk_sql!(
    CREATE_CASES,
    "INSERT INTO cases (id, flow_version_id, status, outcome, last_seq, last_hash,
        snapshot_seq, created_at, updated_at) VALUES ",
    "(?,?,?,?,?,?,?,?,?)",
    ""
);
bulk_sql!(
    SAVE_SNAPSHOTS,
    "INSERT OR REPLACE INTO snapshots (case_id, state) VALUES ",
    "(?,?)",
    ""
);
bulk_sql!(
    APPEND_EVENTS,
    "INSERT INTO events (case_id, seq, type, payload, at, prev_hash, hash) VALUES ",
    "(?,?,?,?,?,?,?)",
    ""
);
// Moves a head only from the one it was decided against (optimistic concurrency).
bulk_sql!(
    MOVE_HEADS,
    "UPDATE cases SET status = v.column1, snapshot_seq = COALESCE(v.column2, cases.snapshot_seq),
        last_seq = v.column3, last_hash = v.column4,
        outcome = COALESCE(v.column5, cases.outcome), updated_at = v.column6
     FROM (VALUES ",
    "(?,?,?,?,?,?,?,?,?)",
    ") AS v WHERE cases.id = v.column7 AND cases.last_seq = v.column8 AND cases.last_hash = v.column9"
);
bulk_sql!(
    COMPLETE_JOBS,
    "DELETE FROM jobs WHERE rowid IN (SELECT jobs.rowid FROM (VALUES ",
    "(?,?,?)",
    ") AS v JOIN jobs ON jobs.id = v.column1
     WHERE jobs.lease_owner = v.column2 AND jobs.lease_epoch = v.column3)"
);
bulk_sql!(CANCEL_JOBS, "DELETE FROM jobs WHERE id IN (", "?", ")");
bulk_sql!(
    FIRE_TIMERS,
    "DELETE FROM timers WHERE rowid IN (SELECT timers.rowid FROM (VALUES ",
    "(?,?,?)",
    ") AS v JOIN timers ON timers.case_id = v.column1 AND timers.timer_id = v.column2
     WHERE timers.due_at <= v.column3)"
);
bulk_sql!(
    CANCEL_TIMERS,
    "DELETE FROM timers WHERE rowid IN (SELECT timers.rowid FROM (VALUES ",
    "(?,?)",
    ") AS v JOIN timers ON timers.case_id = v.column1 AND timers.timer_id = v.column2)"
);
bulk_sql!(
    ARM_TIMERS,
    "INSERT INTO timers (case_id, timer_id, node, due_at, ready_at, lease_owner, lease_epoch,
        lease_expires_at) VALUES ",
    "(?,?,?,?,?,?,?,?)",
    " ON CONFLICT (case_id, timer_id) DO UPDATE SET node = excluded.node, due_at = excluded.due_at,
        ready_at = excluded.ready_at, lease_owner = excluded.lease_owner,
        lease_epoch = excluded.lease_epoch, lease_expires_at = excluded.lease_expires_at"
);
bulk_sql!(
    ENQUEUE_JOBS,
    "INSERT INTO jobs (id, case_id, kind, payload, due_at, ready_at, lease_owner, lease_epoch,
        lease_expires_at, claims) VALUES ",
    "(?,?,?,?,?,?,?,?,?,?)",
    ""
);
bulk_sql!(
    CLOSE_TASKS,
    "UPDATE tasks SET open = 0, closed_at = v.column2 FROM (VALUES ",
    "(?,?)",
    ") AS v WHERE tasks.id = v.column1 AND tasks.open = 1"
);
bulk_sql!(
    ESCALATE_TASKS,
    "UPDATE tasks SET escalated_to = v.column2 FROM (VALUES ",
    "(?,?)",
    ") AS v WHERE tasks.id = v.column1"
);
bulk_sql!(
    OPEN_TASKS,
    "INSERT INTO tasks (id, case_id, node, role, authority, due_at, open, opened_at) VALUES ",
    "(?,?,?,?,?,?,1,?)",
    " ON CONFLICT (id) DO UPDATE SET open = 1, role = excluded.role, authority = excluded.authority,
        due_at = excluded.due_at, opened_at = excluded.opened_at, closed_at = NULL,
        escalated_to = NULL"
);
bulk_sql!(CLEAR_JOBS, "DELETE FROM jobs WHERE case_id IN (", "?", ")");
bulk_sql!(
    CLEAR_TIMERS,
    "DELETE FROM timers WHERE case_id IN (",
    "?",
    ")"
);
bulk_sql!(
    CLOSE_CASE_TASKS,
    "UPDATE tasks SET open = 0, closed_at = v.column2 FROM (VALUES ",
    "(?,?)",
    ") AS v WHERE tasks.case_id = v.column1 AND tasks.open = 1"
);

/// Applies transitions with one multi-row statement per table (per chunk), checking
/// every expected count.
async fn apply(tx: &mut Tx<'_>, items: &[&Prepared]) -> Result<(), Fail> {
    let creates: Vec<&Prepared> = items
        .iter()
        .copied()
        .filter(|p| p.t.create.is_some())
        .collect();
    if !creates.is_empty() {
        // The case row is written with the new head, so the head it was decided against
        // must be the genesis one, as it would be checked for an existing case.
        if creates.iter().any(|p| p.t.prev != ChainHead::genesis()) {
            return Err(Fail::Conflict(
                "a new case must start from the genesis head".into(),
            ));
        }
        bulk(tx, "creating cases", &CREATE_CASES, &creates, |a, p| {
            let version = p.t.create.as_ref().map(|c| c.flow_version.to_string());
            a.add(p.case_id.clone())?;
            a.add(version)?;
            a.add(p.t.status.as_str())?;
            a.add(p.t.outcome.as_deref())?;
            a.add(p.head.seq)?;
            a.add(p.head_hash.clone())?;
            a.add(p.snapshot_seq().unwrap_or(0))?;
            a.add(p.now)?;
            a.add(p.now)
        })
        .await
        .map_err(|f| f.unique_means("a case with this id already exists"))?;
    }

    let events: Vec<(&Arc<str>, &EventRow)> = items
        .iter()
        .flat_map(|p| p.events.iter().map(move |e| (&p.case_id, e)))
        .collect();
    if !events.is_empty() {
        bulk(
            tx,
            "appending events",
            &APPEND_EVENTS,
            &events,
            |a, (case, e)| {
                a.add(Arc::clone(case))?;
                a.add(e.seq)?;
                a.add(e.kind.clone())?;
                a.add(e.payload.clone())?;
                a.add(e.at.clone())?;
                a.add(e.prev_hash.clone())?;
                a.add(e.hash.clone())
            },
        )
        .await
        .map_err(|f| f.unique_means("an event with this seq was already appended"))?;
    }

    let heads: Vec<&Prepared> = items
        .iter()
        .copied()
        .filter(|p| p.t.create.is_none() && !p.events.is_empty())
        .collect();
    if !heads.is_empty() {
        let n = bulk(tx, "updating case heads", &MOVE_HEADS, &heads, |a, p| {
            a.add(p.t.status.as_str())?;
            a.add(p.snapshot_seq())?;
            a.add(p.head.seq)?;
            a.add(p.head_hash.clone())?;
            a.add(p.t.outcome.as_deref())?;
            a.add(p.now)?;
            a.add(p.case_id.clone())?;
            a.add(p.t.prev.seq)?;
            a.add(p.prev_hash.clone())
        })
        .await?;
        if n != heads.len() as u64 {
            return Err(Fail::Conflict(
                "the case moved on since this transition was decided".into(),
            ));
        }
    }

    // Only for transitions whose case row was written above (created or moved on).
    let snapshots: Vec<(&Prepared, &Arc<str>)> = items
        .iter()
        .filter(|p| p.t.create.is_some() || !p.events.is_empty())
        .filter_map(|p| p.snapshot.as_ref().map(|s| (*p, s)))
        .collect();
    if !snapshots.is_empty() {
        bulk(
            tx,
            "saving snapshots",
            &SAVE_SNAPSHOTS,
            &snapshots,
            |a, (p, s)| {
                a.add(p.case_id.clone())?;
                a.add(Arc::clone(s))
            },
        )
        .await?;
    }

    let completes: Vec<&Lease> = items
        .iter()
        .filter_map(|p| p.t.complete_job.as_ref())
        .collect();
    if !completes.is_empty() {
        let n = bulk(tx, "completing jobs", &COMPLETE_JOBS, &completes, |a, l| {
            a.add(l.job_id.to_string())?;
            a.add(l.owner.as_str())?;
            a.add(l.epoch)
        })
        .await?;
        if n != completes.len() as u64 {
            return Err(Fail::LeaseLost);
        }
    }

    let cancelled: Vec<&Uuid> = items.iter().flat_map(|p| &p.t.cancel_jobs).collect();
    if !cancelled.is_empty() {
        bulk(tx, "cancelling jobs", &CANCEL_JOBS, &cancelled, |a, id| {
            a.add(id.to_string())
        })
        .await?;
    }

    let fires: Vec<(&Prepared, &String)> = items
        .iter()
        .filter_map(|p| p.t.fire_timer.as_ref().map(|t| (*p, t)))
        .collect();
    if !fires.is_empty() {
        let n = bulk(tx, "firing timers", &FIRE_TIMERS, &fires, |a, (p, t)| {
            a.add(p.case_id.clone())?;
            a.add(t.as_str())?;
            a.add(p.now)
        })
        .await?;
        if n != fires.len() as u64 {
            return Err(Fail::TimerGone);
        }
    }

    let cancels: Vec<(&Prepared, &String)> = items
        .iter()
        .flat_map(|p| p.t.cancel_timers.iter().map(move |t| (*p, t)))
        .collect();
    if !cancels.is_empty() {
        bulk(
            tx,
            "cancelling timers",
            &CANCEL_TIMERS,
            &cancels,
            |a, (p, t)| {
                a.add(p.case_id.clone())?;
                a.add(t.as_str())
            },
        )
        .await?;
    }

    let arms: Vec<(&Prepared, &super::super::NewTimer)> = items
        .iter()
        .flat_map(|p| p.t.arm_timers.iter().map(move |t| (*p, t)))
        .collect();
    if !arms.is_empty() {
        bulk(tx, "arming timers", &ARM_TIMERS, &arms, |a, (p, t)| {
            let (owner, expires) = match &t.lease_to {
                Some((owner, expires)) => (Some(owner.as_str()), Some(micros(*expires))),
                None => (None, None),
            };
            a.add(p.case_id.clone())?;
            a.add(t.timer_id.as_str())?;
            a.add(t.node.as_str())?;
            a.add(micros(t.due))?;
            a.add(expires.unwrap_or(micros(t.due)))?;
            a.add(owner)?;
            a.add(i64::from(owner.is_some()))?;
            a.add(expires)
        })
        .await?;
    }

    let jobs: Vec<(&Prepared, &super::super::NewJob)> = items
        .iter()
        .flat_map(|p| p.t.jobs.iter().map(move |j| (*p, j)))
        .collect();
    if !jobs.is_empty() {
        bulk(tx, "enqueuing jobs", &ENQUEUE_JOBS, &jobs, |a, (p, j)| {
            let (owner, expires) = match &j.lease_to {
                Some((owner, expires)) => (Some(owner.as_str()), Some(micros(*expires))),
                None => (None, None),
            };
            let epoch = i64::from(owner.is_some());
            a.add(j.id.to_string())?;
            a.add(p.case_id.clone())?;
            a.add(j.kind.as_str())?;
            a.add(j.payload.to_string())?;
            a.add(micros(j.due))?;
            a.add(expires.unwrap_or(micros(j.due)))?;
            a.add(owner)?;
            a.add(epoch)?;
            a.add(expires)?;
            // Born leased counts as the first claim.
            a.add(epoch)
        })
        .await?;
    }

    let closes: Vec<(&Prepared, &String)> = items
        .iter()
        .flat_map(|p| p.t.close_tasks.iter().map(move |t| (*p, t)))
        .collect();
    if !closes.is_empty() {
        bulk(tx, "closing tasks", &CLOSE_TASKS, &closes, |a, (p, t)| {
            a.add(t.as_str())?;
            a.add(p.now)
        })
        .await?;
    }

    let escalations: Vec<&(String, String)> =
        items.iter().flat_map(|p| &p.t.escalate_tasks).collect();
    if !escalations.is_empty() {
        bulk(
            tx,
            "escalating tasks",
            &ESCALATE_TASKS,
            &escalations,
            |a, (t, role)| {
                a.add(t.as_str())?;
                a.add(role.as_str())
            },
        )
        .await?;
    }

    let opens: Vec<(&Prepared, &super::super::NewTask)> = items
        .iter()
        .flat_map(|p| p.t.open_tasks.iter().map(move |t| (*p, t)))
        .collect();
    if !opens.is_empty() {
        bulk(tx, "opening tasks", &OPEN_TASKS, &opens, |a, (p, t)| {
            a.add(t.task_id.as_str())?;
            a.add(p.case_id.clone())?;
            a.add(t.node.as_str())?;
            a.add(t.role.as_str())?;
            a.add(t.authority)?;
            a.add(t.due.map(micros))?;
            a.add(p.now)
        })
        .await?;
    }

    // A finished case owns no work: whatever its last transition did not clean up
    // explicitly (a job of a cancelled branch, an SLA timer) goes with it. A case born
    // finished in this transition owns only what the transition itself wrote: when that
    // is nothing (the automatic path), there is nothing to clear.
    let finished: Vec<&Prepared> = items
        .iter()
        .copied()
        .filter(|p| p.t.status.is_final())
        .filter(|p| {
            p.t.create.is_none()
                || !(p.t.jobs.is_empty() && p.t.arm_timers.is_empty() && p.t.open_tasks.is_empty())
        })
        .collect();
    if !finished.is_empty() {
        let id = |a: &mut SqliteArguments, p: &&Prepared| a.add(p.case_id.clone());
        bulk(
            tx,
            "clearing jobs of finished cases",
            &CLEAR_JOBS,
            &finished,
            id,
        )
        .await?;
        bulk(
            tx,
            "clearing timers of finished cases",
            &CLEAR_TIMERS,
            &finished,
            id,
        )
        .await?;
        bulk(
            tx,
            "closing tasks of finished cases",
            &CLOSE_CASE_TASKS,
            &finished,
            |a, p| {
                a.add(p.case_id.clone())?;
                a.add(p.now)
            },
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
        let mut tx = Tx {
            conn: &mut *conn,
            whole: true,
        };
        match apply(&mut tx, commits).await {
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
                // An `OR ROLLBACK` statement may have ended the transaction already; had
                // the rollback failed otherwise, BEGIN fails, and so does the batch.
                let _ = plain(conn, "ROLLBACK").await;
                plain(conn, "BEGIN IMMEDIATE").await?;
                stats.isolated_batches.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
    let mut out = Vec::with_capacity(commits.len());
    for p in commits {
        plain(conn, "SAVEPOINT one").await?;
        let mut tx = Tx {
            conn: &mut *conn,
            whole: false,
        };
        match apply(&mut tx, std::slice::from_ref(p)).await {
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

async fn claim(conn: &mut SqliteConnection, c: &Claim) -> Result<Claimed> {
    const P: &str = "claiming jobs";
    const T: &str = "claiming timers";
    let now = micros(c.now);
    let expires =
        c.now + chrono::Duration::from_std(c.lease_for).unwrap_or(chrono::Duration::seconds(30));
    let rows = sqlx::query(
        "UPDATE jobs SET lease_owner = ?1, lease_epoch = lease_epoch + 1, lease_expires_at = ?2,
                ready_at = ?2, claims = claims + 1
         WHERE id IN (SELECT id FROM jobs WHERE ready_at <= ?3 ORDER BY ready_at LIMIT ?4)
         RETURNING id, case_id, kind, payload, due_at, claims, lease_epoch",
    )
    .bind(&c.owner)
    .bind(micros(expires))
    .bind(now)
    .bind(i64::from(c.limit))
    .fetch_all(&mut *conn)
    .await
    .map_err(Error::db(P))?;
    let jobs = rows
        .iter()
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
        .collect::<Result<Vec<_>>>()?;
    let rows = sqlx::query(
        "UPDATE timers SET lease_owner = ?1, lease_epoch = lease_epoch + 1, lease_expires_at = ?2,
                ready_at = ?2
         WHERE rowid IN (SELECT rowid FROM timers WHERE ready_at <= ?3 ORDER BY ready_at LIMIT ?4)
         RETURNING case_id, timer_id, node, due_at, lease_epoch",
    )
    .bind(&c.owner)
    .bind(micros(expires))
    .bind(now)
    .bind(i64::from(c.limit))
    .fetch_all(&mut *conn)
    .await
    .map_err(Error::db(T))?;
    let timers = rows
        .iter()
        .map(|row| {
            Ok(ClaimedTimer {
                case_id: parse_uuid(T, &get::<String>(row, T, "case_id")?)?,
                timer_id: get(row, T, "timer_id")?,
                node: get(row, T, "node")?,
                due: from_micros(T, get(row, T, "due_at")?)?,
                epoch: get(row, T, "lease_epoch")?,
                expires_at: expires,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Claimed { jobs, timers })
}

async fn renew(
    conn: &mut SqliteConnection,
    owner: &str,
    held: Vec<Held>,
    until: Time,
) -> Result<Vec<Held>> {
    const P: &str = "renewing leases";
    let until = micros(until);
    let mut lost = Vec::new();
    for h in held {
        let query = match &h {
            Held::Job { id, epoch } => sqlx::query(
                "UPDATE jobs SET lease_expires_at = MAX(lease_expires_at, ?1), ready_at = MAX(ready_at, ?1)
                 WHERE id = ?2 AND lease_owner = ?3 AND lease_epoch = ?4",
            )
            .bind(until)
            .bind(id.to_string())
            .bind(owner)
            .bind(*epoch),
            Held::Timer {
                case_id,
                timer_id,
                epoch,
            } => sqlx::query(
                "UPDATE timers SET lease_expires_at = MAX(lease_expires_at, ?1), ready_at = MAX(ready_at, ?1)
                 WHERE case_id = ?2 AND timer_id = ?3 AND lease_owner = ?4 AND lease_epoch = ?5",
            )
            .bind(until)
            .bind(case_id.to_string())
            .bind(timer_id.as_str())
            .bind(owner)
            .bind(*epoch),
        };
        let n = query
            .execute(&mut *conn)
            .await
            .map_err(Error::db(P))?
            .rows_affected();
        if n == 0 && still_there(conn, &h).await? {
            lost.push(h);
        }
    }
    Ok(lost)
}

/// Whether the job or timer of a lease is still there (under another lease): a row that
/// is gone was completed, fired or cancelled, which is not a lost lease.
async fn still_there(conn: &mut SqliteConnection, held: &Held) -> Result<bool> {
    let query = match held {
        Held::Job { id, .. } => {
            sqlx::query("SELECT 1 FROM jobs WHERE id = ?1").bind(id.to_string())
        }
        Held::Timer {
            case_id, timer_id, ..
        } => sqlx::query("SELECT 1 FROM timers WHERE case_id = ?1 AND timer_id = ?2")
            .bind(case_id.to_string())
            .bind(timer_id.as_str()),
    };
    Ok(query
        .fetch_optional(&mut *conn)
        .await
        .map_err(Error::db("renewing leases"))?
        .is_some())
}

async fn release_owned(conn: &mut SqliteConnection, owner: &str, now: Time) -> Result<u64> {
    const P: &str = "releasing an owner's leases";
    let mut n = 0;
    for sql in [
        "UPDATE jobs SET lease_owner = NULL, lease_expires_at = NULL, ready_at = MAX(due_at, ?2)
         WHERE lease_owner = ?1",
        "UPDATE timers SET lease_owner = NULL, lease_expires_at = NULL, ready_at = MAX(due_at, ?2)
         WHERE lease_owner = ?1",
    ] {
        n += sqlx::query(sql)
            .bind(owner)
            .bind(micros(now))
            .execute(&mut *conn)
            .await
            .map_err(Error::db(P))?
            .rows_affected();
    }
    Ok(n)
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
    Claim(oneshot::Sender<Result<Claimed>>, Result<Claimed>),
    Renew(oneshot::Sender<Result<Vec<Held>>>, Result<Vec<Held>>),
    ReleaseOwned(oneshot::Sender<Result<u64>>, Result<u64>),
    Deploy(oneshot::Sender<Result<Deployed>>, Result<Deployed>),
    Refusal(oneshot::Sender<Result<()>>, Result<()>),
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
            Done::Renew(tx, r) => drop(tx.send(fix(r, failed))),
            Done::ReleaseOwned(tx, r) => drop(tx.send(fix(r, failed))),
            Done::Deploy(tx, r) => drop(tx.send(fix(r, failed))),
            Done::Refusal(tx, r) => drop(tx.send(fix(r, failed))),
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
        let carries_transitions = !commits.is_empty();
        if carries_transitions {
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
                // Claims, renewals, releases and deployments: a failure part way leaves at
                // most leases nobody works on, which expire (or a deployment to retry).
                Request::Claim(c, reply) => {
                    let r = claim(conn, &c).await;
                    done.push(Done::Claim(reply, r));
                }
                Request::Renew {
                    owner,
                    held,
                    until,
                    reply,
                } => {
                    let r = renew(conn, &owner, held, until).await;
                    done.push(Done::Renew(reply, r));
                }
                Request::ReleaseOwned(owner, now, reply) => {
                    let r = release_owned(conn, &owner, now).await;
                    done.push(Done::ReleaseOwned(reply, r));
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
                Request::Refusal(refusal, reply) => {
                    let r = super::refusals::insert(conn, &refusal).await;
                    done.push(Done::Refusal(reply, r));
                }
            }
        }
        plain(conn, "COMMIT").await?;
        if carries_transitions {
            stats.transactions.fetch_add(1, Ordering::Relaxed);
        }
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
/// After each batch it nudges the checkpointer.
pub(super) async fn run(
    mut conn: SqliteConnection,
    mut rx: mpsc::Receiver<Request>,
    stats: std::sync::Arc<Stats>,
    max_batch: usize,
    checkpoint: mpsc::Sender<()>,
) {
    let mut batch = Vec::with_capacity(max_batch);
    while rx.recv_many(&mut batch, max_batch).await > 0 {
        process(&mut conn, std::mem::take(&mut batch), &stats).await;
        // Full means a nudge is already pending: one checkpoint covers both.
        let _ = checkpoint.try_send(());
    }
    drop(checkpoint);
    let _ = sqlx::Connection::close(conn).await;
}

/// How long the checkpointer lets commits accumulate after the first one it hears of: a
/// page that many small commits rewrite (the last page of the events table, index pages)
/// is then copied and fsync'd once, not once per commit. At full speed this is well under
/// the writer's own auto-checkpoint bound.
const CHECKPOINT_DELAY: std::time::Duration = std::time::Duration::from_millis(100);

/// The checkpointer: copies committed WAL frames into the database file on its own
/// connection, so the writer's commits never wait for it. PASSIVE never blocks the
/// writer or readers; the writer's own (much larger) auto-checkpoint stays as the
/// bound on the WAL should this one fall behind. Ends when the writer does.
pub(super) async fn checkpointer(mut conn: SqliteConnection, mut nudges: mpsc::Receiver<()>) {
    while nudges.recv().await.is_some() {
        tokio::time::sleep(CHECKPOINT_DELAY).await;
        // Nudges that came in meanwhile are covered by this checkpoint.
        while nudges.try_recv().is_ok() {}
        if let Err(e) = plain(&mut conn, "PRAGMA wal_checkpoint(PASSIVE)").await {
            tracing::warn!(error = %e, "store checkpointer: checkpoint failed");
        }
    }
    let _ = sqlx::Connection::close(conn).await;
}
