//! TUN devices and interface settings, made with ioctls from a thread inside the namespace they
//! belong to (a new device and an AF_INET socket both land in the calling thread's namespace).
//! No `ip` child process: nothing here can outlive synack.

use std::fs::{File, OpenOptions};
use std::io;
use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::fs::OpenOptionsExt;

use socket2::{Domain, Socket, Type};

use super::EmulateError;

/// How one end of the link is addressed: a point-to-point interface with a peer, like
/// `ip addr add LOCAL peer PEER dev NAME`.
#[derive(Debug, Clone)]
pub struct PointToPoint {
    /// Interface name (at most 15 bytes).
    pub name: String,
    /// This end's address.
    pub local: Ipv4Addr,
    /// The other end's address; the kernel routes it through this interface.
    pub peer: Ipv4Addr,
    /// Interface MTU in bytes.
    pub mtu: u32,
}

/// Creates the TUN device `name` (IFF_TUN | IFF_NO_PI: raw IP packets, no header) in the calling
/// thread's network namespace and returns its non-blocking descriptor. The device lives as long as
/// the descriptor.
pub fn create_tun(name: &str) -> Result<File, EmulateError> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_NONBLOCK)
        .open("/dev/net/tun")
        .map_err(|source| match source.kind() {
            io::ErrorKind::NotFound => EmulateError::NoTun,
            io::ErrorKind::PermissionDenied => {
                EmulateError::Permission("opening /dev/net/tun".into())
            }
            _ => EmulateError::io("cannot open /dev/net/tun", source),
        })?;
    let flags = libc::c_short::try_from(libc::IFF_TUN | libc::IFF_NO_PI).unwrap_or_default();
    ifreq_ioctl(file.as_raw_fd(), libc::TUNSETIFF, name, |req| {
        req.ifr_ifru.ifru_flags = flags;
    })
    .map_err(|source| match source.raw_os_error() {
        Some(libc::EPERM | libc::EACCES) => {
            EmulateError::Permission("creating a TUN device".into())
        }
        _ => EmulateError::io(format!("cannot create TUN device {name}"), source),
    })?;
    Ok(file)
}

/// Gives interface `end.name` its MTU and point-to-point addresses, then brings it up.
pub fn configure(end: &PointToPoint) -> Result<(), EmulateError> {
    let socket = control_socket()?;
    let fd = socket.as_raw_fd();
    let name = end.name.as_str();
    let mtu = libc::c_int::try_from(end.mtu).unwrap_or(libc::c_int::MAX);
    let step = |what: &str, source| EmulateError::io(format!("cannot {what} on {name}"), source);
    ifreq_ioctl(fd, libc::SIOCSIFMTU, name, |req| {
        req.ifr_ifru.ifru_mtu = mtu
    })
    .map_err(|e| step("set the MTU", e))?;
    ifreq_ioctl(fd, libc::SIOCSIFADDR, name, |req| {
        req.ifr_ifru.ifru_addr = sockaddr(end.local);
    })
    .map_err(|e| step("set the address", e))?;
    ifreq_ioctl(fd, libc::SIOCSIFDSTADDR, name, |req| {
        req.ifr_ifru.ifru_dstaddr = sockaddr(end.peer);
    })
    .map_err(|e| step("set the peer address", e))?;
    // SIOCSIFADDR gave the address its class's prefix (/8); a point-to-point end is a /32.
    ifreq_ioctl(fd, libc::SIOCSIFNETMASK, name, |req| {
        req.ifr_ifru.ifru_netmask = sockaddr(Ipv4Addr::BROADCAST);
    })
    .map_err(|e| step("set the netmask", e))?;
    bring_up_with(&socket, name)
}

/// The index of interface `name` in the calling thread's namespace.
pub fn ifindex(name: &str) -> Result<u32, EmulateError> {
    let socket = control_socket()?;
    let req = ifreq_ioctl(socket.as_raw_fd(), libc::SIOCGIFINDEX, name, |_| {})
        .map_err(|source| EmulateError::io(format!("cannot find the index of {name}"), source))?;
    // SAFETY: SIOCGIFINDEX succeeded, so the kernel wrote the ifindex member of the union.
    #[allow(unsafe_code)]
    let index = unsafe { req.ifr_ifru.ifru_ifindex };
    u32::try_from(index).map_err(|_| {
        EmulateError::io(
            format!("{name} has no index"),
            io::ErrorKind::NotFound.into(),
        )
    })
}

