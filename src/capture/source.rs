//! Capture sources: a live interface or a saved file behind one `Source`, and the `Recorder` that
//! saves a live capture to a .pcap file from a thread. The only module that touches `pcap`.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use pcap::{Active, Capture, Offline, Precision};

use super::CaptureError;
use super::decode::{Decoded, Decoder, LinkType};
use super::records::{PcapRecords, RecordError};
use super::writer::PcapWriter;
use crate::timeline::Ts;

/// Size of a pcap file header.
const PCAP_FILE_HEADER: u64 = 24;

/// Default snap length: every header plus the HTTP request and status lines, not the file bodies.
pub const DEFAULT_SNAPLEN: i32 = 512;

/// One captured frame.
#[derive(Debug, Clone, Copy)]
pub struct Frame<'a> {
    /// Capture timestamp.
    pub ts: Ts,
    /// The captured bytes (at most the snap length).
    pub data: &'a [u8],
    /// The frame's length on the wire.
    pub wire_len: u32,
}

/// A packet source: a live interface or a capture file (pcap or pcapng, `-` for stdin).
pub enum Source {
    /// A live capture.
    Live(Capture<Active>),
    /// A saved capture.
    Offline {
        /// The open file.
        capture: Capture<Offline>,
        /// Its path, for error messages.
        path: PathBuf,
        /// Bytes read so far, as pcap records (for stdin, where there is no file size).
        offset: u64,
    },
    /// A classic pcap file libpcap opened, its records read by synack (see `records`).
    Records {
        /// The records after the file header.
        records: PcapRecords,
        /// Its path, for error messages.
        path: PathBuf,
        /// The link type libpcap read from the file header (a DLT number).
        dlt: i32,
    },
}

impl Source {
    /// Opens a capture file; `-` reads standard input. `filter` is a BPF expression.
    pub fn open_file(path: &Path, filter: Option<&str>) -> Result<Source, CaptureError> {
        let mut capture = Capture::from_file_with_precision(path, Precision::Nano)
            .map_err(|e| file_error(path, PCAP_FILE_HEADER.min(file_size(path).unwrap_or(0)), e))?;
        if let Some(filter) = filter {
            apply_filter(&mut capture, filter)?;
        } else if path.as_os_str() != "-"
            && let Some(records) = PcapRecords::open(path)
        {
            return Ok(Source::Records {
                records,
                path: path.to_owned(),
                dlt: capture.get_datalink().0,
            });
        }
        Ok(Source::Offline {
            capture,
            path: path.to_owned(),
            offset: PCAP_FILE_HEADER,
        })
    }

    /// The interface this host sends to `server` from, as the routing table chooses it (what
    /// `ip route get` answers): the interface that holds the local address a UDP socket connected
    /// to `server` takes. Connecting a UDP socket sends nothing. `None` when there is no route or
    /// no capture device holds that address.
    pub fn iface_towards(server: std::net::SocketAddr) -> Option<String> {
        let any: std::net::SocketAddr = if server.is_ipv4() {
            (std::net::Ipv4Addr::UNSPECIFIED, 0).into()
        } else {
            (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
        };
        let socket = std::net::UdpSocket::bind(any).ok()?;
        socket.connect(server).ok()?;
        let local = socket.local_addr().ok()?.ip();
        pcap::Device::list()
            .ok()?
            .into_iter()
            .find(|d| d.addresses.iter().any(|a| a.addr == local))
            .map(|d| d.name)
    }

    /// Opens a live capture on `iface`, keeping `snaplen` bytes of each frame.
    pub fn open_live(iface: &str, filter: &str, snaplen: i32) -> Result<Source, CaptureError> {
        let inactive = Capture::from_device(iface).map_err(|e| open_error(iface, e))?;
        let mut capture = inactive
            .snaplen(snaplen)
            .immediate_mode(true)
            .precision(Precision::Nano)
            // Whole packets (TLS) fill the kernel's ring some fifty times faster than headers do.
            .buffer_size(if snaplen > DEFAULT_SNAPLEN {
                256 << 20
            } else {
                32 << 20
            })
            .timeout(100)
            .open()
            .map_err(|e| open_error(iface, e))?;
        apply_filter(&mut capture, filter)?;
        Ok(Source::Live(capture))
    }

    /// The link type of the frames this source yields.
    pub fn link_type(&self) -> Result<LinkType, CaptureError> {
        let dlt = match self {
            Source::Live(c) => c.get_datalink().0,
            Source::Offline { capture, .. } => capture.get_datalink().0,
            Source::Records { dlt, .. } => *dlt,
        };
        LinkType::from_dlt(dlt)
    }

    /// The next frame, or `None` at the end of the file (or when a live capture was broken off).
    pub fn next_frame(&mut self) -> Result<Option<Frame<'_>>, CaptureError> {
        let packet = match self {
            Source::Records { records, path, .. } => {
                return match records.next_record() {
                    Ok(record) => Ok(record.map(|r| Frame {
                        ts: r.ts,
                        data: r.data,
                        wire_len: r.wire_len,
                    })),
                    Err(RecordError::Truncated(detail)) => Err(CaptureError::Truncated {
                        at_byte: file_size(path).unwrap_or(0),
                        path: path.clone(),
                        detail,
                    }),
                    Err(RecordError::Damaged(detail)) => Err(CaptureError::File {
                        path: path.clone(),
                        detail,
                    }),
                };
            }
            Source::Live(c) => match c.next_packet() {
                Ok(packet) => packet,
                Err(pcap::Error::NoMorePackets) => return Ok(None),
                // The read timeout only bounds batching: the caller asks again.
                Err(pcap::Error::TimeoutExpired) => return Err(CaptureError::Timeout),
                Err(e) => return Err(CaptureError::Pcap(e.to_string())),
            },
            Source::Offline {
                capture,
                path,
                offset,
            } => match capture.next_packet() {
                Ok(packet) => {
                    *offset += 16 + u64::from(packet.header.caplen);
                    packet
                }
                Err(pcap::Error::NoMorePackets) => return Ok(None),
                Err(e) => return Err(file_error(path, *offset, e)),
            },
        };
        Ok(Some(Frame {
            ts: header_ts(packet.header),
            data: packet.data,
            wire_len: packet.header.len,
        }))
    }
}

