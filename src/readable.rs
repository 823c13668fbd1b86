//! Waiting for a descriptor to become readable, for the threads that must also notice a stop
//! (the capture, the link emulator): a blocked read would not return for one.

use std::os::fd::AsRawFd;
use std::time::Duration;

/// Sleeps until one of `sources` is readable, or `timeout` has passed (forever when `None`).
/// Errors (EINTR) and timeouts alike return: the caller's loop checks its clock, its source and
/// its stop flag again.
pub fn wait_readable(sources: &[&dyn AsRawFd], timeout: Option<Duration>) {
    let mut fds: Vec<libc::pollfd> = sources
        .iter()
        .map(|source| libc::pollfd {
            fd: source.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    let timespec = timeout.map(|left| libc::timespec {
        tv_sec: libc::time_t::try_from(left.as_secs()).unwrap_or(libc::time_t::MAX),
        tv_nsec: libc::c_long::from(left.subsec_nanos()),
    });
    let timeout_ptr = timespec
        .as_ref()
        .map_or(std::ptr::null(), |t| t as *const libc::timespec);
    let count = libc::nfds_t::try_from(fds.len()).unwrap_or(libc::nfds_t::MAX);
    // SAFETY: `fds` and `timespec` are live locals for the whole call and `count` is `fds`'s
    // length; ppoll writes only the `revents` members of `fds`, and a null signal mask leaves the
    // thread's mask alone.
    #[allow(unsafe_code)]
    let _ = unsafe { libc::ppoll(fds.as_mut_ptr(), count, timeout_ptr, std::ptr::null()) };
}
