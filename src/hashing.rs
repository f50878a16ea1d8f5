//! Password hashing threads. Argon2id is meant to be expensive (~19 MiB and tens of
//! milliseconds of a core per check); on a busy server a flood of sign-ins must not take the
//! cores from the requests that only check a session. So hashes run on a few threads of
//! their own at a lower scheduling priority: they get every spare cycle, and yield to the
//! request threads when there is none.

use std::sync::mpsc;
use std::sync::{Arc, Mutex};

type Job = Box<dyn FnOnce() + Send>;

/// Nice value of the hashing threads if `SCHED_IDLE` is refused (0 is normal, 19 the lowest).
pub const HASHING_NICENESS: i32 = 19;

pub struct HashPool {
    jobs: Mutex<mpsc::Sender<Job>>,
}

impl HashPool {
    pub fn new(threads: usize) -> Result<Self, String> {
        let (tx, rx) = mpsc::channel::<Job>();
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..threads.max(1) {
            let rx = rx.clone();
            std::thread::Builder::new()
                .name(format!("sessiond-hash-{i}"))
                .spawn(move || {
                    lower_this_threads_priority();
                    loop {
                        let job = match rx.lock() {
                            Ok(rx) => rx.recv(),
                            Err(_) => return,
                        };
                        match job {
                            Ok(job) => job(),
                            Err(_) => return, // the pool was dropped
                        }
                    }
                })
                .map_err(|e| format!("cannot start a hashing thread: {e}"))?;
        }
        Ok(Self { jobs: Mutex::new(tx) })
    }

    /// Runs `f` on a hashing thread; `None` if the pool has stopped.
    pub async fn run<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> Option<T> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            let _ = tx.send(f());
        });
        self.jobs.lock().ok()?.send(job).ok()?;
        rx.await.ok()
    }
}

#[cfg(target_os = "linux")]
fn lower_this_threads_priority() {
    let param = libc::sched_param { sched_priority: 0 };
    // SAFETY: sched_setscheduler reads its integer arguments and the sched_param we pass,
    // which lives through the call. On Linux, pid 0 names the calling thread (each thread
    // is its own scheduling entity), so this changes this hashing thread alone.
    if unsafe { libc::sched_setscheduler(0, libc::SCHED_IDLE, &param) } == 0 {
        return;
    }
    // SAFETY: setpriority only reads its integer arguments; PRIO_PROCESS with who = 0 is
    // the calling thread, as above.
    let rc = unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, HASHING_NICENESS) };
    if rc != 0 {
        tracing::debug!("could not lower the priority of a hashing thread");
    }
}

#[cfg(not(target_os = "linux"))]
fn lower_this_threads_priority() {}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn jobs_run_and_return_their_result() {
        let pool = HashPool::new(2).unwrap();
        let results = futures_join(&pool).await;
        assert_eq!(results, vec![0, 2, 4, 6]);
    }

    async fn futures_join(pool: &HashPool) -> Vec<i32> {
        let mut out = Vec::new();
        for i in 0..4 {
            out.push(pool.run(move || i * 2).await.unwrap());
        }
        out
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn hashing_threads_run_at_lower_priority() {
        let pool = HashPool::new(1).unwrap();
        // SAFETY: sched_getscheduler and getpriority read their integer arguments only;
        // pid 0 / who 0 is the calling thread.
        let (policy, nice) = pool
            .run(|| unsafe { (libc::sched_getscheduler(0), libc::getpriority(libc::PRIO_PROCESS, 0)) })
            .await
            .unwrap();
        // SAFETY: as above.
        let (our_policy, our_nice) = unsafe { (libc::sched_getscheduler(0), libc::getpriority(libc::PRIO_PROCESS, 0)) };
        assert_eq!(our_policy, libc::SCHED_OTHER, "the test itself runs at normal priority");
        assert!(
            policy == libc::SCHED_IDLE || nice > our_nice,
            "hashing thread: policy {policy}, nice {nice}; caller: nice {our_nice}"
        );
    }
}
