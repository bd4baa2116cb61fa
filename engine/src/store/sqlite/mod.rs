//! The SQLite adapter: WAL, `synchronous=FULL`, one group-commit writer, a pool of readers.
//!
//! Every write (transitions, claims, releases, deployments) goes through the writer (its
//! own thread), which owns the only write connection; a checkpointer connection copies the
//! WAL back into the database beside it, so commits never wait for that; reads use a
//! separate pool (WAL lets them all run at once).

mod refusals;
mod writer;

use super::{
    CaseFilter, CaseRecord, CaseStatus, CaseSummary, ChainHead, Claim, Claimed, CommitStats,
    Committed, Deployed, Error, FlowVersion, Held, Result, Store, StoredEvent, TaskRecord, Time,
    Transition, Violation,
};
use chrono::DateTime;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{ConnectOptions, Row};
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;
use writer::{Prepared, Request, Stats};

/// Bound of the writer's queue: callers wait (backpressure) when it is full.
const QUEUE: usize = 8192;

/// A SQLite-backed [`Store`]. Cheap to clone.
#[derive(Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

struct Inner {
    tx: mpsc::Sender<Request>,
    read: SqlitePool,
    stats: Arc<Stats>,
    /// The database file, as resolved from the url, made absolute when it exists.
    file: std::path::PathBuf,
}

/// Options for opening a store.
#[derive(Debug, Clone)]
pub struct SqliteOptions {
    /// Largest number of transitions written in one database transaction.
    pub max_batch: usize,
    /// Reader connections.
    pub readers: u32,
    /// Create the database if it does not exist (else opening it fails with
    /// [`Error::NoDatabase`]: a command that only reads or acts on existing cases must not
    /// leave an empty database behind a mistyped path).
    pub create: bool,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        SqliteOptions {
            max_batch: 512,
            readers: 4,
            create: true,
        }
    }
}

pub(crate) fn micros(t: Time) -> i64 {
    t.timestamp_micros()
}

pub(crate) fn from_micros(place: &'static str, m: i64) -> Result<Time> {
    DateTime::from_timestamp_micros(m).ok_or_else(|| Error::Corrupt {
        place,
        detail: format!("time {m} out of range"),
    })
}

fn parse_uuid(place: &'static str, s: &str) -> Result<Uuid> {
    Uuid::parse_str(s).map_err(|e| Error::Corrupt {
        place,
        detail: format!("id `{s}`: {e}"),
    })
}

fn parse_status(place: &'static str, s: &str) -> Result<CaseStatus> {
    CaseStatus::parse(s).ok_or_else(|| Error::Corrupt {
        place,
        detail: format!("unknown case status `{s}`"),
    })
}

fn get<'r, T>(row: &'r SqliteRow, place: &'static str, column: &str) -> Result<T>
where
    T: sqlx::Decode<'r, sqlx::Sqlite> + sqlx::Type<sqlx::Sqlite>,
{
    row.try_get(column).map_err(Error::db(place))
}

impl SqliteStore {
    /// Opens (creating if missing) the database at `url` — `sqlite://path`, `sqlite:path`
    /// or a plain file path — and runs the embedded migrations.
    pub async fn open(url: &str) -> Result<Self> {
        Self::open_with(url, SqliteOptions::default()).await
    }

