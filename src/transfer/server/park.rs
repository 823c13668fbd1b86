//! Transfer layer, server: keep-alive connections between two requests, parked in an epoll set
//! instead of each holding a thread blocked in read. Must not import the server's HTTP code
//! (connections, responses, the root), the client, capture or report code.
//!
//! A thread blocked in read sleeps and wakes once per request. Parked connections are watched by
//! one poller thread per core, which serves the ones that become readable itself, one after
//! another, as long as serving cannot block (what "cannot block" means is the host's to say); so
//! under load one wake-up serves many requests. A connection whose next step could block leaves
//! the poller for a thread of its own. What goes on the wire is the same.
//!
//! Given a door ([`super::door`]), the pollers also accept new connections from it and treat each
//! like a parked connection that has just become readable.

use std::collections::HashMap;
use std::io;
use std::os::fd::{OwnedFd, RawFd};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::thread;
use std::time::{Duration, Instant};

use super::door::{Door, Knock};
use super::epoll::{epoll_add, epoll_create, epoll_del, epoll_wait};
use super::workers::Accepted;

/// Ready connections taken from the kernel in one wake-up.
const EVENTS_PER_WAKE: usize = 64;

/// How long a poller with nothing to wait for sleeps before it checks whether it is still needed.
const EMPTY_WAIT: Duration = Duration::from_secs(1);

/// Connections accepted in a row before the parked ones are served again.
const ACCEPTS_PER_WAKE: usize = 16;

/// How long a poller stops watching the door when no connection can be accepted (every slot
/// taken, or out of descriptors).
const DOOR_RETRY: Duration = Duration::from_millis(10);

/// The epoll tag of the door; a connection's tag is its descriptor, which is never this.
const DOOR: u64 = u64::MAX;

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
    /// `guest` has something to read (bytes, its FIN or an error), or has just arrived; must not
    /// block.
    fn ready(&self, guest: G) -> Turn<G>;
    /// `guest`'s deadline passed with nothing read; the socket is no longer watched.
    fn expire(&self, guest: G);
    /// A connection just accepted from the door becomes a guest, whose turn comes at once (the
    /// kernel hands a connection over once its first bytes are there, TCP_DEFER_ACCEPT, so
    /// `ready` must expect one that has sent nothing, and park it); None when it cannot be
    /// served.
    fn arrive(&self, accepted: Accepted) -> Option<G>;
}

/// The pollers; each ends once this is dropped and its last guest has left.
pub(super) struct Parking<G: Guest> {
    lots: Arc<Lots<G>>,
    /// Connections held by threads of their own (see [`Parking::pays`]).
    held: AtomicUsize,
    /// Its pollers hold it weakly: they end once it is gone.
    _running: Arc<()>,
}

/// Counts a connection as held by a thread of its own while it lives.
pub(super) struct Held<'a>(&'a AtomicUsize);

impl Drop for Held<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// What the pollers share: one lot per poller, the host and the door.
struct Lots<G> {
    lots: Vec<Lot<G>>,
    host: Arc<dyn Host<G>>,
    /// Where new connections come from, if the pollers accept them.
    door: Option<Arc<Door>>,
}

/// One poller's epoll set and the guests just parked there.
struct Lot<G> {
    epoll: OwnedFd,
    arrivals: Mutex<Arrivals<G>>,
}

struct Arrivals<G> {
    /// Guests parked since the poller last looked, registered already.
    guests: Vec<G>,
    /// Set when the poller has ended: nothing may be parked here any more.
    closed: bool,
}

impl<G: Guest> Lots<G> {
    /// The lot a connection belongs to, so connections spread evenly over the pollers.
    fn lot_of(&self, fd: RawFd) -> usize {
        usize::try_from(fd).unwrap_or(0) % self.lots.len()
    }

    /// Parks `guest` in lot `index`; gives it back when that poller has ended or the socket
    /// cannot be watched.
    fn park(&self, index: usize, guest: G) -> Result<(), G> {
        let lot = &self.lots[index];
        let mut arrivals = lot.arrivals.lock().unwrap_or_else(PoisonError::into_inner);
        // Registered under the lock, so the poller finds the guest when its first event comes.
        if arrivals.closed || epoll_add(&lot.epoll, guest.fd()).is_err() {
            return Err(guest);
        }
        arrivals.guests.push(guest);
        Ok(())
    }
}

