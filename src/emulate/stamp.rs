//! When the kernel sent each packet to a TUN device, from a packet socket watching it.
//!
//! A forwarder learns of a packet only when its thread wakes and reads it, tens of microseconds
//! after the kernel queued it on a busy virtual machine. A packet socket in the same namespace sees
//! the same packet at the moment libpcap does (the transmit tap, before the TUN queue) and stamps
//! it then. The forwarder matches what it reads from the TUN with these stamps by the packet's
//! first bytes (IP and TCP headers: addresses, IP id, ports, sequence numbers), in order, and times
//! the packet's delay from the kernel's stamp. A packet without a match (the socket's buffer
//! overflowed) keeps its read time.

use std::collections::VecDeque;
use std::io;
use std::mem::MaybeUninit;
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use socket2::{Domain, Protocol, SockFilter, Socket, Type};

use super::EmulateError;

/// Bytes of each packet compared to match a stamp with a packet read from the TUN.
const KEY: usize = 48;

/// Bytes of each packet the filter hands to the socket: the key and a little more.
const SNAP: u32 = 64;

/// Stamps kept while waiting for their packets; older ones are for packets the TUN queue dropped.
const MAX_PENDING: usize = 1024;

/// A stamp further back than this is not trusted (a clock step, or a stale entry).
const MAX_AGE: Duration = Duration::from_secs(1);

/// `sll_pkttype` of a packet the host sends (linux/if_packet.h).
const PACKET_OUTGOING: u32 = 4;

/// Receive buffer of the packet socket: every skb is charged in full even though only `SNAP`
/// bytes are kept, so leave room for a burst of large packets.
const RECEIVE_BUFFER: usize = 8 << 20;

/// A packet the socket saw leave towards the TUN device.
struct Seen {
    key: [u8; KEY],
    key_len: usize,
    at: Instant,
}

/// Transmit stamps of the packets leaving one TUN device.
pub struct TxStamps {
    socket: Socket,
    pending: VecDeque<Seen>,
}

impl std::fmt::Debug for TxStamps {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TxStamps")
            .field("pending", &self.pending.len())
            .finish()
    }
}