/// Brings interface `name` (such as `lo`) up in the calling thread's namespace.
pub fn bring_up(name: &str) -> Result<(), EmulateError> {
    bring_up_with(&control_socket()?, name)
}

/// Turns IPv6 off for interfaces created from now on in the calling thread's namespace, so the TUN
/// devices carry no router solicitations or MLD reports: only the traffic under test crosses the
/// link. Best effort: a kernel without IPv6 has nothing to turn off.
pub fn disable_ipv6_on_new_interfaces() {
    // /proc/sys/net resolves to the namespace of the thread that opens it.
    let _ = std::fs::write("/proc/sys/net/ipv6/conf/default/disable_ipv6", "1");
}

fn control_socket() -> Result<Socket, EmulateError> {
    Socket::new(Domain::IPV4, Type::DGRAM, None)
        .map_err(|source| EmulateError::io("cannot open a socket to configure interfaces", source))
}

fn bring_up_with(socket: &Socket, name: &str) -> Result<(), EmulateError> {
    let fd = socket.as_raw_fd();
    let current = ifreq_ioctl(fd, libc::SIOCGIFFLAGS, name, |_| {})
        .map_err(|source| EmulateError::io(format!("cannot read the flags of {name}"), source))?;
    // SAFETY: SIOCGIFFLAGS succeeded, so the kernel wrote the flags member of the union.
    #[allow(unsafe_code)]
    let flags = unsafe { current.ifr_ifru.ifru_flags };
    let up = flags | libc::c_short::try_from(libc::IFF_UP).unwrap_or_default();
    ifreq_ioctl(fd, libc::SIOCSIFFLAGS, name, |req| {
        req.ifr_ifru.ifru_flags = up
    })
    .map_err(|source| EmulateError::io(format!("cannot bring {name} up"), source))?;
    Ok(())
}

/// An AF_INET socket address with port 0, in the generic form the SIOCSIF* ioctls take.
fn sockaddr(ip: Ipv4Addr) -> libc::sockaddr {
    let mut data = [0 as libc::c_char; 14];
    // sa_data of an AF_INET address: two bytes of port, then the address in network order.
    for (slot, byte) in data[2..6].iter_mut().zip(ip.octets()) {
        *slot = byte as libc::c_char;
    }
    libc::sockaddr {
        sa_family: libc::AF_INET as libc::sa_family_t,
        sa_data: data,
    }
}

/// Runs an interface ioctl on a zeroed `ifreq` named `name`, filled in by `fill`, and returns the
/// request as the kernel left it.
fn ifreq_ioctl(
    fd: RawFd,
    request: libc::Ioctl,
    name: &str,
    fill: impl FnOnce(&mut libc::ifreq),
) -> io::Result<libc::ifreq> {
    if name.is_empty() || name.len() >= libc::IFNAMSIZ || name.contains('\0') {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{name:?} is not a usable interface name (1 to 15 bytes)"),
        ));
    }
    // SAFETY: ifreq holds only integers, byte arrays and a data pointer that these requests never
    // follow, so all-zero bytes are a valid value.
    #[allow(unsafe_code)]
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (slot, byte) in req.ifr_name.iter_mut().zip(name.bytes()) {
        *slot = byte as libc::c_char;
    }
    fill(&mut req);
    // SAFETY: `req` is a live, initialised ifreq with a NUL-terminated name (checked above), and
    // each request used here reads and writes at most one ifreq through the pointer.
    #[allow(unsafe_code)]
    let result = unsafe { libc::ioctl(fd, request, &mut req as *mut libc::ifreq) };
    if result < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(req)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sockaddr_carries_the_address_in_network_order() {
        let addr = sockaddr(Ipv4Addr::new(10, 47, 0, 2));
        assert_eq!(addr.sa_family, libc::AF_INET as libc::sa_family_t);
        let bytes: Vec<u8> = addr.sa_data[..6].iter().map(|&b| b as u8).collect();
        assert_eq!(bytes, [0, 0, 10, 47, 0, 2]);
    }

    #[test]
    fn names_that_do_not_fit_an_ifreq_are_refused_before_the_kernel() {
        let long = "a-name-longer-than-15";
        let error = ifreq_ioctl(-1, libc::SIOCGIFFLAGS, long, |_| {}).expect_err("too long");
        assert_eq!(error.kind(), io::ErrorKind::InvalidInput);
        assert!(ifreq_ioctl(-1, libc::SIOCGIFFLAGS, "", |_| {}).is_err());
    }
}
