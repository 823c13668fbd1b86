//! Transfer layer, server: threads kept for connections that leave a poller (see [`super::park`])
//! and must go on in a thread of their own, so such a connection does not pay for a thread's
//! creation and teardown. Must not import the server's HTTP code (connections, responses, the
//! root), the client, capture or report code.
//!
//! A job goes to a thread that waits for one, or to a new thread when none waits, so a job never
//! waits behind another. Threads left without a job for [`IDLE_RETIREMENT`] end; all waiting
//! threads end when the pool is dropped, and busy ones once their job is done.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::Duration;

/// How long a thread without a job waits for one before it ends.
const IDLE_RETIREMENT: Duration = Duration::from_secs(10);

/// Work for a thread of the pool.
pub(super) type Job = Box<dyn FnOnce() + Send>;

/// Threads that run jobs; see the module's documentation.
pub(super) struct Pool {
    shared: Arc<Shared>,
}

struct Shared {
    state: Mutex<State>,
    /// Signalled when a job is queued for a waiting thread, and when the pool is dropped.
    work: Condvar,
    name: String,
    stack_size: usize,
}

#[derive(Default)]
struct State {
    jobs: VecDeque<Job>,
    /// Threads waiting for a job and not yet promised one.
    idle: usize,
    closed: bool,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Pool {
    /// A pool with no thread yet; its threads are called `name` and have `stack_size` bytes of
    /// stack.
    pub(super) fn new(name: &str, stack_size: usize) -> Pool {
        Pool {
            shared: Arc::new(Shared {
                state: Mutex::default(),
                work: Condvar::new(),
                name: name.to_owned(),
                stack_size,
            }),
        }
    }

    /// Runs `job` on a waiting thread, or on a new one when none waits; gives it back when no
    /// thread can be started.
    pub(super) fn run(&self, job: Job) -> Result<(), Job> {
        let mut state = self.shared.state();
        if state.idle > 0 {
            // Promised to one waiting thread: the next job finds it no longer idle.
            state.idle -= 1;
            state.jobs.push_back(job);
            self.shared.work.notify_one();
            return Ok(());
        }
        drop(state);
        let shared = Arc::clone(&self.shared);
        // The job moves to the thread only once it has started.
        let handoff = Arc::new(Mutex::new(Some(job)));
        let theirs = Arc::clone(&handoff);
        let spawned = thread::Builder::new()
            .name(self.shared.name.clone())
            .stack_size(self.shared.stack_size)
            .spawn(move || {
                let first = theirs.lock().unwrap_or_else(PoisonError::into_inner).take();
                if let Some(job) = first {
                    job();
                }
                work(&shared);
            });
        match spawned {
            Ok(_) => Ok(()),
            Err(_) => {
                let job = handoff
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .take();
                job.map_or(Ok(()), Err)
            }
        }
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        let mut state = self.shared.state();
        state.closed = true;
        self.shared.work.notify_all();
    }
}

/// A thread's life after its first job: run the jobs promised to it until it retires or the pool
/// is dropped.
fn work(shared: &Shared) {
    let mut state = shared.state();
    loop {
        if let Some(job) = state.jobs.pop_front() {
            drop(state);
            job();
            state = shared.state();
            continue;
        }
        if state.closed {
            return;
        }
        state.idle += 1;
        let (mut woken, timeout) = shared
            .work
            .wait_timeout(state, IDLE_RETIREMENT)
            .unwrap_or_else(PoisonError::into_inner);
        if woken.jobs.is_empty() {
            // Not promised a job (a retirement or the pool's end): no longer counted as waiting.
            woken.idle -= 1;
            if timeout.timed_out() || woken.closed {
                return;
            }
        }
        state = woken;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Barrier;
    use std::sync::mpsc::channel;

    #[test]
    fn a_job_never_waits_behind_a_busy_thread() {
        let pool = Pool::new("test-pool", 64 * 1024);
        let gate = Arc::new(Barrier::new(2));
        let held = Arc::clone(&gate);
        let (done, finished) = channel();
        let first = done.clone();
        pool.run(Box::new(move || {
            held.wait();
            first.send(1).unwrap();
        }))
        .map_err(drop)
        .expect("runs");
        pool.run(Box::new(move || done.send(2).unwrap()))
            .map_err(drop)
            .expect("runs");
        assert_eq!(finished.recv().unwrap(), 2);
        gate.wait();
        assert_eq!(finished.recv().unwrap(), 1);
    }

    #[test]
    fn a_waiting_thread_takes_the_next_job() {
        let pool = Pool::new("test-pool", 64 * 1024);
        let (done, finished) = channel();
        let mut threads = Vec::new();
        for n in 0..20 {
            let done = done.clone();
            pool.run(Box::new(move || {
                done.send((n, thread::current().id())).unwrap();
            }))
            .map_err(drop)
            .expect("runs");
            let (got, thread) = finished.recv().unwrap();
            assert_eq!(got, n);
            threads.push(thread);
            // Until the thread counts itself as waiting again, a job would start another one.
            while pool.shared.state().idle == 0 {
                thread::yield_now();
            }
        }
        assert!(threads.iter().all(|t| *t == threads[0]), "{threads:?}");
    }

    #[test]
    fn dropping_the_pool_ends_its_waiting_threads() {
        let pool = Pool::new("test-pool", 64 * 1024);
        let (done, finished) = channel();
        pool.run(Box::new(move || done.send(()).unwrap()))
            .map_err(drop)
            .expect("runs");
        finished.recv().unwrap();
        while pool.shared.state().idle == 0 {
            thread::yield_now();
        }
        let shared = Arc::clone(&pool.shared);
        drop(pool);
        let started = std::time::Instant::now();
        // The thread's reference goes when it ends.
        while Arc::strong_count(&shared) > 1 {
            assert!(started.elapsed() < Duration::from_secs(2), "still waiting");
            thread::yield_now();
        }
    }
}
