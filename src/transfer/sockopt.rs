//! Transfer layer: the integer TCP socket options that socket2 does not offer (Fast Open, deferred
//! accept). Must not import capture or report code.

use std::io;

use socket2::Socket;

/// Sets the `IPPROTO_TCP` option `option` of `socket` to `value`.
#[allow(unsafe_code)]
pub(super) fn set_tcp_int(
    socket: &Socket,
    option: libc::c_int,
    value: libc::c_int,
) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let len = libc::socklen_t::try_from(std::mem::size_of::<libc::c_int>())
        .expect("an int's size fits socklen_t");
    // SAFETY: the descriptor belongs to `socket`, borrowed for the whole call; the kernel reads
    // exactly `len` bytes from `value`, a live local of that size.
    let result = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::IPPROTO_TCP,
            option,
            (&raw const value).cast(),
            len,
        )
    };
    if result == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Bytes written to `socket` that the peer has not acknowledged yet (`SIOCOUTQ`).
#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
pub(super) fn unacknowledged_bytes(socket: &impl std::os::fd::AsRawFd) -> io::Result<usize> {
    let mut queued: libc::c_int = 0;
    // SAFETY: the descriptor is borrowed for the whole call; the kernel writes one int into
    // `queued`, a live local.
    let result = unsafe { libc::ioctl(socket.as_raw_fd(), libc::TIOCOUTQ, &raw mut queued) };
    if result == 0 {
        usize::try_from(queued).map_err(|_| io::ErrorKind::InvalidData.into())
    } else {
        Err(io::Error::last_os_error())
    }
}