    pub async fn open_with(url: &str, options: SqliteOptions) -> Result<Self> {
        let connect = if url.starts_with("sqlite:") {
            SqliteConnectOptions::from_str(url).map_err(|error| Error::Url {
                url: url.to_string(),
                error,
            })?
        } else {
            SqliteConnectOptions::new().filename(Path::new(url))
        }
        .create_if_missing(options.create)
        .journal_mode(SqliteJournalMode::Wal)
        // Durability is the point: a commit is acknowledged only once it is on disk.
        .synchronous(SqliteSynchronous::Full)
        .busy_timeout(Duration::from_secs(30))
        .foreign_keys(true)
        .statement_cache_capacity(512)
        // Statement and savepoint journals in memory, not in temporary files.
        .pragma("temp_store", "memory")
        // Event payloads (0.5-3 KB) and snapshots (several KB) fit in a 16 KiB page
        // without overflow chains; fewer, fuller pages to write, log and checkpoint.
        // (Takes effect when the database is created.)
        .page_size(16384)
        // A WAL grown by a burst is cut back to this size once it restarts.
        .pragma("journal_size_limit", "134217728");

        let file = connect.get_filename().to_path_buf();
        if !options.create && file != Path::new(":memory:") && !file.exists() {
            return Err(Error::NoDatabase {
                path: file.display().to_string(),
            });
        }
        let mut write = connect
            .clone()
            // A full batch dirties ~8 MiB; a cache that holds it does not spill pages into
            // the WAL before the commit (negative: KiB; the default is 2 MiB).
            .pragma("cache_size", "-16384")
            // The checkpointer keeps the WAL short; should it fall behind, the writer
            // checkpoints itself once the WAL holds this many pages (64 MiB).
            .pragma("wal_autocheckpoint", "4096")
            .connect()
            .await
            .map_err(Error::db("opening the write connection"))?;
        sqlx::migrate!("src/store/sqlite/migrations")
            .run(&mut write)
            .await
            .map_err(Error::migrate)?;
        let read = SqlitePoolOptions::new()
            .max_connections(options.readers.max(1))
            .connect_with(connect.clone())
            .await
            .map_err(Error::db("opening the read pool"))?;
        // Checkpoints run beside the writer on their own connection (writer::checkpointer).
        let checkpoint = connect
            .connect()
            .await
            .map_err(Error::db("opening the checkpoint connection"))?;
        let (nudge, nudges) = mpsc::channel(1);
        let checkpointer = writer::checkpointer(checkpoint, nudges);
        let stats = Arc::new(Stats::default());
        let (tx, rx) = mpsc::channel(QUEUE);
        // The writer runs on its own thread with its own event loop: a batch is hundreds
        // of statement round trips to the connection's worker thread, and on the shared
        // runtime each of them would wait behind every ready engine task (under load, a
        // batch would spend most of its time waiting, the writer idle).
        let run = writer::run(write, rx, stats.clone(), options.max_batch.max(1), nudge);
        let thread = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .and_then(|rt| {
                std::thread::Builder::new()
                    .name("docket-store-writer".into())
                    .spawn(move || {
                        // The checkpointer shares the writer's event loop (it mostly waits).
                        rt.spawn(checkpointer);
                        rt.block_on(run)
                    })
            });
        if let Err(e) = thread {
            return Err(Error::WriterStopped(format!(
                "cannot start its thread: {e}"
            )));
        }
        let file = std::fs::canonicalize(&file).unwrap_or(file);
        Ok(SqliteStore {
            inner: Arc::new(Inner {
                tx,
                read,
                stats,
                file,
            }),
        })
    }

    /// The database file this store opened (absolute when it exists on disk).
    pub fn file(&self) -> &Path {
        &self.inner.file
    }

    async fn send<T>(&self, make: impl FnOnce(oneshot::Sender<Result<T>>) -> Request) -> Result<T> {
        let (reply, rx) = oneshot::channel();
        self.inner
            .tx
            .send(make(reply))
            .await
            .map_err(|_| Error::WriterStopped("its queue is closed".into()))?;
        rx.await
            .map_err(|_| Error::WriterStopped("it dropped the request".into()))?
    }

    fn pool(&self) -> &SqlitePool {
        &self.inner.read
    }

    fn flow_version_row(row: &SqliteRow) -> Result<FlowVersion> {
        const P: &str = "flow_versions";
        Ok(FlowVersion {
            id: parse_uuid(P, &get::<String>(row, P, "id")?)?,
            flow_id: get(row, P, "flow_id")?,
            version: get(row, P, "version")?,
            hash: get(row, P, "hash")?,
            source: get(row, P, "source")?,
            deployed_at: from_micros(P, get(row, P, "deployed_at")?)?,
        })
    }

