//! Anonymous network namespaces, each made and kept by a home thread.
//!
//! A thread's network namespace is its own (per task, not per process), and threads inherit the
//! namespace of the thread that spawns them. So a home thread calls unshare(CLONE_NEWNET), sets the
//! namespace up, and then spawns every thread that must run inside it. Nothing is named under
//! /var/run/netns and nothing is mounted: the namespace is referenced only by that thread, the
//! threads it spawned and the sockets and devices made inside it, all of which end with the process,
//! even on kill -9. The namespace (with its TUN device) then vanishes with its last reference.

use std::any::Any;
use std::io;
use std::sync::mpsc;
use std::thread::{self, JoinHandle};

use super::EmulateError;

/// Work sent to a home thread: it spawns a thread (which inherits the namespace) to run it.
type Job = Box<dyn FnOnce() + Send>;

/// A network namespace and the home thread that spawns threads inside it.
#[derive(Debug)]
pub struct Namespace {
    label: &'static str,
    jobs: Option<mpsc::Sender<Job>>,
    home: Option<JoinHandle<()>>,
}

impl Namespace {
    /// Creates a namespace on a new home thread and runs `setup` there; returns once `setup` has
    /// finished, with its result.
    pub fn create<R: Send + 'static>(
        label: &'static str,
        setup: impl FnOnce() -> Result<R, EmulateError> + Send + 'static,
    ) -> Result<(Namespace, R), EmulateError> {
        let (ready_tx, ready_rx) = mpsc::sync_channel(1);
        let (jobs_tx, jobs_rx) = mpsc::channel::<Job>();
        let home = thread::Builder::new()
            .name(format!("ns-{label}"))
            .spawn(move || {
                let result = unshare_network().and_then(|()| setup());
                let ready = result.is_ok();
                if ready_tx.send(result).is_err() || !ready {
                    return;
                }
                // Serves until the link drops its sender; each job only spawns a thread.
                for job in jobs_rx {
                    job();
                }
            })
            .map_err(|source| {
                EmulateError::io(format!("cannot start the {label} namespace thread"), source)
            })?;
        let outcome = ready_rx.recv();
        match outcome {
            Ok(Ok(value)) => Ok((
                Namespace {
                    label,
                    jobs: Some(jobs_tx),
                    home: Some(home),
                },
                value,
            )),
            Ok(Err(error)) => {
                let _ = home.join();
                Err(error)
            }
            Err(_) => {
                let _ = home.join();
                Err(EmulateError::io(
                    format!("setting up the {label} namespace"),
                    io::Error::other("the namespace thread panicked"),
                ))
            }
        }
    }

    /// Runs `f` on a new thread inside this namespace, waits for it and returns its result (a panic
    /// in `f` is resumed here).
    pub fn run<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> T {
        let (handle_tx, handle_rx) = mpsc::sync_channel(1);
        let name = format!("in-{}", self.label);
        let job: Job = Box::new(move || {
            let _ = handle_tx.send(thread::Builder::new().name(name).spawn(f));
        });
        let jobs = self
            .jobs
            .as_ref()
            .unwrap_or_else(|| panic!("the {} namespace was closed", self.label));
        if jobs.send(job).is_err() {
            panic!("the {} namespace thread has ended", self.label);
        }
        let handle = match handle_rx.recv() {
            Ok(Ok(handle)) => handle,
            Ok(Err(error)) => panic!(
                "cannot spawn a thread in the {} namespace: {error}",
                self.label
            ),
            Err(_) => panic!("the {} namespace thread has ended", self.label),
        };
        match handle.join() {
            Ok(value) => value,
            Err(payload) => resume(payload),
        }
    }

    /// Ends the home thread. The namespace goes when the last thread, socket or device in it does.
    pub fn close(&mut self) {
        self.jobs = None;
        if let Some(home) = self.home.take() {
            let _ = home.join();
        }
    }
}

impl Drop for Namespace {
    fn drop(&mut self) {
        self.close();
    }
}

fn resume(payload: Box<dyn Any + Send>) -> ! {
    std::panic::resume_unwind(payload)
}

/// Moves the calling thread into a new, empty network namespace.
fn unshare_network() -> Result<(), EmulateError> {
    // SAFETY: unshare takes a flag word and touches no memory of ours; CLONE_NEWNET only changes
    // the calling thread's namespace, which the other threads of the process do not share.
    #[allow(unsafe_code)]
    let result = unsafe { libc::unshare(libc::CLONE_NEWNET) };
    if result == 0 {
        return Ok(());
    }
    let error = io::Error::last_os_error();
    match error.raw_os_error() {
        Some(libc::EPERM | libc::EACCES) => Err(EmulateError::Permission(
            "creating a network namespace".into(),
        )),
        Some(libc::EINVAL) => Err(EmulateError::io(
            "cannot create a network namespace (is the kernel built with CONFIG_NET_NS?)",
            error,
        )),
        _ => Err(EmulateError::io("cannot create a network namespace", error)),
    }
}
