//! Transfer layer: the kernel's view of one TCP connection (getsockopt `TCP_INFO`), read by the
//! server around each response. Must not import capture or report code.

use std::io;
use std::net::TcpStream;

/// `ssthresh` at or above this means "not set yet" (the kernel's `TCP_INFINITE_SSTHRESH`).
const INFINITE_SSTHRESH: u32 = 0x7fff_ffff;

/// The congestion-control state of one socket at one instant, from `TCP_INFO`.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, schemars::JsonSchema)]
pub struct TcpInfoSample {
    /// Congestion window, in segments.
    pub cwnd: u32,
    /// Slow-start threshold in segments; None while "infinite" (slow start never left).
    pub ssthresh: Option<u32>,
    /// Smoothed round-trip time, microseconds.
    pub srtt_us: u32,
    /// Round-trip time variation, microseconds.
    pub rttvar_us: u32,
    /// Sending maximum segment size, bytes.
    pub mss: u32,
    /// Segments retransmitted over the connection's life.
    pub total_retrans: u32,
    /// The kernel's latest delivery-rate estimate in bits per second (its bytes/s × 8, as
    /// `ss -i` shows it).
    pub delivery_rate_bps: u64,
    /// Payload bytes the peer has acknowledged over the connection's life.
    pub bytes_acked: u64,
    /// Segments sent over the connection's life, retransmissions and pure ACKs included.
    pub segs_out: u32,
    /// Segments sent but not yet acknowledged.
    pub unacked: u32,
    /// Bytes written by the application that the kernel has not sent yet.
    pub notsent_bytes: u32,
    /// Microseconds the connection had data in flight (Linux 4.10+; None before).
    pub busy_time_us: Option<u64>,
    /// Of those, microseconds the peer's receive window kept it from sending more.
    pub rwnd_limited_us: Option<u64>,
    /// Of those, microseconds the send buffer was too small to send more.
    pub sndbuf_limited_us: Option<u64>,
    /// The peer's receive window as the sender last saw it, in bytes (Linux 5.4+; None before).
    pub snd_wnd: Option<u32>,
}

impl TcpInfoSample {
    /// Everything written has been sent and acknowledged (the FIN too, if one was sent).
    pub fn all_acked(&self) -> bool {
        self.unacked == 0 && self.notsent_bytes == 0
    }
}

/// Reads `TCP_INFO` of `stream`.
///
/// Fails with `Unsupported` off Linux, and with `InvalidData` when the kernel's structure is too
/// old to hold the delivery rate (before Linux 4.9).
pub fn sample(stream: &TcpStream) -> io::Result<TcpInfoSample> {
    #[cfg(target_os = "linux")]
    {
        linux::sample(stream)
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = stream;
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "TCP_INFO is read on Linux only",
        ))
    }
}

#[cfg(target_os = "linux")]
mod linux {
    use std::mem::{offset_of, size_of};
    use std::os::fd::AsRawFd;

    use libc::tcp_info;

    use super::*;

    /// The structure's bytes as the kernel wrote them; fields are read at libc's offsets, so no
    /// uninitialised or misaligned struct is ever formed.
    #[derive(Debug)]
    struct Raw {
        bytes: [u8; size_of::<tcp_info>()],
        len: usize,
    }

    impl Raw {
        fn field<const N: usize>(&self, offset: usize) -> [u8; N] {
            let mut out = [0u8; N];
            out.copy_from_slice(&self.bytes[offset..offset + N]);
            out
        }

        fn u32_at(&self, offset: usize) -> u32 {
            u32::from_ne_bytes(self.field(offset))
        }

        fn u64_at(&self, offset: usize) -> u64 {
            u64::from_ne_bytes(self.field(offset))
        }
    }

    /// Calls getsockopt(IPPROTO_TCP, TCP_INFO) into a zeroed buffer the size of libc's struct.
    #[allow(unsafe_code)]
    fn read_raw(stream: &TcpStream) -> io::Result<Raw> {
        let mut raw = Raw {
            bytes: [0u8; size_of::<tcp_info>()],
            len: 0,
        };
        let mut len = libc::socklen_t::try_from(raw.bytes.len()).unwrap_or(libc::socklen_t::MAX);
        // SAFETY: the descriptor belongs to `stream`, borrowed for the whole call; the kernel
        // writes at most `len` bytes into `raw.bytes`, which is exactly `len` bytes long, and
        // stores the length it wrote into the live local `len`.
        let result = unsafe {
            libc::getsockopt(
                stream.as_raw_fd(),
                libc::IPPROTO_TCP,
                libc::TCP_INFO,
                raw.bytes.as_mut_ptr().cast(),
                &mut len,
            )
        };
        if result != 0 {
            return Err(io::Error::last_os_error());
        }
        raw.len = usize::try_from(len).unwrap_or(0).min(raw.bytes.len());
        Ok(raw)
    }