    fn event_row(row: &SqliteRow) -> Result<StoredEvent> {
        const P: &str = "events";
        Ok(StoredEvent {
            case_id: parse_uuid(P, &get::<String>(row, P, "case_id")?)?,
            seq: get(row, P, "seq")?,
            kind: get(row, P, "type")?,
            payload: get(row, P, "payload")?,
            at: get(row, P, "at")?,
            prev_hash: get(row, P, "prev_hash")?,
            hash: get(row, P, "hash")?,
        })
    }

    fn task_row(row: &SqliteRow) -> Result<TaskRecord> {
        const P: &str = "tasks";
        Ok(TaskRecord {
            task_id: get(row, P, "id")?,
            case_id: parse_uuid(P, &get::<String>(row, P, "case_id")?)?,
            flow_id: get(row, P, "flow_id")?,
            node: get(row, P, "node")?,
            role: get(row, P, "role")?,
            escalated_to: get(row, P, "escalated_to")?,
            authority: get(row, P, "authority")?,
            due: get::<Option<i64>>(row, P, "due_at")?
                .map(|m| from_micros(P, m))
                .transpose()?,
            open: get::<i64>(row, P, "open")? != 0,
            opened_at: from_micros(P, get(row, P, "opened_at")?)?,
        })
    }
}

const TASK_COLUMNS: &str = "SELECT t.id, t.case_id, f.flow_id, t.node, t.role, t.escalated_to, t.authority, t.due_at, t.open, t.opened_at
     FROM tasks t JOIN cases c ON c.id = t.case_id JOIN flow_versions f ON f.id = c.flow_version_id";

impl Store for SqliteStore {
    async fn deploy_flow(
        &self,
        flow_id: &str,
        hash: &str,
        source: &str,
        id: Uuid,
        now: Time,
    ) -> Result<Deployed> {
        let (flow_id, hash, source) = (flow_id.to_string(), hash.to_string(), source.to_string());
        self.send(|reply| Request::Deploy {
            flow_id,
            hash,
            source,
            id,
            now,
            reply,
        })
        .await
    }

    async fn flow_version(&self, id: Uuid) -> Result<FlowVersion> {
        let row = sqlx::query("SELECT * FROM flow_versions WHERE id = ?1")
            .bind(id.to_string())
            .fetch_optional(self.pool())
            .await
            .map_err(Error::db("loading a flow version"))?
            .ok_or(Error::FlowVersionNotFound(id))?;
        Self::flow_version_row(&row)
    }

    async fn latest_flow_version(&self, flow_id: &str) -> Result<Option<FlowVersion>> {
        sqlx::query("SELECT * FROM flow_versions WHERE flow_id = ?1 ORDER BY version DESC LIMIT 1")
            .bind(flow_id)
            .fetch_optional(self.pool())
            .await
            .map_err(Error::db("loading the latest flow version"))?
            .map(|row| Self::flow_version_row(&row))
            .transpose()
    }

    async fn commit(&self, transition: Transition) -> Result<Committed> {
        // Canonicalising and hashing happen here, on the caller's task, so the single
        // writer only writes.
        let prepared = Box::new(Prepared::new(transition));
        self.send(|reply| Request::Commit(prepared, reply)).await
    }

