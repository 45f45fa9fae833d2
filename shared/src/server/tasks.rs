//! [`Tasks`]: every task a server runs, spawned through one tracker, stopped by one token, and
//! reporting how the first of them ended ([`TaskError`]).

use std::future::Future;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Capacity of the task-exit channel; one message per task at most.
const EXIT_CAPACITY: usize = 64;

/// The error a failing task reports, whatever its type.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// How a server task ended before shutdown: every such ending stops the server.
#[derive(Debug, thiserror::Error)]
pub enum TaskError {
    /// The task returned an error.
    #[error("{task} failed")]
    Failed {
        /// The task's name.
        task: &'static str,
        /// Why it failed.
        #[source]
        source: BoxError,
    },
    /// The task returned without an error although nothing cancelled it.
    #[error("{task} stopped unexpectedly")]
    Stopped {
        /// The task's name.
        task: &'static str,
    },
}

impl TaskError {
    /// The name of the task that ended.
    pub fn task(&self) -> &'static str {
        match self {
            Self::Failed { task, .. } | Self::Stopped { task } => task,
        }
    }
}

/// Every task a server runs: spawned through one tracker, stopped by one token, reporting exits.
#[derive(Debug)]
pub struct Tasks {
    token: CancellationToken,
    tracker: TaskTracker,
    exit_tx: mpsc::Sender<TaskError>,
    exit_rx: mpsc::Receiver<TaskError>,
}

impl Default for Tasks {
    fn default() -> Self {
        let (exit_tx, exit_rx) = mpsc::channel(EXIT_CAPACITY);
        Self {
            token: CancellationToken::new(),
            tracker: TaskTracker::new(),
            exit_tx,
            exit_rx,
        }
    }
}

impl Drop for Tasks {
    fn drop(&mut self) {
        // Tasks never outlive their owner, even when it is dropped without `shutdown`.
        self.token.cancel();
    }
}

impl Tasks {
    /// The root token; tasks select on a child of it.
    pub fn token(&self) -> &CancellationToken {
        &self.token
    }

    /// The tracker every task runs on; [`Tasks::shutdown`] waits for all of them. A task spawned
    /// on it directly is awaited at shutdown but does not report its exit to [`Tasks::join`].
    pub fn tracker(&self) -> &TaskTracker {
        &self.tracker
    }

    /// Spawns `task` on the tracker. When it ends, its outcome is reported to [`Tasks::join`].
    pub fn spawn<F, E>(&self, name: &'static str, task: F)
    where
        F: Future<Output = Result<(), E>> + Send + 'static,
        E: Into<BoxError>,
    {
        let exit_tx = self.exit_tx.clone();
        self.tracker.spawn(async move {
            let exit = match task.await {
                Ok(()) => TaskError::Stopped { task: name },
                Err(error) => {
                    let source = error.into();
                    tracing::error!(task = name, error = %source, "task failed");
                    TaskError::Failed { task: name, source }
                }
            };
            let _ = exit_tx.try_send(exit);
        });
    }

    /// Spawns a task that cannot fail, such as a loop that runs until cancelled. Its ending is
    /// still reported to [`Tasks::join`].
    pub fn spawn_infallible<F>(&self, name: &'static str, task: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        self.spawn(name, async move {
            task.await;
            Ok::<(), std::convert::Infallible>(())
        });
    }

    /// Resolves when the first task exits, with how it ended. Cancel-safe.
    pub async fn join(&mut self) -> TaskError {
        match self.exit_rx.recv().await {
            Some(exit) => exit,
            None => std::future::pending().await,
        }
    }

    /// Cancels every task and waits for them, at most `timeout`. Returns whether all finished.
    pub async fn shutdown(self, timeout: Duration) -> bool {
        self.token.cancel();
        self.tracker.close();
        tokio::time::timeout(timeout, self.tracker.wait())
            .await
            .is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn join_reports_first_failing_task() {
        let mut tasks = Tasks::default();
        let token = tasks.token().clone();
        tasks.spawn_infallible("waits", async move { token.cancelled().await });
        tasks.spawn("fails", async { Err("boom") });

        let exit = tasks.join().await;

        assert_eq!(exit.task(), "fails");
        assert!(
            matches!(&exit, TaskError::Failed { source, .. } if source.to_string() == "boom"),
            "{exit:?}"
        );
        assert!(tasks.shutdown(Duration::from_secs(5)).await);
    }

    #[tokio::test]
    async fn join_reports_stopped_when_task_ends_without_error() {
        let mut tasks = Tasks::default();
        tasks.spawn_infallible("quits", async {});

        let exit = tasks.join().await;

        assert!(
            matches!(exit, TaskError::Stopped { task: "quits" }),
            "{exit:?}"
        );
        assert_eq!(exit.to_string(), "quits stopped unexpectedly");
    }

    #[tokio::test]
    async fn shutdown_reports_stragglers_when_a_task_ignores_cancellation() {
        let tasks = Tasks::default();
        tasks.spawn_infallible("stubborn", std::future::pending::<()>());

        assert!(!tasks.shutdown(Duration::from_millis(50)).await);
    }
}
