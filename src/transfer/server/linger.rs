//! Transfer layer, server: the server's connections that have sent their FIN and wait for the
//! peer's, all watched by one thread. Must not import the server's HTTP code (connections,
//! responses, the root), the client, capture or report code.
//!
//! A connection is closed only after the peer's FIN has been read (or a deadline has passed), so
//! that it is never closed with unread data, which makes the kernel send RST instead of FIN. Each
//! connection thread could wait for that FIN itself, but it would sleep and wake once more per
//! connection; one thread waiting on all of them with epoll wakes once for many FINs, and frees the
//! connection thread for the next connection at once. What goes on the wire is the same.

use std::collections::{HashMap, VecDeque};
use std::io;
use std::mem::MaybeUninit;
use std::net::TcpStream;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};

use super::epoll::{epoll_add, epoll_create, epoll_wait};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

/// Ready connections taken from the kernel in one wake-up.
const EVENTS_PER_WAKE: usize = 256;

/// How long the thread lets FINs gather after a wake-up, so that under load it wakes once for
/// many of them. A later close changes nothing on the wire: the kernel acknowledges the peer's
/// FIN when it comes, whether or not the socket has been read.
const GATHER: Duration = Duration::from_millis(5);

/// Closes connections once the peer's FIN has come; see the module's documentation. Its thread
/// ends once this is dropped and the last connection it watches is closed.
#[derive(Clone)]
pub(super) struct Lingerer {
    inner: Arc<Inner>,
}

struct Inner {
    epoll: OwnedFd,
    /// How long a connection may wait for the peer's FIN.
    timeout: Duration,
    watched: Mutex<Watched>,
}

#[derive(Default)]
struct Watched {
    /// By descriptor, with the number of its adoption (a closed descriptor's number comes back).
    sockets: HashMap<RawFd, (TcpStream, u64)>,
    /// Deadlines in the order connections were adopted, which is also their order in time.
    deadlines: VecDeque<(Instant, RawFd, u64)>,
    adopted: u64,
}

impl Inner {
    fn watched(&self) -> MutexGuard<'_, Watched> {
        self.watched.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Lingerer {
    /// Starts the thread; connections wait at most `timeout` for the peer's FIN.
    pub(super) fn start(timeout: Duration) -> io::Result<Lingerer> {
        let inner = Arc::new(Inner {
            epoll: epoll_create()?,
            timeout,
            watched: Mutex::default(),
        });
        let watcher = Arc::clone(&inner);
        thread::Builder::new()
            .name("synack-linger".into())
            .stack_size(64 * 1024)
            .spawn(move || watch(&watcher))?;
        Ok(Lingerer { inner })
    }

    /// Takes `stream`, whose sending half is shut down, and closes it once the peer's FIN has been
    /// read (whatever comes before it is dropped) or the timeout has passed.
    pub(super) fn adopt(&self, stream: TcpStream) {
        let fd = stream.as_raw_fd();
        let mut watched = self.inner.watched();
        watched.adopted += 1;
        let adoption = watched.adopted;
        watched
            .deadlines
            .push_back((Instant::now() + self.inner.timeout, fd, adoption));
        watched.sockets.insert(fd, (stream, adoption));
        // Registered under the lock, so the thread finds the socket when its first event comes.
        if epoll_add(&self.inner.epoll, fd).is_err() {
            // No room to watch it (the kernel's limit on watches): it is closed now, as a server
            // that does not linger would.
            watched.sockets.remove(&fd);
        }
    }
}

/// The thread's life: read what the watched connections send until their FIN or deadline.
fn watch(inner: &Arc<Inner>) {
    let mut events = [libc::epoll_event { events: 0, u64: 0 }; EVENTS_PER_WAKE];
    loop {
        let wait = inner
            .watched()
            .deadlines
            .front()
            .map_or(inner.timeout, |(deadline, _, _)| {
                deadline.saturating_duration_since(Instant::now())
            });
        let ready = epoll_wait(&inner.epoll, &mut events, wait).unwrap_or(0);
        let mut watched = inner.watched();
        for event in &events[..ready] {
            let Ok(fd) = RawFd::try_from(event.u64) else {
                continue;
            };
            if let Some((stream, _)) = watched.sockets.get(&fd)
                && peer_is_done(stream)
            {
                watched.sockets.remove(&fd);
            }
        }
        let now = Instant::now();
        while let Some(&(deadline, fd, adoption)) = watched.deadlines.front() {
            if deadline > now {
                break;
            }
            watched.deadlines.pop_front();
            if watched
                .sockets
                .get(&fd)
                .is_some_and(|(_, a)| *a == adoption)
            {
                watched.sockets.remove(&fd);
            }
        }
        // The connection threads hold the other references; once they are gone, no more come.
        if watched.sockets.is_empty() && Arc::strong_count(inner) == 1 {
            return;
        }
        drop(watched);
        if ready > 0 {
            thread::sleep(GATHER);
        }
    }
}

/// Reads and drops what the peer has sent; true once its FIN has come or the connection broke.
fn peer_is_done(stream: &TcpStream) -> bool {
    let mut scratch = [MaybeUninit::<u8>::uninit(); 4096];
    let socket = socket2::SockRef::from(stream);
    loop {
        match socket.recv_with_flags(&mut scratch, libc::MSG_DONTWAIT) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return error.kind() != io::ErrorKind::WouldBlock,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::{Shutdown, TcpListener};

    /// A connected pair on loopback: the server's side, whose FIN is already sent, and the
    /// client's.
    fn closing_pair() -> (TcpStream, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let client = TcpStream::connect(listener.local_addr().expect("addr")).expect("connect");
        let (server, _) = listener.accept().expect("accept");
        server.shutdown(Shutdown::Write).expect("FIN");
        (server, client)
    }

    /// Waits up to 2 s for the lingerer to close everything it holds; how long that took.
    fn until_all_closed(lingerer: &Lingerer) -> Duration {
        let started = Instant::now();
        while !lingerer.inner.watched().sockets.is_empty() {
            assert!(started.elapsed() < Duration::from_secs(2), "still open");
            thread::sleep(Duration::from_millis(5));
        }
        started.elapsed()
    }

    #[test]
    fn bytes_before_the_peers_fin_are_dropped_and_the_close_sends_no_reset() {
        let lingerer = Lingerer::start(Duration::from_secs(3)).expect("lingerer");
        let (server, mut client) = closing_pair();
        lingerer.adopt(server);
        client
            .write_all(b"sent after the server's FIN")
            .expect("send");
        thread::sleep(Duration::from_millis(20));
        client.shutdown(Shutdown::Write).expect("FIN");
        until_all_closed(&lingerer);
        client
            .set_read_timeout(Some(Duration::from_secs(2)))
            .expect("timeout");
        let mut buf = [0u8; 16];
        assert_eq!(client.read(&mut buf).expect("a FIN, not a reset"), 0);
    }

    #[test]
    fn a_peer_that_never_sends_its_fin_is_closed_at_the_timeout() {
        let timeout = Duration::from_millis(100);
        let lingerer = Lingerer::start(timeout).expect("lingerer");
        let (server, _client) = closing_pair();
        lingerer.adopt(server);
        assert!(until_all_closed(&lingerer) >= timeout - Duration::from_millis(10));
    }
}