/// How long a stopped capture goes on reading the frames the kernel already holds.
const DRAIN_LIMIT: Duration = Duration::from_millis(500);

/// How long a stopped capture waits for one more frame on its way before it closes.
const DRAIN_QUIET: Duration = Duration::from_millis(10);

/// How often it looks for one meanwhile.
const DRAIN_POLL: Duration = Duration::from_micros(500);

/// Whether the stop byte has arrived on `stopped` (a non-blocking socket).
fn stop_asked(stopped: &UnixStream) -> bool {
    let mut byte = [0u8; 1];
    matches!((&*stopped).read(&mut byte), Ok(1))
}

/// Counts from a finished live capture.
#[derive(Debug, Clone, Copy, Default)]
pub struct RecordStats {
    /// Frames written to the file.
    pub packets: u64,
    /// Frames the kernel dropped because the capture buffer was full.
    pub kernel_dropped: u64,
    /// Frames the interface dropped.
    pub interface_dropped: u64,
}

/// How long the capture remembers when it last saw an endpoint: so another program's many
/// short connections do not pile up, and an endpoint quiet that long is quiet for any wait.
const ENDPOINT_MEMORY: Duration = Duration::from_secs(60);

/// Frames between two clear-outs of endpoints not seen for `ENDPOINT_MEMORY`.
const FORGET_EVERY: u64 = 4096;

/// When the capture thread last took in a frame (its clock, not the frame's timestamp, so a
/// thread that fell behind makes a wait longer, never shorter): any frame, and per endpoint.
struct LastFrames {
    /// When the capture started: what counts as the last frame of an endpoint not seen since.
    started: Ts,
    any: AtomicI64,
    by_endpoint: Mutex<EndpointTimes>,
}

/// When each endpoint (address and port) was last seen in a frame, either way.
struct EndpointTimes {
    seen: HashMap<SocketAddr, Ts>,
    frames: u64,
}

impl LastFrames {
    fn new(now: Ts) -> LastFrames {
        LastFrames {
            started: now,
            any: AtomicI64::new(now.0),
            by_endpoint: Mutex::new(EndpointTimes {
                seen: HashMap::new(),
                frames: 0,
            }),
        }
    }

    /// A frame was taken in at `now`, between `endpoints` when it is TCP or UDP.
    fn saw(&self, now: Ts, endpoints: Option<[SocketAddr; 2]>) {
        self.any.store(now.0, Ordering::Relaxed);
        let mut times = self
            .by_endpoint
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        for endpoint in endpoints.into_iter().flatten() {
            times.seen.insert(endpoint, now);
        }
        times.frames += 1;
        if times.frames.is_multiple_of(FORGET_EVERY) {
            let memory = i64::try_from(ENDPOINT_MEMORY.as_nanos()).unwrap_or(i64::MAX);
            times.seen.retain(|_, seen| now.0 - seen.0 < memory);
        }
    }