    pub(super) fn sample(stream: &TcpStream) -> io::Result<TcpInfoSample> {
        let raw = read_raw(stream)?;
        // delivery_rate is the last field read; everything before it is older.
        let needed = offset_of!(tcp_info, tcpi_delivery_rate) + size_of::<u64>();
        if raw.len < needed {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "the kernel's TCP_INFO has {} bytes, {needed} needed (Linux 4.9 or later)",
                    raw.len
                ),
            ));
        }
        let ssthresh = raw.u32_at(offset_of!(tcp_info, tcpi_snd_ssthresh));
        // Later fields exist only where the kernel's structure is long enough to hold them.
        let u64_if = |offset: usize| (raw.len >= offset + 8).then(|| raw.u64_at(offset));
        let u32_if = |offset: usize| (raw.len >= offset + 4).then(|| raw.u32_at(offset));
        Ok(TcpInfoSample {
            cwnd: raw.u32_at(offset_of!(tcp_info, tcpi_snd_cwnd)),
            ssthresh: (ssthresh < INFINITE_SSTHRESH).then_some(ssthresh),
            srtt_us: raw.u32_at(offset_of!(tcp_info, tcpi_rtt)),
            rttvar_us: raw.u32_at(offset_of!(tcp_info, tcpi_rttvar)),
            mss: raw.u32_at(offset_of!(tcp_info, tcpi_snd_mss)),
            total_retrans: raw.u32_at(offset_of!(tcp_info, tcpi_total_retrans)),
            delivery_rate_bps: raw
                .u64_at(offset_of!(tcp_info, tcpi_delivery_rate))
                .saturating_mul(8),
            bytes_acked: raw.u64_at(offset_of!(tcp_info, tcpi_bytes_acked)),
            segs_out: raw.u32_at(offset_of!(tcp_info, tcpi_segs_out)),
            unacked: raw.u32_at(offset_of!(tcp_info, tcpi_unacked)),
            notsent_bytes: raw.u32_at(offset_of!(tcp_info, tcpi_notsent_bytes)),
            busy_time_us: u64_if(offset_of!(tcp_info, tcpi_busy_time)),
            rwnd_limited_us: u64_if(offset_of!(tcp_info, tcpi_rwnd_limited)),
            sndbuf_limited_us: u64_if(offset_of!(tcp_info, tcpi_sndbuf_limited)),
            snd_wnd: u32_if(offset_of!(tcp_info, tcpi_snd_wnd)),
        })
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::TcpListener;
    use std::time::{Duration, Instant};

    #[test]
    fn a_connected_socket_reports_its_window_and_acked_bytes() {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let client = TcpStream::connect(listener.local_addr().expect("addr")).expect("connect");
        let (mut server, _) = listener.accept().expect("accept");
        let fresh = sample(&server).expect("TCP_INFO");
        assert!(fresh.cwnd > 0, "{fresh:?}");
        assert!(fresh.mss > 0, "{fresh:?}");
        assert_eq!(fresh.bytes_acked, 0, "nothing sent yet: {fresh:?}");

        server.write_all(&[7u8; 10_000]).expect("send");
        let mut got = vec![0u8; 10_000];
        (&client).read_exact(&mut got).expect("receive");
        // The client's ACKs reach the server shortly after the data; wait for them, bounded.
        let deadline = Instant::now() + Duration::from_secs(2);
        let mut after = sample(&server).expect("TCP_INFO");
        while after.bytes_acked < 10_000 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
            after = sample(&server).expect("TCP_INFO");
        }
        assert_eq!(after.bytes_acked, 10_000, "{after:?}");
        assert!(after.segs_out > fresh.segs_out);
        assert_eq!(after.notsent_bytes, 0);
        assert!(after.all_acked(), "{after:?}");
        // This kernel is newer than 5.4: the limit counters and the peer's window are there.
        assert!(after.busy_time_us.is_some() && after.rwnd_limited_us.is_some());
        assert!(after.sndbuf_limited_us.is_some(), "{after:?}");
        let advertised = socket2::SockRef::from(&client)
            .recv_buffer_size()
            .expect("SO_RCVBUF");
        assert!(
            after
                .snd_wnd
                .is_some_and(|w| w > 0 && w as usize <= advertised),
            "the peer's window is within its receive buffer ({advertised}): {after:?}"
        );
    }
}