impl<G: Guest> Parking<G> {
    /// Starts `threads` pollers (at least one) serving with `host`, each also accepting from
    /// `door` when there is one.
    pub(super) fn start(
        threads: usize,
        host: Arc<dyn Host<G>>,
        door: Option<Arc<Door>>,
    ) -> io::Result<Parking<G>> {
        let mut lots = Vec::new();
        for _ in 0..threads.max(1) {
            let lot = Lot {
                epoll: epoll_create()?,
                arrivals: Mutex::new(Arrivals {
                    guests: Vec::new(),
                    closed: false,
                }),
            };
            if let Some(door) = &door
                && !door.watch(&lot.epoll, DOOR, true)
            {
                return Err(io::Error::other("the listening socket cannot be watched"));
            }
            lots.push(lot);
        }
        let lots = Arc::new(Lots { lots, host, door });
        let running = Arc::new(());
        for index in 0..lots.lots.len() {
            let shared = Arc::clone(&lots);
            let parking = Arc::downgrade(&running);
            let spawned = thread::Builder::new()
                .name("synack-park".into())
                .stack_size(256 * 1024)
                .spawn(move || poll(&shared, index, &parking));
            if let Err(error) = spawned {
                // Pollers already started see the door shut and end with `running`.
                if let Some(door) = &lots.door {
                    door.shut();
                }
                return Err(error);
            }
        }
        Ok(Parking {
            lots,
            held: AtomicUsize::new(0),
            _running: running,
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
        self.held.load(Ordering::Relaxed) > self.lots.lots.len()
    }

    /// Parks `guest` until it has something to read or its deadline passes; gives it back when
    /// it cannot be watched.
    pub(super) fn park(&self, guest: G) -> Result<(), G> {
        self.lots.park(self.lots.lot_of(guest.fd()), guest)
    }
}

/// The guests one poller watches.
struct Watched<G> {
    guests: HashMap<RawFd, G>,
    /// No guest's deadline is earlier than this.
    earliest: Option<Instant>,
}

impl<G: Guest> Watched<G> {
    /// Takes `guest`, already registered in the poller's epoll set.
    fn insert(&mut self, guest: G) {
        let deadline = guest.deadline();
        self.earliest = Some(self.earliest.map_or(deadline, |e| e.min(deadline)));
        self.guests.insert(guest.fd(), guest);
    }
}

/// One poller: its lot and what it watches.
struct Poller<'a, G> {
    lots: &'a Lots<G>,
    index: usize,
    watched: Watched<G>,
}

impl<G: Guest> Poller<'_, G> {
    fn lot(&self) -> &Lot<G> {
        &self.lots.lots[self.index]
    }

    /// Takes the guests parked here since the last look.
    fn take_arrivals(&mut self) {
        let arrived = std::mem::take(
            &mut self
                .lot()
                .arrivals
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .guests,
        );
        for guest in arrived {
            self.watched.insert(guest);
        }
    }

    /// Carries out a guest's turn; `registered`: its socket, when that is in this poller's epoll
    /// set. A guest just accepted that stays goes to the lot it belongs to.
    fn settle(&mut self, turn: Turn<G>, registered: Option<RawFd>) {
        match turn {
            Turn::Stay(guest) if registered.is_some() => self.watched.insert(guest),
            Turn::Stay(guest) => {
                let home = self.lots.lot_of(guest.fd());
                let guest = match self.lots.park(home, guest) {
                    Ok(()) => return,
                    Err(guest) if home != self.index => guest,
                    Err(guest) => return self.lots.host.expire(guest),
                };
                // Its own poller has ended: it stays here.
                if epoll_add(&self.lot().epoll, guest.fd()).is_ok() {
                    self.watched.insert(guest);
                } else {
                    // It cannot be watched: given up as at its deadline.
                    self.lots.host.expire(guest);
                }
            }
            Turn::Leave(departure) => {
                if let Some(fd) = registered {
                    // Before the socket moves on (or is closed and its number reused).
                    let _ = epoll_del(&self.lot().epoll, fd);
                }
                departure();
            }
        }
    }

