//! Transfer layer: keep-alive connections between two requests, parked in an epoll set instead
//! of each holding a thread blocked in read. Must not import capture or report code.
//!
//! A thread blocked in read sleeps and wakes once per request. Parked connections are watched by
//! one poller thread per core, which serves the ones that become readable itself, one after
//! another, as long as serving cannot block (what "cannot block" means is the host's to say); so
//! under load one wake-up serves many requests. A connection whose next step could block leaves
//! the poller for a thread of its own. What goes on the wire is the same.

use std::collections::HashMap;
use std::io;
use std::os::fd::{OwnedFd, RawFd};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use super::epoll::{epoll_add, epoll_create, epoll_del, epoll_wait};

/// Ready connections taken from the kernel in one wake-up.
const EVENTS_PER_WAKE: usize = 64;

/// How long a poller with nothing to wait for sleeps before it checks whether it is still needed.
const EMPTY_WAIT: Duration = Duration::from_secs(1);

/// A parked connection.
pub(super) trait Guest: Send + 'static {
    /// The socket watched for readability.
    fn fd(&self) -> RawFd;
    /// When the connection is to be given up if nothing comes.
    fn deadline(&self) -> Instant;
}

/// What becomes of a guest after its turn.
pub(super) enum Turn<G> {
    /// Parked again, waiting for its next bytes.
    Stay(G),
    /// Leaves the poller: the closure (which owns it) runs once the socket is no longer watched.
    Leave(Box<dyn FnOnce() + Send>),
}

/// Serves parked guests.
pub(super) trait Host<G>: Send + Sync + 'static {
    /// `guest` has something to read (bytes, its FIN or an error); must not block.
    fn ready(&self, guest: G) -> Turn<G>;
    /// `guest`'s deadline passed with nothing read; the socket is no longer watched.
    fn expire(&self, guest: G);
}

/// The pollers; each ends once this is dropped and its last guest has left.
pub(super) struct Parking<G: Guest> {
    pollers: Vec<Arc<Poller<G>>>,
    /// Connections held by threads of their own (see [`Parking::pays`]).
    held: AtomicUsize,
}

/// Counts a connection as held by a thread of its own while it lives.
pub(super) struct Held<'a>(&'a AtomicUsize);

impl Drop for Held<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

struct Poller<G> {
    epoll: OwnedFd,
    /// Guests parked since the poller last looked, registered already.
    arrivals: Mutex<Vec<G>>,
    host: Arc<dyn Host<G>>,
}

impl<G: Guest> Parking<G> {
    /// Starts `threads` pollers (at least one) serving with `host`.
    pub(super) fn start(threads: usize, host: Arc<dyn Host<G>>) -> io::Result<Parking<G>> {
        let mut pollers = Vec::new();
        for _ in 0..threads.max(1) {
            let poller = Arc::new(Poller {
                epoll: epoll_create()?,
                arrivals: Mutex::new(Vec::new()),
                host: Arc::clone(&host),
            });
            let watcher = Arc::clone(&poller);
            thread::Builder::new()
                .name("synack-park".into())
                .stack_size(256 * 1024)
                .spawn(move || poll(&watcher))?;
            pollers.push(poller);
        }
        Ok(Parking {
            pollers,
            held: AtomicUsize::new(0),
        })
    }

    /// Counts a connection as held by a thread of its own until the guard is dropped.
    pub(super) fn hold(&self) -> Held<'_> {
        self.held.fetch_add(1, Ordering::Relaxed);
        Held(&self.held)
    }

    /// Whether parking a connection pays: only when threads hold more connections than there
    /// are pollers. With fewer, every request wakes a thread alone either way, and a thread
    /// blocked in read wakes for one system call less.
    pub(super) fn pays(&self) -> bool {
        self.held.load(Ordering::Relaxed) > self.pollers.len()
    }

    /// Parks `guest` until it has something to read or its deadline passes; gives it back when
    /// it cannot be watched.
    pub(super) fn park(&self, guest: G) -> Result<(), G> {
        let fd = guest.fd();
        let index = usize::try_from(fd).unwrap_or(0) % self.pollers.len();
        let poller = &self.pollers[index];
        let mut arrivals = poller
            .arrivals
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        // Registered under the lock, so the poller finds the guest when its first event comes.
        if epoll_add(&poller.epoll, fd).is_err() {
            return Err(guest);
        }
        arrivals.push(guest);
        Ok(())
    }
}

/// A poller's life: serve guests as they become readable, give up on those whose deadline passed.
fn poll<G: Guest>(poller: &Arc<Poller<G>>) {
    let mut events = [libc::epoll_event { events: 0, u64: 0 }; EVENTS_PER_WAKE];
    let mut guests: HashMap<RawFd, G> = HashMap::new();
    // No guest's deadline is earlier than this.
    let mut earliest: Option<Instant> = None;
    loop {
        let wait = earliest.map_or(EMPTY_WAIT, |deadline| {
            deadline.saturating_duration_since(Instant::now())
        });
        let ready = epoll_wait(&poller.epoll, &mut events, wait).unwrap_or(0);
        let arrived = std::mem::take(
            &mut *poller
                .arrivals
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        );
        for guest in arrived {
            earliest = Some(earliest.map_or(guest.deadline(), |e| e.min(guest.deadline())));
            guests.insert(guest.fd(), guest);
        }
        for event in &events[..ready] {
            let Ok(fd) = RawFd::try_from(event.u64) else {
                continue;
            };
            let Some(guest) = guests.remove(&fd) else {
                continue;
            };
            match poller.host.ready(guest) {
                Turn::Stay(guest) => {
                    guests.insert(fd, guest);
                }
                Turn::Leave(departure) => {
                    // Before the socket moves on (or is closed and its number reused).
                    let _ = epoll_del(&poller.epoll, fd);
                    departure();
                }
            }
        }
        let now = Instant::now();
        if earliest.is_some_and(|deadline| deadline <= now) {
            let expired: Vec<RawFd> = guests
                .iter()
                .filter(|(_, guest)| guest.deadline() <= now)
                .map(|(&fd, _)| fd)
                .collect();
            for fd in expired {
                if let Some(guest) = guests.remove(&fd) {
                    let _ = epoll_del(&poller.epoll, fd);
                    poller.host.expire(guest);
                }
            }
            earliest = guests.values().map(Guest::deadline).min();
        }
        if guests.is_empty() && Arc::strong_count(poller) == 1 {
            // Nobody can park any more; one that came meanwhile is still served.
            let late = std::mem::take(
                &mut *poller
                    .arrivals
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner),
            );
            if late.is_empty() {
                return;
            }
            for guest in late {
                earliest = Some(earliest.map_or(guest.deadline(), |e| e.min(guest.deadline())));
                guests.insert(guest.fd(), guest);
            }
        }
    }
}
