//! The forwarder: one thread per direction reads packets from one TUN device, times each from the
//! moment the kernel sent it (see [`super::stamp`]; the read time when that is unknown), asks the
//! direction's model for its fate, and writes each survivor to the other TUN device at its
//! release time.
//!
//! Waiting is ppoll with a relative timeout (timer slack cut to 1 ns) until `SPIN` (200 µs)
//! before the next release, at most `MAX_SLEEP` (1 ms) at a time, then a short busy loop that
//! keeps reading new arrivals, so a packet leaves within a few microseconds of its release time;
//! an idle link sleeps until a packet comes. The threads run SCHED_FIFO when allowed, so other work on the same cores
//! does not delay a release by a scheduler tick.

use std::cmp::Ordering as CmpOrdering;
use std::collections::BinaryHeap;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::schedule::{DirectionModel, Verdict};
use super::stamp::TxStamps;
use super::{DirectionStats, LATE};

/// How long before a release the forwarder stops sleeping and spins: covers the timer wake-up
/// latency of a sleeping thread, which reaches 70 µs on a virtual machine (p90 measured here).
const SPIN: Duration = Duration::from_micros(200);

/// Longest sleep while packets wait: a virtual CPU that sleeps long wakes late.
const MAX_SLEEP: Duration = Duration::from_millis(1);

/// Packets read in a row before due packets are released again.
const READ_BATCH: usize = 64;

/// Read buffer: the largest IPv4 packet (the MTU is at most 65535).
const BUFFER: usize = 65_536;

/// Packets up to this size are copied into a buffer of their own size while they wait, so a
/// stream of ACKs does not hold 64 KiB buffers.
const SMALL: usize = 2048;

/// Bytes the delay line may hold in one direction (about 250 ms at 8 Gbit/s); packets beyond it
/// are dropped and counted as queue drops. Only reachable without a rate limit, where no queue
/// bounds the link.
const MAX_HELD_BYTES: usize = 256 << 20;

/// Spare 64 KiB buffers kept for reuse.
const SPARE_BUFFERS: usize = 64;

/// One direction's counters, shared with [`super::EmulatedLink::stats`].
#[derive(Debug, Default)]
pub struct Counters {
    forwarded: AtomicU64,
    bytes: AtomicU64,
    lost: AtomicU64,
    loss_bursts: AtomicU64,
    queue_dropped: AtomicU64,
    aqm_dropped: AtomicU64,
    late: AtomicU64,
    max_late_us: AtomicU64,
}

impl Counters {
    /// The counts so far.
    pub fn snapshot(&self) -> DirectionStats {
        DirectionStats {
            forwarded: self.forwarded.load(Ordering::Relaxed),
            bytes: self.bytes.load(Ordering::Relaxed),
            lost: self.lost.load(Ordering::Relaxed),
            loss_bursts: self.loss_bursts.load(Ordering::Relaxed),
            queue_dropped: self.queue_dropped.load(Ordering::Relaxed),
            aqm_dropped: self.aqm_dropped.load(Ordering::Relaxed),
            late: self.late.load(Ordering::Relaxed),
            max_late_us: self.max_late_us.load(Ordering::Relaxed),
        }
    }

    /// Takes the model's drop counts (the forwarder's own drops, at the delay line's bound, are
    /// added to `queue_dropped` apart).
    fn record_drops(&self, model: &DirectionStats) {
        self.lost.store(model.lost, Ordering::Relaxed);
        self.loss_bursts.store(model.loss_bursts, Ordering::Relaxed);
        self.aqm_dropped.store(model.aqm_dropped, Ordering::Relaxed);
    }
}

/// A packet in the delay line, ordered by release time, then arrival.
struct Held {
    release: Instant,
    seq: u64,
    data: Vec<u8>,
    len: usize,
}

impl PartialEq for Held {
    fn eq(&self, other: &Self) -> bool {
        (self.release, self.seq) == (other.release, other.seq)
    }
}

impl Eq for Held {}

impl PartialOrd for Held {
    fn partial_cmp(&self, other: &Self) -> Option<CmpOrdering> {
        Some(self.cmp(other))
    }
}

impl Ord for Held {
    fn cmp(&self, other: &Self) -> CmpOrdering {
        // BinaryHeap is a max-heap: the earliest release must compare greatest.
        (other.release, other.seq).cmp(&(self.release, self.seq))
    }
}

/// Everything one direction's thread needs.
pub struct Forwarder {
    /// The TUN device packets are read from.
    pub input: Arc<File>,
    /// Kernel transmit stamps of the packets read from `input` (left out when the link neither
    /// delays nor limits, where timing does not matter and the extra reads would cost throughput).
    pub stamps: Option<TxStamps>,
    /// The TUN device packets are written to.
    pub output: Arc<File>,
    /// The direction's loss, queue and delay model.
    pub model: DirectionModel,
    /// Counts shown by `stats`.
    pub counters: Arc<Counters>,
    /// Set when the link stops.
    pub stopping: Arc<AtomicBool>,
    /// Becomes readable (end of file) when the link stops, waking a sleeping forwarder.
    pub stop_signal: UnixStream,
}

