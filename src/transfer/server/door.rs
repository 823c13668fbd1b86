//! Transfer layer, server: a plain server's listening socket, from which its pollers (see
//! [`super::park`]) accept connections themselves. Must not import the server's HTTP code
//! (connections, responses, the root), the client, capture or report code.
//!
//! A thread blocked in accept() sleeps and wakes once per connection. The pollers watch the
//! listener in their epoll sets instead (each connection wakes one of them) and accept without
//! blocking, so under load one wake-up accepts and serves many connections. A connection is
//! accepted only with a free connection slot; while none is free, connections wait in the
//! kernel's queue, as they do for the threads.

use std::io;
use std::net::{Shutdown, TcpListener};
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use super::epoll::{epoll_add_listener, epoll_del};
use super::workers::{Accepted, Slot, accept_error_is_transient};
use crate::timeline::Ts;

/// Accepts connections for the pollers; see the module's documentation.
pub(super) struct Door {
    state: Mutex<State>,
    /// Signalled when the last accept() in progress returns after the door was shut.
    quiet: Condvar,
    taken: Arc<AtomicUsize>,
    max_connections: usize,
}

#[derive(Default)]
struct State {
    /// None once shut: the last accept() in progress closes it.
    listener: Option<Arc<TcpListener>>,
    /// Calls to accept() in progress.
    knocking: usize,
    /// Why accepting stopped, when it failed.
    error: Option<io::Error>,
}

/// What a poller finds at the door.
pub(super) enum Knock {
    /// A connection, with its slot.
    Came(Accepted),
    /// No connection waits.
    Nobody,
    /// A connection may wait, but none can be accepted now (every slot is taken, or the process is
    /// out of descriptors): the poller stops watching and tries again shortly.
    Full,
    /// The door is shut: the server stopped, or accepting failed.
    Shut,
}

impl std::fmt::Debug for Door {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Door")
            .field("max_connections", &self.max_connections)
            .finish_non_exhaustive()
    }
}

impl Door {
    /// Accepts from `listener` without blocking, at most `max_connections` (at least 1)
    /// connections at a time.
    pub(super) fn open(listener: TcpListener, max_connections: usize) -> io::Result<Door> {
        listener.set_nonblocking(true)?;
        Ok(Door {
            state: Mutex::new(State {
                listener: Some(Arc::new(listener)),
                ..State::default()
            }),
            quiet: Condvar::new(),
            taken: Arc::new(AtomicUsize::new(0)),
            max_connections: max_connections.max(1),
        })
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Starts (`watch`) or stops watching the listener in `epoll`, reporting it as `tag`; false
    /// when the door is shut. Done under the door's lock, so the listener cannot be closed (and
    /// its number reused) meanwhile.
    pub(super) fn watch(&self, epoll: &OwnedFd, tag: u64, watch: bool) -> bool {
        let state = self.state();
        let Some(listener) = &state.listener else {
            return false;
        };
        let fd = listener.as_raw_fd();
        if watch {
            epoll_add_listener(epoll, fd, tag).is_ok()
        } else {
            // Fails only when it was not watched there.
            let _ = epoll_del(epoll, fd);
            true
        }
    }

    /// Accepts the next connection, if one waits and a slot is free.
    pub(super) fn knock(&self) -> Knock {
        let listener = {
            let mut state = self.state();
            let Some(listener) = state.listener.clone() else {
                return Knock::Shut;
            };
            state.knocking += 1;
            listener
        };
        let knock = match Slot::take(&self.taken, self.max_connections) {
            None => Knock::Full,
            Some(slot) => match listener.accept() {
                Ok((stream, peer)) => Knock::Came(Accepted {
                    stream,
                    peer,
                    at: Ts::now(),
                    instant: Instant::now(),
                    slot,
                }),
                // Out of descriptors or memory: accepting again at once would fail again.
                Err(error)
                    if matches!(
                        error.raw_os_error(),
                        Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM)
                    ) =>
                {
                    Knock::Full
                }
                // Nothing waits, or a client gave up before it was accepted.
                Err(error) if accept_error_is_transient(&error) => Knock::Nobody,
                Err(error) => {
                    let mut state = self.state();
                    // A shut listener fails accept() (EINVAL): that is no failure of its own.
                    if state.listener.is_some() {
                        state.error = Some(error);
                        shut(&mut state);
                    }
                    Knock::Shut
                }
            },
        };
        drop(listener);
        let mut state = self.state();
        state.knocking -= 1;
        if state.listener.is_none() {
            if state.knocking == 0 {
                self.quiet.notify_all();
            }
            if let Knock::Came(accepted) = knock {
                // A client that came too late: its connection is closed unserved.
                drop(accepted);
                return Knock::Shut;
            }
        }
        knock
    }

    /// Stops accepting: every poller watching the listener wakes and finds the door shut.
    pub(super) fn shut(&self) {
        let mut state = self.state();
        shut(&mut state);
        if state.knocking == 0 {
            self.quiet.notify_all();
        }
    }

    /// Waits until the door is shut (by [`Door::shut`] or because accepting failed) and no
    /// accept() is in progress, so the listening socket is closed; the error is why accepting
    /// failed.
    pub(super) fn join(&self) -> io::Result<()> {
        let mut state = self.state();
        while state.listener.is_some() || state.knocking > 0 {
            state = self
                .quiet
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
        state.error.take().map_or(Ok(()), Err)
    }
}

/// Takes the listener out of the door and shuts it down, which wakes every epoll instance
/// watching it; it closes when the last accept() in progress lets go of it.
fn shut(state: &mut State) {
    if let Some(listener) = state.listener.take() {
        // Fails only when the socket is not listening, and then nothing watches it.
        let _ = socket2::SockRef::from(&*listener).shutdown(Shutdown::Read);
    }
}