    /// The latest frame of any kind, in nanoseconds since the epoch.
    fn any(&self) -> i64 {
        self.any.load(Ordering::Relaxed)
    }

    /// The latest frame to or from any of `endpoints`; the capture's start when none was seen
    /// (a connection's last packets may still be on their way to a capture started after it).
    fn latest_of(&self, endpoints: &[SocketAddr]) -> i64 {
        let times = self
            .by_endpoint
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        endpoints
            .iter()
            .filter_map(|e| times.seen.get(e))
            .fold(self.started.0, |latest, seen| latest.max(seen.0))
    }
}

/// Waits until `latest()` (nanoseconds since the epoch) is `quiet` in the past, or `limit` has
/// passed.
fn wait_until_quiet(latest: impl Fn() -> i64, quiet: Duration, limit: Duration) {
    let started = Instant::now();
    let quiet_ns = i64::try_from(quiet.as_nanos()).unwrap_or(i64::MAX);
    while started.elapsed() < limit {
        if Ts::now().0.saturating_sub(latest()) >= quiet_ns {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A live capture running in its own thread, saving every frame to a .pcap file.
pub struct Recorder {
    thread: Option<JoinHandle<Result<RecordStats, CaptureError>>>,
    /// Written to once to stop the capture thread; it waits on the other end.
    stop: UnixStream,
    last_frames: Arc<LastFrames>,
    part: PathBuf,
    path: PathBuf,
}

impl Recorder {
    /// Starts capturing on `iface` with `filter` into `path` (written as `path.part` until stopped).
    /// Returns once the capture is active, so traffic sent afterwards is seen.
    pub fn start(
        iface: &str,
        filter: &str,
        snaplen: i32,
        path: &Path,
    ) -> Result<Recorder, CaptureError> {
        let Source::Live(capture) = Source::open_live(iface, filter, snaplen)? else {
            unreachable!("open_live returns a live source");
        };
        // Decodes each frame's endpoints for `wait_quiet_for`.
        let mut decoder = Decoder::new(LinkType::from_dlt(capture.get_datalink().0)?);
        let part = part_path(path);
        let linktype = capture.get_datalink().0;
        let mut savefile = PcapWriter::create(&part, linktype, snaplen.unsigned_abs())?;
        // The thread reads without blocking and waits in poll: a read blocked in libpcap would
        // not return for a stop, and stopping it with libpcap's breakloop lost a frame now and
        // then (1 of 2000 in 1 of 5 loaded runs of tests/capture_stop.rs; none in 8 this way).
        let mut capture = capture
            .setnonblock()
            .map_err(|e| CaptureError::Pcap(e.to_string()))?;
        let (stop, stopped) = UnixStream::pair()
            .and_then(|(stop, stopped)| stopped.set_nonblocking(true).map(|()| (stop, stopped)))
            .map_err(|e| CaptureError::Pcap(format!("cannot start the capture thread: {e}")))?;
        let last_frames = Arc::new(LastFrames::new(Ts::now()));
        let last = last_frames.clone();
        let thread = std::thread::Builder::new()
            .name("capture".into())
            .spawn(move || {
                let mut count = 0u64;
                loop {
                    match capture.next_packet() {
                        Ok(packet) => {
                            // A write error (a full disk) ends the capture at once; the
                            // session sees it after the run and stops.
                            savefile.write(packet.header, packet.data)?;
                            count += 1;
                            let ts = header_ts(packet.header);
                            let endpoints = match decoder.decode(ts, packet.data, packet.header.len)
                            {
                                Decoded::Tcp(segment) => Some(segment.key),
                                Decoded::Udp(datagram) => Some(datagram.key),
                                _ => None,
                            };
                            last.saw(Ts::now(), endpoints.map(|key| [key.a, key.b]));
                        }
                        Err(pcap::Error::TimeoutExpired) => {
                            if stop_asked(&stopped) {
                                break;
                            }
                            crate::readable::wait_readable(&[&capture, &stopped], None);
                        }
                        Err(pcap::Error::NoMorePackets) => break,
                        Err(e) => return Err(CaptureError::Pcap(e.to_string())),
                    }
                }
                // Stopped: frames the kernel holds already belong to the capture too (a capture
                // thread that was not scheduled for a while leaves some behind), and so do
                // frames still on their way to it (on lo, a softirq backlog delivers a frame
                // after its send returned): read until none has come for DRAIN_QUIET, for at
                // most DRAIN_LIMIT.
                let drained_by = Instant::now() + DRAIN_LIMIT;
                let mut last_frame = Instant::now();
                while Instant::now() < drained_by {
                    match capture.next_packet() {
                        Ok(packet) => {
                            savefile.write(packet.header, packet.data)?;
                            count += 1;
                            last_frame = Instant::now();
                        }
                        Err(pcap::Error::TimeoutExpired) if last_frame.elapsed() < DRAIN_QUIET => {
                            std::thread::sleep(DRAIN_POLL);
                        }
                        Err(_) => break,
                    }
                }
                savefile.finish()?;
                let stats = capture
                    .stats()
                    .map_err(|e| CaptureError::Pcap(e.to_string()))?;
                Ok(RecordStats {
                    packets: count,
                    kernel_dropped: u64::from(stats.dropped),
                    interface_dropped: u64::from(stats.if_dropped),
                })
            })
            .map_err(|e| CaptureError::Pcap(format!("cannot start the capture thread: {e}")))?;
        Ok(Recorder {
            thread: Some(thread),
            stop,
            last_frames,
            part,
            path: path.to_owned(),
        })
    }

    /// Waits until no frame has arrived for `quiet`, or `limit` has passed: the last teardown
    /// packets of a run arrive after the client has returned.
    pub fn wait_quiet(&self, quiet: Duration, limit: Duration) {
        wait_until_quiet(|| self.last_frames.any(), quiet, limit);
    }

    /// Waits until no frame to or from any of `endpoints` (addresses and ports, TCP or UDP: the
    /// client sides of a run's connections) has arrived for `quiet`, or `limit` has passed. Other
    /// traffic the filter lets in (another program talking to the same server) does not hold it.
    /// Like `wait_quiet`, it waits `quiet` from the capture's start at least.
    pub fn wait_quiet_for(&self, endpoints: &[SocketAddr], quiet: Duration, limit: Duration) {
        let endpoints: Vec<SocketAddr> = endpoints
            .iter()
            .map(|e| SocketAddr::new(e.ip().to_canonical(), e.port()))
            .collect();
        wait_until_quiet(|| self.last_frames.latest_of(&endpoints), quiet, limit);
    }

    /// The capture's error if it has already ended by itself (a write failed): a session checks
    /// after each run, so tables are never built from a capture cut short.
    pub fn check(&mut self) -> Result<(), CaptureError> {
        if !self.thread.as_ref().is_some_and(JoinHandle::is_finished) {
            return Ok(());
        }
        let ended = self.join();
        crate::created::discard(&self.part);
        match ended? {
            Ok(_) => Err(CaptureError::Pcap("the capture ended by itself".into())),
            Err(e) => Err(e),
        }
    }

    /// Stops the capture and puts the file in place; returns its counts.
    pub fn stop(mut self) -> Result<RecordStats, CaptureError> {
        let stats = self.join()?;
        match stats {
            Ok(stats) => {
                crate::created::complete(&self.part, &self.path).map_err(|e| {
                    CaptureError::Save {
                        path: self.path.clone(),
                        detail: e.to_string(),
                    }
                })?;
                Ok(stats)
            }
            Err(e) => {
                crate::created::discard(&self.part);
                Err(e)
            }
        }
    }

    fn join(&mut self) -> Result<Result<RecordStats, CaptureError>, CaptureError> {
        // The thread ends at its next wake-up; a failed write leaves nothing to wake.
        let _ = (&self.stop).write_all(&[1]);
        match self.thread.take() {
            Some(thread) => thread
                .join()
                .map_err(|_| CaptureError::Pcap("the capture thread panicked".into())),
            None => Err(CaptureError::Pcap("the capture was already stopped".into())),
        }
    }
}

impl Drop for Recorder {
    /// A capture abandoned on an error path stops, and leaves no half-written file behind.
    fn drop(&mut self) {
        if self.thread.is_some() {
            let _ = self.join();
            crate::created::discard(&self.part);
        }
    }
}

fn file_size(path: &Path) -> Option<u64> {
    std::fs::metadata(path)
        .ok()
        .filter(|m| m.is_file())
        .map(|m| m.len())
}

/// A read error; a cut-off file names the byte where it ends (its size, or the bytes read from a
/// pipe).
fn file_error(path: &Path, offset: u64, error: pcap::Error) -> CaptureError {
    let detail = libpcap_words(path, &error);
    if detail.contains("truncated") {
        CaptureError::Truncated {
            path: path.to_owned(),
            at_byte: file_size(path).unwrap_or(offset),
            detail,
        }
    } else {
        CaptureError::File {
            path: path.to_owned(),
            detail,
        }
    }
}

/// libpcap's words on a file, without what the error around them says already: the crate's
/// "libpcap error: " and the path libpcap puts before the system's reason ("x.pcap: No such file
/// or directory").
pub(super) fn libpcap_words(path: &Path, error: &pcap::Error) -> String {
    let text = error.to_string();
    let text = text.strip_prefix("libpcap error: ").unwrap_or(&text);
    let named = format!("{}: ", path.display());
    let text = text.strip_prefix(named.as_str()).unwrap_or(text);
    match text {
        "unknown file format" => "not a pcap or pcapng file (libpcap: unknown file format)".into(),
        _ => text.to_owned(),
    }
}

/// `<path>.part`: where a capture file is written until it is complete.
pub(super) fn part_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".part");
    path.with_file_name(name)
}

/// A frame's timestamp (sources are opened at nanosecond precision).
pub(super) fn header_ts(header: &pcap::PacketHeader) -> Ts {
    // Both sources are opened at nanosecond precision, so tv_usec holds nanoseconds.
    Ts::from_parts(header.ts.tv_sec, header.ts.tv_usec)
}

fn apply_filter<T: pcap::Activated + ?Sized>(
    capture: &mut Capture<T>,
    filter: &str,
) -> Result<(), CaptureError> {
    capture
        .filter(filter, true)
        .map_err(|e| CaptureError::Filter {
            filter: filter.to_owned(),
            detail: e.to_string(),
        })
}

fn open_error(iface: &str, error: pcap::Error) -> CaptureError {
    let detail = error.to_string();
    let lower = detail.to_lowercase();
    if lower.contains("permission") || lower.contains("not permitted") {
        CaptureError::Permission {
            iface: iface.to_owned(),
            binary: std::env::current_exe()
                .map(|p| p.display().to_string())
                .unwrap_or_else(|_| "synack".into()),
        }
    } else if lower.contains("no such device") || lower.contains("doesn't exist") {
        CaptureError::NoInterface {
            iface: iface.to_owned(),
            detail,
        }
    } else {
        CaptureError::Pcap(detail)
    }
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;

    use super::{ENDPOINT_MEMORY, FORGET_EVERY, LastFrames, Source};
    use crate::timeline::Ts;

    fn addr(text: &str) -> SocketAddr {
        text.parse().unwrap()
    }

    /// A server, the client end of a run's connection, and another program's client end.
    fn server_mine_other() -> (SocketAddr, SocketAddr, SocketAddr) {
        (
            addr("127.0.0.1:8080"),
            addr("127.0.0.1:40000"),
            addr("127.0.0.1:40001"),
        )
    }

    #[test]
    fn another_programs_frames_to_the_same_server_leave_a_runs_endpoints_quiet() {
        let (server, mine, other) = server_mine_other();
        let last = LastFrames::new(Ts(1_000));
        last.saw(Ts(2_000), Some([mine, server]));
        last.saw(Ts(3_000), Some([server, other]));
        last.saw(Ts(4_000), None);
        assert_eq!(last.latest_of(&[mine]), 2_000);
        assert_eq!(last.latest_of(&[mine, other]), 3_000);
        assert_eq!(last.any(), 4_000);
        // Not seen since the capture started: its closing may still be on the way.
        assert_eq!(last.latest_of(&[addr("127.0.0.1:40002")]), 1_000);
    }

    #[test]
    fn endpoints_not_seen_for_a_while_are_forgotten() {
        let (server, mine, other) = server_mine_other();
        let last = LastFrames::new(Ts(0));
        last.saw(Ts(10), Some([mine, server]));
        let later = Ts(10 + ENDPOINT_MEMORY.as_nanos() as i64);
        for _ in 1..FORGET_EVERY {
            last.saw(later, Some([server, other]));
        }
        let times = last.by_endpoint.lock().unwrap();
        assert!(!times.seen.contains_key(&mine));
        assert_eq!(times.seen.len(), 2);
    }

    #[test]
    fn loopback_is_reached_through_lo() {
        let to = |addr: &str| Source::iface_towards(addr.parse().unwrap());
        assert_eq!(to("127.0.0.1:80").as_deref(), Some("lo"));
        assert_eq!(to("127.3.2.1:80").as_deref(), Some("lo"));
    }
}
