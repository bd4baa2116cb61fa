//! The plugin pool: a few OS threads that run plugin calls back to back from one queue.
//!
//! Plugin calls are CPU-bound and may last up to their time limit, so they never run on
//! the async threads. Dedicated threads pulling from a queue stay busy as long as calls
//! are waiting; a permit-then-`spawn_blocking` scheme instead hands every call through the
//! async scheduler twice, and under load the pool sat idle between calls.

use std::panic::{AssertUnwindSafe, catch_unwind};
use tokio::sync::oneshot;

type Job = Box<dyn FnOnce() + Send>;

pub(super) struct PluginPool {
    queue: flume::Sender<Job>,
}

impl PluginPool {
    /// Starts `threads` threads; they end when the pool is dropped.
    pub(super) fn new(threads: usize) -> std::io::Result<PluginPool> {
        let (queue, jobs) = flume::unbounded::<Job>();
        for i in 0..threads.max(1) {
            let jobs = jobs.clone();
            std::thread::Builder::new()
                .name(format!("docket-plugins-{i}"))
                .spawn(move || {
                    // Every idle thread waits on the queue itself (no lock passed between
                    // them): a job wakes one thread, and a busy queue wakes none.
                    while let Ok(job) = jobs.recv() {
                        job();
                    }
                })?;
        }
        Ok(PluginPool { queue })
    }

    /// Runs `f` on a pool thread. `Err` carries the panic message if `f` panicked (or
    /// says the pool is gone).
    pub(super) async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, String> {
        let (reply, answer) = oneshot::channel();
        let job: Job = Box::new(move || {
            let _ = reply.send(catch_unwind(AssertUnwindSafe(f)));
        });
        self.queue
            .send(job)
            .map_err(|_| "the plugin pool has stopped".to_string())?;
        match answer.await {
            Ok(Ok(out)) => Ok(out),
            Ok(Err(panic)) => Err(panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a plugin call panicked".into())),
            Err(_) => Err("the plugin pool has stopped".into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[tokio::test]
    async fn runs_jobs_off_the_async_threads_and_reports_panics() {
        let pool = Arc::new(PluginPool::new(2).unwrap());
        let name = pool
            .run(|| std::thread::current().name().map(str::to_string))
            .await
            .unwrap();
        assert!(name.unwrap().starts_with("docket-plugins-"));
        let calls: Vec<_> = (0..64u32)
            .map(|i| {
                let pool = pool.clone();
                tokio::spawn(async move { pool.run(move || i * 2).await })
            })
            .collect();
        for (i, call) in calls.into_iter().enumerate() {
            assert_eq!(call.await.unwrap(), Ok(i as u32 * 2));
        }
        let err = pool.run(|| -> u32 { panic!("boom") }).await.unwrap_err();
        assert_eq!(err, "boom");
        // The thread that caught the panic still serves.
        assert_eq!(pool.run(|| 7).await, Ok(7));
    }
}