    async fn load_case(&self, id: Uuid) -> Result<CaseRecord> {
        const P: &str = "cases";
        // One read transaction: the row and the events after its snapshot are one
        // snapshot of the database, so the events always end at the row's head even while
        // other transitions of the case commit.
        let mut tx = self
            .pool()
            .begin()
            .await
            .map_err(Error::db("loading a case"))?;
        let row = sqlx::query(
            "SELECT c.flow_version_id, c.status, c.outcome, c.last_seq, c.last_hash, s.state AS snapshot,
                    c.snapshot_seq, c.created_at, c.updated_at
             FROM cases c LEFT JOIN snapshots s ON s.case_id = c.id WHERE c.id = ?1",
        )
        .bind(id.to_string())
        .fetch_optional(&mut *tx)
        .await
        .map_err(Error::db("loading a case"))?
        .ok_or(Error::CaseNotFound(id))?;
        let snapshot = get::<Option<String>>(&row, P, "snapshot")?
            .map(|s| serde_json::from_str(&s))
            .transpose()
            .map_err(|e| Error::Corrupt {
                place: P,
                detail: format!("snapshot of {id}: {e}"),
            })?;
        let snapshot_seq: i64 = if snapshot.is_some() {
            get(&row, P, "snapshot_seq")?
        } else {
            0
        };
        let tail = sqlx::query("SELECT * FROM events WHERE case_id = ?1 AND seq > ?2 ORDER BY seq")
            .bind(id.to_string())
            .bind(snapshot_seq)
            .fetch_all(&mut *tx)
            .await
            .map_err(Error::db("reading a case's events"))?
            .iter()
            .map(Self::event_row)
            .collect::<Result<Vec<_>>>()?;
        tx.commit().await.map_err(Error::db("loading a case"))?;
        Ok(CaseRecord {
            id,
            flow_version: parse_uuid(P, &get::<String>(&row, P, "flow_version_id")?)?,
            status: parse_status(P, &get::<String>(&row, P, "status")?)?,
            outcome: get(&row, P, "outcome")?,
            head: ChainHead {
                seq: get(&row, P, "last_seq")?,
                hash: get(&row, P, "last_hash")?,
            },
            snapshot,
            snapshot_seq,
            tail,
            created_at: from_micros(P, get(&row, P, "created_at")?)?,
            updated_at: from_micros(P, get(&row, P, "updated_at")?)?,
        })
    }

    async fn list_cases(&self, filter: &CaseFilter) -> Result<Vec<CaseSummary>> {
        const P: &str = "cases";
        let rows = sqlx::query(
            "SELECT c.id, f.flow_id, f.version, c.status, c.outcome, c.last_seq, c.created_at, c.updated_at
             FROM cases c JOIN flow_versions f ON f.id = c.flow_version_id
             WHERE (?1 IS NULL OR c.status = ?1) AND (?2 IS NULL OR f.flow_id = ?2)
             ORDER BY c.created_at, c.id LIMIT ?3",
        )
        .bind(filter.status.map(|s| s.as_str()))
        .bind(filter.flow_id.as_deref())
        .bind(filter.limit.map(i64::from).unwrap_or(-1))
        .fetch_all(self.pool())
        .await
        .map_err(Error::db("listing cases"))?;
        rows.iter()
            .map(|row| {
                Ok(CaseSummary {
                    id: parse_uuid(P, &get::<String>(row, P, "id")?)?,
                    flow_id: get(row, P, "flow_id")?,
                    flow_version: get(row, P, "version")?,
                    status: parse_status(P, &get::<String>(row, P, "status")?)?,
                    outcome: get(row, P, "outcome")?,
                    last_seq: get(row, P, "last_seq")?,
                    created_at: from_micros(P, get(row, P, "created_at")?)?,
                    updated_at: from_micros(P, get(row, P, "updated_at")?)?,
                })
            })
            .collect()
    }

    async fn events(&self, case_id: Uuid, after: i64) -> Result<Vec<StoredEvent>> {
        let rows = sqlx::query("SELECT * FROM events WHERE case_id = ?1 AND seq > ?2 ORDER BY seq")
            .bind(case_id.to_string())
            .bind(after)
            .fetch_all(self.pool())
            .await
            .map_err(Error::db("reading a case's events"))?;
        rows.iter().map(Self::event_row).collect()
    }

    async fn scan_events(&self, from: Option<(Uuid, i64)>, limit: u32) -> Result<Vec<StoredEvent>> {
        let (case_id, seq) = from.map(|(c, s)| (c.to_string(), s)).unwrap_or_default();
        let rows = sqlx::query(
            "SELECT * FROM events WHERE (case_id, seq) > (?1, ?2) ORDER BY case_id, seq LIMIT ?3",
        )
        .bind(case_id)
        .bind(seq)
        .bind(i64::from(limit))
        .fetch_all(self.pool())
        .await
        .map_err(Error::db("scanning events"))?;
        rows.iter().map(Self::event_row).collect()
    }