impl Forwarder {
    /// Moves packets until the link stops. Packets still in the delay line are discarded.
    pub fn run(mut self) {
        cut_timer_slack();
        let _ = raise_priority();
        let mut line: BinaryHeap<Held> = BinaryHeap::new();
        let mut held_bytes = 0usize;
        let mut seq = 0u64;
        let mut spare: Vec<Vec<u8>> = Vec::new();
        let mut buffer = vec![0u8; BUFFER];
        while !self.stopping.load(Ordering::Relaxed) {
            let now = Instant::now();
            while line.peek().is_some_and(|held| held.release <= now) {
                let Some(held) = line.pop() else { break };
                held_bytes -= held.data.capacity();
                self.deliver(&held.data[..held.len]);
                self.note_lateness(now.saturating_duration_since(held.release));
                if held.data.len() == BUFFER && spare.len() < SPARE_BUFFERS {
                    spare.push(held.data);
                }
            }

            let mut arrived = 0;
            while arrived < READ_BATCH {
                let len = match (&*self.input).read(&mut buffer) {
                    Ok(len) => len,
                    Err(error) if error.kind() == io::ErrorKind::WouldBlock => break,
                    Err(error) if error.kind() == io::ErrorKind::Interrupted => {
                        arrived += 1;
                        continue;
                    }
                    // The device is gone: the link is being torn down.
                    Err(_) => return,
                };
                let read_at = Instant::now();
                let at = self
                    .stamps
                    .as_mut()
                    .and_then(|stamps| stamps.sent_at(&buffer[..len], read_at))
                    .unwrap_or(read_at);
                arrived += 1;
                let release = match self.model.admit(at, len) {
                    Verdict::Release(release) => release,
                    Verdict::Lost | Verdict::AqmDropped => {
                        self.counters.record_drops(&self.model.stats());
                        continue;
                    }
                    Verdict::QueueDropped => {
                        self.counters.queue_dropped.fetch_add(1, Ordering::Relaxed);
                        continue;
                    }
                };
                let data = if len <= SMALL {
                    buffer[..len].to_vec()
                } else {
                    let fresh = spare.pop().unwrap_or_else(|| vec![0u8; BUFFER]);
                    std::mem::replace(&mut buffer, fresh)
                };
                if held_bytes + data.capacity() > MAX_HELD_BYTES {
                    self.counters.queue_dropped.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
                held_bytes += data.capacity();
                line.push(Held {
                    release,
                    seq,
                    data,
                    len,
                });
                seq += 1;
            }
            if arrived > 0 {
                continue;
            }

            let now = Instant::now();
            let next = line.peek().map(|held| held.release);
            if next.is_some_and(|release| release <= now + SPIN) {
                std::hint::spin_loop();
                continue;
            }
            let timeout = next.map(|release| (release - now - SPIN).min(MAX_SLEEP));
            crate::readable::wait_readable(&[&*self.input, &self.stop_signal], timeout);
        }
    }

    /// Counts a release later than [`LATE`] after its time.
    fn note_lateness(&self, late: Duration) {
        if late > LATE {
            self.counters.late.fetch_add(1, Ordering::Relaxed);
            let micros = u64::try_from(late.as_micros()).unwrap_or(u64::MAX);
            self.counters
                .max_late_us
                .fetch_max(micros, Ordering::Relaxed);
        }
    }

    fn deliver(&self, packet: &[u8]) {
        // A TUN write takes a whole packet or fails; a failure (the device going down at stop)
        // loses the packet like the wire would.
        if let Ok(written) = (&*self.output).write(packet) {
            self.counters.forwarded.fetch_add(1, Ordering::Relaxed);
            self.counters
                .bytes
                .fetch_add(written as u64, Ordering::Relaxed);
        }
    }
}

/// Lets the kernel wake this thread within nanoseconds of a timeout instead of the default 50 µs
/// slack.
fn cut_timer_slack() {
    // SAFETY: PR_SET_TIMERSLACK takes an integer argument and touches no memory of ours; it only
    // changes the calling thread's timer slack.
    #[allow(unsafe_code)]
    let _ = unsafe { libc::prctl(libc::PR_SET_TIMERSLACK, 1 as libc::c_ulong) };
}

/// Real-time priority for the forwarders, so a compiler or benchmark on the same cores cannot
/// delay a packet's wake-up by a scheduler tick. Best effort: without it the link still works,
/// with looser timing. The spin before each release is short (SPIN), and the kernel keeps 5% of
/// each second for other tasks whatever real-time threads do.
fn raise_priority() -> std::io::Result<()> {
    let param = libc::sched_param { sched_priority: 10 };
    // SAFETY: `param` is a live local the kernel only reads; pid 0 is the calling thread.
    #[allow(unsafe_code)]
    let result = unsafe { libc::sched_setscheduler(0, libc::SCHED_FIFO, &param) };
    if result != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}
