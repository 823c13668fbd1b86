//! Transfer layer, server: the threads that accept connections and serve them, kept between
//! connections so that a new connection does not pay for a thread's creation and teardown. Must not
//! import the server's HTTP code (connections, responses, the root), the client, capture or report
//! code.
//!
//! Each waiting thread blocks in accept() on the shared listening socket itself and serves the
//! connection it gets (leader/follower): a connection is never handed from one thread to another,
//! so it costs no wake-up of a second thread. Before a thread starts serving, it makes sure
//! another one is waiting in accept (starting one when none is), so a connection never waits
//! behind another and a slow client cannot hold up the next one. A thread takes a connection slot
//! before it calls accept, so at most `max_connections` are accepted at once and further ones wait
//! in the kernel's queue. Threads left waiting longer than [`IDLE_RETIREMENT`] end, one after
//! another, as long as another one still waits.

use std::io;
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use crate::timeline::Ts;

/// How long a thread with nothing to do waits for a connection before it ends. It is noticed
/// when accept() returns on the listener's receive timeout, so a thread may wait a little longer.
const IDLE_RETIREMENT: Duration = Duration::from_secs(10);

/// How long a thread pauses after a transient accept error (such as out of descriptors).
const ACCEPT_RETRY: Duration = Duration::from_millis(20);

/// A connection just accepted.
pub(super) struct Accepted {
    pub(super) stream: TcpStream,
    pub(super) peer: SocketAddr,
    /// When accept() returned, for events.
    pub(super) at: Ts,
    /// When accept() returned, for deadlines.
    pub(super) instant: Instant,
    /// The connection's slot, freed when this is dropped: it goes wherever the connection goes.
    pub(super) slot: Slot,
}

/// Threads that accept connections on one listener and serve them; stopped by [`Workers::stop`].
/// Connections being served when it stops finish on their own.
pub(super) struct Workers {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Workers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Workers")
            .field("name", &self.shared.name)
            .field("max_connections", &self.shared.max_connections)
            .finish_non_exhaustive()
    }
}

/// What every thread of the pool sees.
struct Shared {
    /// None once stopping: threads serving a connection then end without touching it again, so
    /// the socket is closed as soon as the threads in accept() have left it.
    listener: Mutex<Option<Arc<TcpListener>>>,
    max_connections: usize,
    stopping: AtomicBool,
    state: Mutex<State>,
    /// Signalled when a slot frees up while a thread waits for one, and when the pool stops.
    slot_freed: Condvar,
    /// Signalled when a thread stops waiting for connections for good.
    left: Condvar,
    serve: Box<dyn Fn(Accepted) + Send + Sync>,
    name: String,
    stack_size: usize,
}

#[derive(Default)]
struct State {
    /// Connection slots taken: by connections being served and by threads in accept().
    taken: usize,
    /// Threads waiting for a connection: for a free slot or in accept().
    waiting: usize,
    /// Threads waiting for a free slot, so freeing one wakes nobody when none does.
    waiting_for_slot: usize,
    /// Why accepting stopped, when it failed.
    error: Option<io::Error>,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A connection slot, freed when the connection ends (when this is dropped, even by panic).
pub(super) struct Slot(Held);

/// Whose count a slot is in.
enum Held {
    /// A pool's, whose threads may wait for it.
    Pool(Arc<Shared>),
    /// A plain counter's, which nobody waits on (see [`Slot::take`]).
    Counted(Arc<AtomicUsize>),
}

impl Slot {
    /// Takes a slot from `taken` when fewer than `max` are taken; None when none is free.
    pub(super) fn take(taken: &Arc<AtomicUsize>, max: usize) -> Option<Slot> {
        taken
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < max.max(1)).then_some(n + 1)
            })
            .ok()
            .map(|_| Slot(Held::Counted(Arc::clone(taken))))
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        match &self.0 {
            Held::Pool(shared) => {
                let mut state = shared.state();
                state.taken -= 1;
                if state.waiting_for_slot > 0 {
                    shared.slot_freed.notify_one();
                }
            }
            Held::Counted(taken) => {
                taken.fetch_sub(1, Ordering::AcqRel);
            }
        }
    }
}

impl Workers {
    /// Starts accepting on `listener` at once, serving at most `max_connections` (at least 1)
    /// connections at a time with `serve`, on threads called `name` with `stack_size` bytes of
    /// stack.
    pub(super) fn start(
        listener: TcpListener,
        max_connections: usize,
        name: &str,
        stack_size: usize,
        serve: impl Fn(Accepted) + Send + Sync + 'static,
    ) -> io::Result<Workers> {
        let shared = Arc::new(Shared {
            listener: Mutex::new(Some(Arc::new(listener))),
            max_connections: max_connections.max(1),
            stopping: AtomicBool::new(false),
            state: Mutex::new(State {
                waiting: 1,
                ..State::default()
            }),
            slot_freed: Condvar::new(),
            left: Condvar::new(),
            serve: Box::new(serve),
            name: name.to_owned(),
            stack_size,
        });
        spawn(&shared)?;
        Ok(Workers { shared })
    }