    async fn chain_heads(&self) -> Result<Vec<(Uuid, ChainHead)>> {
        const P: &str = "cases";
        let rows = sqlx::query("SELECT id, last_seq, last_hash FROM cases ORDER BY id")
            .fetch_all(self.pool())
            .await
            .map_err(Error::db("reading chain heads"))?;
        rows.iter()
            .map(|row| {
                Ok((
                    parse_uuid(P, &get::<String>(row, P, "id")?)?,
                    ChainHead {
                        seq: get(row, P, "last_seq")?,
                        hash: get(row, P, "last_hash")?,
                    },
                ))
            })
            .collect()
    }

    async fn claim(&self, claim: Claim) -> Result<Claimed> {
        self.send(|reply| Request::Claim(claim, reply)).await
    }

    async fn renew_leases(&self, owner: &str, held: Vec<Held>, until: Time) -> Result<Vec<Held>> {
        if held.is_empty() {
            return Ok(held);
        }
        let owner = owner.to_string();
        self.send(|reply| Request::Renew {
            owner,
            held,
            until,
            reply,
        })
        .await
    }

    async fn release_owned(&self, owner: &str, now: Time) -> Result<u64> {
        let owner = owner.to_string();
        self.send(|reply| Request::ReleaseOwned(owner, now, reply))
            .await
    }

    async fn live_leases(&self, now: Time) -> Result<u64> {
        let row = sqlx::query(
            "SELECT (SELECT COUNT(*) FROM jobs WHERE lease_owner IS NOT NULL AND lease_expires_at > ?1)
                  + (SELECT COUNT(*) FROM timers WHERE lease_owner IS NOT NULL AND lease_expires_at > ?1) AS n",
        )
        .bind(micros(now))
        .fetch_one(self.pool())
        .await
        .map_err(Error::db("counting live leases"))?;
        let n: i64 = get(&row, "jobs", "n")?;
        Ok(n as u64)
    }

    async fn next_due(&self) -> Result<Option<Time>> {
        let row = sqlx::query(
            "SELECT MIN(t) AS t FROM (SELECT MIN(ready_at) AS t FROM jobs UNION ALL SELECT MIN(ready_at) FROM timers)",
        )
        .fetch_one(self.pool())
        .await
        .map_err(Error::db("reading the next due time"))?;
        get::<Option<i64>>(&row, "jobs", "t")?
            .map(|m| from_micros("jobs", m))
            .transpose()
    }

    async fn open_tasks(&self, role: Option<&str>) -> Result<Vec<TaskRecord>> {
        let sql = sqlx::AssertSqlSafe(format!(
            "{TASK_COLUMNS} WHERE t.open = 1 AND (?1 IS NULL OR t.role = ?1 OR t.escalated_to = ?1) ORDER BY t.opened_at, t.id"
        ));
        let rows = sqlx::query(sql)
            .bind(role)
            .fetch_all(self.pool())
            .await
            .map_err(Error::db("listing open tasks"))?;
        rows.iter().map(Self::task_row).collect()
    }

    async fn task(&self, task_id: &str) -> Result<Option<TaskRecord>> {
        let sql = sqlx::AssertSqlSafe(format!("{TASK_COLUMNS} WHERE t.id = ?1"));
        sqlx::query(sql)
            .bind(task_id)
            .fetch_optional(self.pool())
            .await
            .map_err(Error::db("loading a task"))?
            .map(|row| Self::task_row(&row))
            .transpose()
    }