impl TxStamps {
    /// Watches packets sent to interface `ifindex`; must run inside its namespace.
    pub fn open(ifindex: u32) -> Result<TxStamps, EmulateError> {
        let failed =
            |source| EmulateError::io("cannot open a packet socket on the TUN device", source);
        let all = Protocol::from(i32::from((libc::ETH_P_ALL as u16).to_be()));
        let socket = Socket::new(Domain::PACKET, Type::DGRAM, Some(all)).map_err(failed)?;
        // Only what this host sends on the TUN device, cut to SNAP bytes; the filter goes on
        // before any traffic, so nothing else is ever queued.
        let load = (libc::BPF_LD | libc::BPF_W | libc::BPF_ABS) as u16;
        let jump = (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16;
        let ret = (libc::BPF_RET | libc::BPF_K) as u16;
        let ancillary = |offset: libc::c_int| (libc::SKF_AD_OFF + offset) as u32;
        socket
            .attach_filter(&[
                SockFilter::new(load, 0, 0, ancillary(libc::SKF_AD_PKTTYPE)),
                SockFilter::new(jump, 0, 3, PACKET_OUTGOING),
                SockFilter::new(load, 0, 0, ancillary(libc::SKF_AD_IFINDEX)),
                SockFilter::new(jump, 0, 1, ifindex),
                SockFilter::new(ret, 0, 0, SNAP),
                SockFilter::new(ret, 0, 0, 0),
            ])
            .map_err(failed)?;
        socket.set_nonblocking(true).map_err(failed)?;
        // Best effort: the default buffer only loses stamps sooner.
        let _ = socket.set_recv_buffer_size(RECEIVE_BUFFER);
        enable_timestamps(&socket).map_err(failed)?;
        Ok(TxStamps {
            socket,
            pending: VecDeque::new(),
        })
    }

    /// When the kernel sent `packet`, just read from the TUN device at `read_at`; `None` when the
    /// socket did not see it.
    pub fn sent_at(&mut self, packet: &[u8], read_at: Instant) -> Option<Instant> {
        self.collect();
        take_match(&mut self.pending, packet, read_at)
    }

    /// Reads every stamp the socket holds.
    fn collect(&mut self) {
        for _ in 0..MAX_PENDING {
            let mut data = [0u8; SNAP as usize];
            let Some((len, sent)) = receive(&self.socket, &mut data) else {
                return;
            };
            let Some(sent) = sent else {
                continue;
            };
            // The two clocks are read back to back: the stamp's age in wall-clock time is its age
            // in monotonic time.
            let (now, wall) = (Instant::now(), SystemTime::now());
            let age = wall.duration_since(sent).unwrap_or(MAX_AGE);
            let Some(at) = now.checked_sub(age) else {
                continue;
            };
            let key_len = len.min(KEY);
            let mut key = [0u8; KEY];
            key[..key_len].copy_from_slice(&data[..key_len]);
            if self.pending.len() == MAX_PENDING {
                self.pending.pop_front();
            }
            self.pending.push_back(Seen { key, key_len, at });
        }
    }
}

/// Takes the stamp of `packet` (read at `read_at`) from `pending`, with the stamps ahead of it.
fn take_match(pending: &mut VecDeque<Seen>, packet: &[u8], read_at: Instant) -> Option<Instant> {
    let key = &packet[..packet.len().min(KEY)];
    let position = pending
        .iter()
        .position(|seen| &seen.key[..seen.key_len] == key)?;
    // Stamps ahead of the match are for packets the TUN queue dropped: never read, never due.
    let seen = pending.drain(..=position).next_back()?;
    (seen.at <= read_at && read_at.duration_since(seen.at) < MAX_AGE).then_some(seen.at)
}

/// Turns on nanosecond receive timestamps (SO_TIMESTAMPNS).
fn enable_timestamps(socket: &Socket) -> io::Result<()> {
    let on: libc::c_int = 1;
    // SAFETY: the option value points to a live c_int whose size is passed with it; the kernel
    // only reads it.
    #[allow(unsafe_code)]
    let result = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_TIMESTAMPNS,
            (&on as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if result != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Receives one packet's first bytes into `data` with its kernel timestamp, if it has one; `None`
/// when nothing is queued.
fn receive(socket: &Socket, data: &mut [u8]) -> Option<(usize, Option<SystemTime>)> {
    // Room for one SCM_TIMESTAMPNS message, aligned for cmsghdr.
    let mut control = [MaybeUninit::<u64>::uninit(); 8];
    let mut iov = libc::iovec {
        iov_base: data.as_mut_ptr().cast(),
        iov_len: data.len(),
    };
    // SAFETY: msghdr is plain data for which all-zero is valid (null pointers, zero lengths).
    #[allow(unsafe_code)]
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = std::mem::size_of_val(&control);
    // SAFETY: every pointer in `msg` refers to a live local buffer (`iov` → `data`, `control`)
    // whose length is given with it, and all of them outlive the call; the kernel writes only
    // within those lengths.
    #[allow(unsafe_code)]
    let len = unsafe { libc::recvmsg(socket.as_raw_fd(), &mut msg, libc::MSG_TRUNC) };
    let len = usize::try_from(len).ok()?;
    // SAFETY: after a successful recvmsg, `msg.msg_control`/`msg_controllen` describe control
    // messages the kernel wrote into `control`; CMSG_FIRSTHDR/CMSG_NXTHDR stay within them, and a
    // SCM_TIMESTAMPNS message carries one timespec (read unaligned to be safe).
    #[allow(unsafe_code)]
    let stamp = unsafe {
        let mut stamp = None;
        let mut header = libc::CMSG_FIRSTHDR(&msg);
        while !header.is_null() {
            if (*header).cmsg_level == libc::SOL_SOCKET
                && (*header).cmsg_type == libc::SCM_TIMESTAMPNS
            {
                let spec: libc::timespec = std::ptr::read_unaligned(libc::CMSG_DATA(header).cast());
                stamp = Some(spec);
            }
            header = libc::CMSG_NXTHDR(&msg, header);
        }
        stamp
    };
    let sent = stamp.and_then(|spec| {
        let secs = u64::try_from(spec.tv_sec).ok()?;
        let nanos = u32::try_from(spec.tv_nsec).ok()?;
        Some(UNIX_EPOCH + Duration::new(secs, nanos))
    });
    Some((len.min(data.len()), sent))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seen(first: u8, at: Instant) -> Seen {
        let mut key = [0u8; KEY];
        key[0] = first;
        key[KEY - 1] = 0xee;
        Seen {
            key,
            key_len: KEY,
            at,
        }
    }

    fn packet(first: u8) -> Vec<u8> {
        let mut bytes = vec![0u8; 1500];
        bytes[0] = first;
        bytes[KEY - 1] = 0xee;
        bytes
    }

    #[test]
    fn stamps_match_packets_in_order_and_skip_the_ones_the_tun_dropped() {
        let t0 = Instant::now();
        let us = Duration::from_micros;
        let read = t0 + us(100);
        let mut pending: VecDeque<Seen> = (1..=4).map(|k| seen(k, t0 + us(u64::from(k)))).collect();
        assert_eq!(take_match(&mut pending, &packet(1), read), Some(t0 + us(1)));
        // Packet 2 never reached the TUN reader: its stamp goes with packet 3's.
        assert_eq!(take_match(&mut pending, &packet(3), read), Some(t0 + us(3)));
        assert_eq!(pending.len(), 1);
        // A packet the socket missed keeps the stamps of the packets still to come.
        assert_eq!(take_match(&mut pending, &packet(9), read), None);
        assert_eq!(take_match(&mut pending, &packet(4), read), Some(t0 + us(4)));
        assert!(pending.is_empty());
    }

    #[test]
    fn a_stamp_from_the_future_or_too_old_is_not_trusted() {
        let t0 = Instant::now();
        let mut pending = VecDeque::from([seen(1, t0 + Duration::from_millis(1))]);
        assert_eq!(take_match(&mut pending, &packet(1), t0), None);
        let mut pending = VecDeque::from([seen(1, t0)]);
        assert_eq!(take_match(&mut pending, &packet(1), t0 + MAX_AGE * 2), None);
    }
}