    /// Stops accepting: threads waiting for a connection end at once, from any network
    /// namespace, and the others once their connection is done.
    pub(super) fn stop(&self) {
        stop(&self.shared);
    }

    /// Waits until the pool has stopped (by [`Workers::stop`] or because accepting failed) and no
    /// thread waits for a connection any more; the error is why accepting failed.
    pub(super) fn join(&self) -> io::Result<()> {
        let mut state = self.shared.state();
        while !(self.shared.stopping.load(Ordering::SeqCst) && state.waiting == 0) {
            state = self
                .shared
                .left
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
        state.error.take().map_or(Ok(()), Err)
    }
}

/// Stops accepting: see [`Workers::stop`].
fn stop(shared: &Shared) {
    shared.stopping.store(true, Ordering::SeqCst);
    let listener = shared
        .listener
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .take();
    {
        // Notifying under the lock means a thread waiting for a slot cannot miss it.
        let _state = shared.state();
        shared.slot_freed.notify_all();
    }
    // Shutting the listening socket down wakes every thread blocked in accept() (Linux returns
    // EINVAL there) from any network namespace; a wake-up connection would have to come from the
    // server's own, and hangs the caller when made from elsewhere. It fails only when the socket
    // is not listening, and then no thread is blocked in accept().
    if let Some(listener) = listener {
        let _ = socket2::SockRef::from(&*listener).shutdown(Shutdown::Read);
    }
}

/// Starts a thread that waits for a connection; it must already be counted as waiting.
fn spawn(shared: &Arc<Shared>) -> io::Result<()> {
    let pool = Arc::clone(shared);
    thread::Builder::new()
        .name(shared.name.clone())
        .stack_size(shared.stack_size)
        .spawn(move || work(&pool))
        .map(drop)
}

/// A thread's life: wait for a connection, serve it, and again, until the pool stops or the
/// thread retires. The thread is counted as waiting whenever it is not serving.
fn work(shared: &Arc<Shared>) {
    let mut waiting_since = Instant::now();
    loop {
        let Some(listener) = take_slot(shared) else {
            return leave(shared);
        };
        let accepted = listener.accept();
        drop(listener);
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(error) => {
                drop(Slot(Held::Pool(Arc::clone(shared))));
                if shared.stopping.load(Ordering::SeqCst) {
                    return leave(shared);
                }
                // The listener's receive timeout: a chance to retire.
                if error.kind() == io::ErrorKind::WouldBlock {
                    if waiting_since.elapsed() >= IDLE_RETIREMENT && retire(shared) {
                        return;
                    }
                    continue;
                }
                if accept_error_is_transient(&error) {
                    thread::sleep(ACCEPT_RETRY);
                    continue;
                }
                shared.state().error = Some(error);
                stop(shared);
                return leave(shared);
            }
        };
        let accepted = Accepted {
            stream,
            peer,
            at: Ts::now(),
            instant: Instant::now(),
            slot: Slot(Held::Pool(Arc::clone(shared))),
        };
        if shared.stopping.load(Ordering::SeqCst) {
            // A client that came too late: its connection is closed unserved.
            drop(accepted);
            return leave(shared);
        }
        hand_over_waiting(shared);
        (shared.serve)(accepted);
        shared.state().waiting += 1;
        waiting_since = Instant::now();
    }
}

/// Waits for a free connection slot and takes it; None when the pool stops.
fn take_slot(shared: &Shared) -> Option<Arc<TcpListener>> {
    let mut state = shared.state();
    while state.taken >= shared.max_connections && !shared.stopping.load(Ordering::SeqCst) {
        state.waiting_for_slot += 1;
        state = shared
            .slot_freed
            .wait(state)
            .unwrap_or_else(PoisonError::into_inner);
        state.waiting_for_slot -= 1;
    }
    if shared.stopping.load(Ordering::SeqCst) {
        return None;
    }
    let listener = shared
        .listener
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone()?;
    state.taken += 1;
    Some(listener)
}

/// Stops counting the calling thread as waiting, before it serves a connection; when it was the
/// last one waiting, a new thread takes its place so the next connection is accepted at once.
fn hand_over_waiting(shared: &Arc<Shared>) {
    let replace = {
        let mut state = shared.state();
        // When this is the last waiting thread, the count stays for the one that replaces it.
        let replace = state.waiting == 1;
        if !replace {
            state.waiting -= 1;
        }
        replace
    };
    if replace && spawn(shared).is_ok() {
        // The new thread is counted in place of this one; it is not yet waiting, so a
        // connection that comes meanwhile waits in the kernel's queue for a moment.
        return;
    }
    if replace {
        // No thread could be started: this one waits again once its connection is done.
        shared.state().waiting -= 1;
    }
}