    async fn fsck(&self) -> Result<Vec<Violation>> {
        // (rule, query returning case_id and detail)
        const CHECKS: &[(&str, &str)] = &[
            (
                "event-gap",
                "SELECT c.id, 'case head at seq ' || c.last_seq || ', events: ' || COALESCE(e.n, 0)
                    || ' from ' || COALESCE(e.lo, '-') || ' to ' || COALESCE(e.hi, '-')
                 FROM cases c LEFT JOIN (SELECT case_id, COUNT(*) n, MIN(seq) lo, MAX(seq) hi
                                         FROM events GROUP BY case_id) e ON e.case_id = c.id
                 WHERE COALESCE(e.n, 0) != c.last_seq
                    OR (c.last_seq > 0 AND (e.lo != 1 OR e.hi != c.last_seq))",
            ),
            (
                "orphan-events",
                "SELECT e.case_id, COUNT(*) || ' events without a case row' FROM events e
                 WHERE NOT EXISTS (SELECT 1 FROM cases c WHERE c.id = e.case_id) GROUP BY e.case_id",
            ),
            (
                "head-hash",
                "SELECT c.id, 'case head hash differs from its last event''s hash' FROM cases c
                 JOIN events e ON e.case_id = c.id AND e.seq = c.last_seq WHERE e.hash != c.last_hash",
            ),
            (
                "waiting-without-cause",
                "SELECT c.id, 'waiting, but no open task, timer or job' FROM cases c
                 WHERE c.status = 'waiting'
                   AND NOT EXISTS (SELECT 1 FROM tasks t WHERE t.case_id = c.id AND t.open = 1)
                   AND NOT EXISTS (SELECT 1 FROM timers m WHERE m.case_id = c.id)
                   AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.case_id = c.id)",
            ),
            (
                "running-without-job",
                "SELECT c.id, 'running, but no job' FROM cases c
                 WHERE c.status = 'running' AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.case_id = c.id)",
            ),
            (
                // Parallel branches may leave a task open while another branch runs, so a
                // running or incident case may own one; a finished case may not.
                "task-of-inactive-case",
                "SELECT t.case_id, 'open task ' || t.id || ' of a ' || COALESCE(c.status, 'missing') || ' case'
                 FROM tasks t LEFT JOIN cases c ON c.id = t.case_id
                 WHERE t.open = 1 AND (c.status IS NULL OR c.status IN ('completed', 'cancelled'))",
            ),
            (
                "work-of-finished-case",
                "SELECT c.id, 'finished (' || c.status || ') but owns ' || x.what FROM cases c
                 JOIN (SELECT case_id, 'a job' AS what FROM jobs UNION ALL SELECT case_id, 'a timer' FROM timers) x
                   ON x.case_id = c.id
                 WHERE c.status IN ('completed', 'cancelled')",
            ),
            (
                "orphan-work",
                "SELECT x.case_id, x.what || ' without a case row' FROM
                   (SELECT case_id, 'a job' AS what FROM jobs UNION ALL SELECT case_id, 'a timer' FROM timers) x
                 WHERE NOT EXISTS (SELECT 1 FROM cases c WHERE c.id = x.case_id)",
            ),
        ];
        let mut out = Vec::new();
        for (rule, sql) in CHECKS {
            let rows = sqlx::query(*sql)
                .fetch_all(self.pool())
                .await
                .map_err(Error::db("fsck"))?;
            for row in rows {
                let id: String = row.try_get(0).map_err(Error::db("fsck"))?;
                let detail: String = row.try_get(1).map_err(Error::db("fsck"))?;
                out.push(Violation {
                    rule,
                    case_id: Uuid::parse_str(&id).ok(),
                    detail,
                });
            }
        }
        Ok(out)
    }

    fn commit_stats(&self) -> CommitStats {
        self.inner.stats.snapshot()
    }

    async fn record_refusal(&self, refusal: super::Refusal) -> Result<()> {
        let refusal = Box::new(refusal);
        self.send(|reply| Request::Refusal(refusal, reply)).await
    }

    async fn refusals(&self, filter: &super::RefusalFilter) -> Result<Vec<super::Refusal>> {
        refusals::list(self.pool(), filter).await
    }
}

#[cfg(test)]
mod tests;
