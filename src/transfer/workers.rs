//! Transfer layer: the threads that serve connections, kept between connections so that a new
//! connection does not pay for a thread's creation and teardown. Must not import capture or
//! report code.
//!
//! A connection goes to a thread that is waiting for one, or to a new thread when none is, so a
//! connection never waits behind another (a slow client cannot hold up the next one). Threads
//! left waiting longer than [`IDLE_RETIREMENT`] end, one after another.

use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;
use std::time::Duration;

/// How long a thread with nothing to do waits for work before it ends.
const IDLE_RETIREMENT: Duration = Duration::from_secs(10);

/// Runs jobs of type `J` on threads that are reused; the threads end once it is dropped and
/// their current job is done.
pub(super) struct Workers<J: Send + 'static> {
    shared: Arc<Shared<J>>,
    jobs: Sender<J>,
    name: String,
    stack_size: usize,
}

struct Shared<J> {
    /// Threads waiting for a job and not yet promised one.
    idle: AtomicUsize,
    jobs: Mutex<Receiver<J>>,
    run: Box<dyn Fn(J) + Send + Sync>,
}

impl<J: Send + 'static> Workers<J> {
    /// Workers whose threads are called `name`, with `stack_size` bytes of stack, and do `run`.
    pub(super) fn new(
        name: &str,
        stack_size: usize,
        run: impl Fn(J) + Send + Sync + 'static,
    ) -> Workers<J> {
        let (jobs, receiver) = mpsc::channel();
        Workers {
            shared: Arc::new(Shared {
                idle: AtomicUsize::new(0),
                jobs: Mutex::new(receiver),
                run: Box::new(run),
            }),
            jobs,
            name: name.to_owned(),
            stack_size,
        }
    }

    /// Starts `job` at once: on a waiting thread, or else on a new one. When no thread can be
    /// started the job is dropped and the error returned.
    pub(super) fn run(&self, job: J) -> io::Result<()> {
        // Taking one from the count promises the job to one of the waiting threads, so two jobs
        // are never handed to the same single waiting thread.
        let promised = self
            .shared
            .idle
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1))
            .is_ok();
        if promised {
            // The receiver lives as long as `shared`, which this holds, so sending cannot fail.
            let _ = self.jobs.send(job);
            return Ok(());
        }
        let shared = Arc::clone(&self.shared);
        thread::Builder::new()
            .name(self.name.clone())
            .stack_size(self.stack_size)
            .spawn(move || work(&shared, job))
            .map(drop)
    }
}

/// A thread's life: its first job, then every job it is given until it retires or the workers
/// are dropped.
fn work<J>(shared: &Shared<J>, first: J) {
    let mut job = first;
    loop {
        (shared.run)(job);
        shared.idle.fetch_add(1, Ordering::AcqRel);
        match next_job(shared) {
            Some(next) => job = next,
            None => return,
        }
    }
}

/// Waits for a job; None when this thread should end.
fn next_job<J>(shared: &Shared<J>) -> Option<J> {
    loop {
        let received = shared
            .jobs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .recv_timeout(IDLE_RETIREMENT);
        match received {
            Ok(job) => return Some(job),
            // Retire only if no job has been promised to the waiting threads meanwhile;
            // otherwise that job is on its way and this thread must take it.
            Err(RecvTimeoutError::Timeout) => {
                let retired = shared
                    .idle
                    .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1))
                    .is_ok();
                if retired {
                    return None;
                }
            }
            Err(RecvTimeoutError::Disconnected) => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Barrier;
    use std::sync::mpsc::channel;

    #[test]
    fn a_finished_thread_takes_the_next_job() {
        let (done, finished) = channel();
        let workers = Workers::new("test-worker", 64 * 1024, move |n: u32| {
            done.send((n, thread::current().id())).unwrap();
        });
        workers.run(1).unwrap();
        let (_, first) = finished.recv().unwrap();
        // Wait until the thread counts itself as waiting, then hand it the next job.
        while workers.shared.idle.load(Ordering::Acquire) == 0 {
            thread::yield_now();
        }
        workers.run(2).unwrap();
        let (n, second) = finished.recv().unwrap();
        assert_eq!(n, 2);
        assert_eq!(first, second);
    }

    #[test]
    fn a_busy_thread_never_holds_up_the_next_job() {
        let gate = Arc::new(Barrier::new(2));
        let (done, finished) = channel();
        let held = Arc::clone(&gate);
        let workers = Workers::new("test-worker", 64 * 1024, move |n: u32| {
            if n == 1 {
                held.wait();
            }
            done.send(n).unwrap();
        });
        workers.run(1).unwrap();
        workers.run(2).unwrap();
        assert_eq!(finished.recv().unwrap(), 2);
        gate.wait();
        assert_eq!(finished.recv().unwrap(), 1);
    }
}