/// Ends the calling thread's waiting if another thread still waits; false when it is the last.
fn retire(shared: &Shared) -> bool {
    let mut state = shared.state();
    if state.waiting <= 1 {
        return false;
    }
    state.waiting -= 1;
    true
}

/// The calling thread ends and no longer waits for connections.
fn leave(shared: &Shared) {
    shared.state().waiting -= 1;
    shared.left.notify_all();
}

/// Errors after which accept() can succeed again.
pub(super) fn accept_error_is_transient(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::Interrupted
            | io::ErrorKind::WouldBlock
    ) || matches!(
        error.raw_os_error(),
        Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM | libc::EPROTO)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::sync::Barrier;
    use std::sync::mpsc::{Receiver, Sender, channel};

    /// Workers on a fresh loopback listener whose `serve` reports each connection's first byte
    /// and the serving thread, after `hold` returns.
    fn workers(
        max_connections: usize,
        hold: impl Fn(u8) + Send + Sync + 'static,
        served: Sender<(u8, thread::ThreadId)>,
    ) -> (Workers, SocketAddr) {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        let served = Mutex::new(served);
        let workers = Workers::start(listener, max_connections, "test-worker", 64 * 1024, {
            move |mut accepted: Accepted| {
                let mut byte = [0u8; 1];
                accepted.stream.read_exact(&mut byte).expect("a byte");
                hold(byte[0]);
                let _ = (accepted.stream.write_all(&byte), accepted.stream.flush());
                let _ = served
                    .lock()
                    .unwrap()
                    .send((byte[0], thread::current().id()));
            }
        })
        .expect("workers start");
        (workers, addr)
    }

    /// Workers whose connection starting with byte 1 is served only once the gate is passed.
    fn first_held_until_gate(
        max_connections: usize,
    ) -> (
        Workers,
        SocketAddr,
        Arc<Barrier>,
        Receiver<(u8, thread::ThreadId)>,
    ) {
        let gate = Arc::new(Barrier::new(2));
        let held = Arc::clone(&gate);
        let (done, served) = channel();
        let hold = move |n| {
            if n == 1 {
                held.wait();
            }
        };
        let (workers, addr) = workers(max_connections, hold, done);
        (workers, addr, gate, served)
    }

    fn send(addr: SocketAddr, byte: u8) -> TcpStream {
        let mut stream = TcpStream::connect(addr).expect("connect");
        stream.write_all(&[byte]).expect("send");
        stream
    }

    #[test]
    fn threads_are_reused_from_one_connection_to_the_next() {
        let (done, served) = channel();
        let (workers, addr) = workers(4, |_| {}, done);
        let mut threads = Vec::new();
        for n in 0..20 {
            let _stream = send(addr, n);
            let (byte, thread) = served.recv().unwrap();
            assert_eq!(byte, n);
            if !threads.contains(&thread) {
                threads.push(thread);
            }
            // The next connection comes once the thread that served this one waits again (on a
            // busy machine it may take a while to get there; one that came earlier would find
            // a single thread waiting and rightly start another).
            let started = Instant::now();
            while workers.shared.state().waiting < 2 {
                assert!(
                    started.elapsed() < Duration::from_secs(5),
                    "never waits again"
                );
                thread::yield_now();
            }
        }
        // The one that served and the one that waited meanwhile, taking turns.
        assert!(threads.len() <= 2, "{threads:?}");
        workers.stop();
        workers.join().expect("stopped cleanly");
    }

    #[test]
    fn a_busy_thread_never_holds_up_the_next_connection() {
        let (workers, addr, gate, served) = first_held_until_gate(4);
        let _first = send(addr, 1);
        let _second = send(addr, 2);
        assert_eq!(served.recv().unwrap().0, 2);
        gate.wait();
        assert_eq!(served.recv().unwrap().0, 1);
        workers.stop();
        workers.join().expect("stopped cleanly");
    }

    #[test]
    fn connections_over_the_bound_wait_and_stop_wakes_every_waiting_thread() {
        let (workers, addr, gate, served) = first_held_until_gate(1);
        let _first = send(addr, 1);
        let _second = send(addr, 2);
        let waiting = served.recv_timeout(Duration::from_millis(200));
        assert!(waiting.is_err(), "the second waits for the slot");
        gate.wait();
        assert_eq!(served.recv().unwrap().0, 1);
        assert_eq!(served.recv().unwrap().0, 2);
        let started = Instant::now();
        workers.stop();
        workers.join().expect("stopped cleanly");
        assert!(started.elapsed() < Duration::from_secs(2));
    }
}