    /// Accepts up to [`ACCEPTS_PER_WAKE`] connections from the door and serves or parks each;
    /// the door's last answer (Nobody also when more may wait: the door stays readable, so the
    /// next wait returns at once).
    fn admit(&mut self, door: &Door) -> Knock {
        for _ in 0..ACCEPTS_PER_WAKE {
            let accepted = match door.knock() {
                Knock::Came(accepted) => accepted,
                other => return other,
            };
            if let Some(guest) = self.lots.host.arrive(accepted) {
                let turn = self.lots.host.ready(guest);
                self.settle(turn, None);
            }
        }
        Knock::Nobody
    }

    /// Gives up on the guests whose deadline has passed.
    fn expire(&mut self, now: Instant) {
        if self.watched.earliest.is_none_or(|deadline| deadline > now) {
            return;
        }
        let expired: Vec<RawFd> = self
            .watched
            .guests
            .iter()
            .filter(|(_, guest)| guest.deadline() <= now)
            .map(|(&fd, _)| fd)
            .collect();
        for fd in expired {
            if let Some(guest) = self.watched.guests.remove(&fd) {
                let _ = epoll_del(&self.lot().epoll, fd);
                self.lots.host.expire(guest);
            }
        }
        self.watched.earliest = self.watched.guests.values().map(Guest::deadline).min();
    }

    /// Whether the poller may end: nothing to watch and nobody to park more. Closes the lot when
    /// so, under its lock, so nothing is parked there afterwards.
    fn may_end(&mut self, parking: &Weak<()>) -> bool {
        if !self.watched.guests.is_empty() || parking.strong_count() > 0 {
            return false;
        }
        let mut arrivals = self
            .lot()
            .arrivals
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if !arrivals.guests.is_empty() {
            // One that came meanwhile is still served.
            return false;
        }
        arrivals.closed = true;
        true
    }
}

/// A poller's life: serve guests as they become readable, give up on those whose deadline passed,
/// and accept new connections from the door, until the parking is dropped and no guest is left.
fn poll<G: Guest>(lots: &Lots<G>, index: usize, parking: &Weak<()>) {
    let mut events = [libc::epoll_event { events: 0, u64: 0 }; EVENTS_PER_WAKE];
    let mut poller = Poller {
        lots,
        index,
        watched: Watched {
            guests: HashMap::new(),
            earliest: None,
        },
    };
    // Whether the door is watched, and when to watch it again after a pause.
    let mut door_open = lots.door.is_some();
    let mut door_paused: Option<Instant> = None;
    loop {
        let wake_at = match (poller.watched.earliest, door_paused) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let wait = wake_at.map_or(EMPTY_WAIT, |at| {
            at.saturating_duration_since(Instant::now())
        });
        let ready = epoll_wait(&poller.lot().epoll, &mut events, wait).unwrap_or(0);
        poller.take_arrivals();
        for event in &events[..ready] {
            if event.u64 == DOOR {
                if let Some(door) = lots.door.as_deref().filter(|_| door_open) {
                    match poller.admit(door) {
                        Knock::Full => {
                            door_open = door.watch(&poller.lot().epoll, DOOR, false);
                            door_paused = door_open.then(|| Instant::now() + DOOR_RETRY);
                        }
                        Knock::Shut => door_open = false,
                        Knock::Came(_) | Knock::Nobody => {}
                    }
                }
                continue;
            }
            let Ok(fd) = RawFd::try_from(event.u64) else {
                continue;
            };
            let Some(guest) = poller.watched.guests.remove(&fd) else {
                continue;
            };
            let turn = lots.host.ready(guest);
            poller.settle(turn, Some(fd));
        }
        let now = Instant::now();
        if door_paused.is_some_and(|at| at <= now) {
            door_paused = None;
            if let Some(door) = &lots.door {
                door_open = door.watch(&poller.lot().epoll, DOOR, true);
            }
        }
        poller.expire(now);
        if poller.may_end(parking) {
            return;
        }
    }
}
