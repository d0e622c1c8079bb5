//! Green sockets: `std::net` (and `std::os::unix::net`) whose blocking
//! calls park only the calling green thread.
//!
//! # Model
//! Every type here wraps the std socket of the same name, with its
//! descriptor always non-blocking in the kernel. An operation is the system
//! call first — the hot path is that call and nothing else, no allocation
//! and no lock — and only when it returns `WouldBlock` does the green thread
//! park on the socket's readiness (see `io/mod.rs` and
//! `hub/readiness.rs`), then retry. From plain code (no green thread), the
//! same call blocks the OS thread while it drives its hub, so everything
//! here also works outside green threads.
//!
//! What std keeps in the kernel for blocking sockets is kept per handle:
//! - `set_read_timeout` / `set_write_timeout`: a wait longer than that
//!   fails with `WouldBlock` (`EAGAIN`, which is what std returns on Linux
//!   when `SO_RCVTIMEO` expires). Only the green thread waits.
//! - `set_nonblocking(true)`: an operation that would wait returns
//!   `WouldBlock` at once instead of parking.
//!
//! Converting to std (`From`, `IntoRawFd`) writes those choices back to the
//! kernel; converting from std reads them.
//!
//! Host names (in `bind`, `connect`, `send_to`, [`lookup_host`]) are
//! resolved on the blocking pool; literal addresses never leave the thread.
//!
//! # Handles, clones and closing
//! `try_clone` duplicates the descriptor, as std does, and the clone gets
//! its own reactor registration; the kernel reports readiness to every
//! registration of the socket. Dropping one handle closes only its own
//! descriptor: the others keep working (std semantics — a reader green
//! thread survives its writer's handle being dropped).
//!
//! A handle cannot be dropped while a green thread waits on it (it is
//! borrowed). "Close while waiting" is therefore [`TcpStream::shutdown`]
//! (or the Unix ones) from another green thread or OS thread, on any handle
//! of the socket: every waiter wakes at once, on every hub — a reader sees
//! end of stream (`Ok(0)`) and a writer gets `BrokenPipe`, what std's
//! blocking calls return on Linux. At the level below, when a registration
//! is freed under a waiter (the socket moved to another hub), the waiter
//! retries rather than failing.
//!
//! # Hubs
//! Sockets are `Send` and `Sync`. A socket registers lazily with the hub of
//! the first green thread that has to wait on it, and moves to another hub
//! when used from there while nobody waits at the old one; two hubs using
//! one socket at the same moment both work (see `io/mod.rs`).

/// `Read`/`Write` for an owned `$t` that forward to the by-reference impls
/// (`impl Read for &$t`), for the methods listed: written once for the
/// runtime's sockets and files and greenpatch's socket facades; not a
/// stable API.
#[doc(hidden)]
#[macro_export]
macro_rules! __io_by_value {
    ($t:ty; read: [$($r:ident),*]; write: [$($w:ident),*]) => {
        impl ::std::io::Read for $t {
            $($crate::__io_by_value!(@$r);)*
        }

        impl ::std::io::Write for $t {
            $($crate::__io_by_value!(@$w);)*

            fn flush(&mut self) -> ::std::io::Result<()> {
                ::std::io::Write::flush(&mut &*self)
            }
        }
    };
    (@read) => {
        #[inline]
        fn read(&mut self, buf: &mut [u8]) -> ::std::io::Result<usize> {
            ::std::io::Read::read(&mut &*self, buf)
        }
    };
    (@read_vectored) => {
        fn read_vectored(&mut self, bufs: &mut [::std::io::IoSliceMut<'_>]) -> ::std::io::Result<usize> {
            ::std::io::Read::read_vectored(&mut &*self, bufs)
        }
    };
    (@read_to_end) => {
        fn read_to_end(&mut self, buf: &mut Vec<u8>) -> ::std::io::Result<usize> {
            ::std::io::Read::read_to_end(&mut &*self, buf)
        }
    };
    (@write) => {
        #[inline]
        fn write(&mut self, buf: &[u8]) -> ::std::io::Result<usize> {
            ::std::io::Write::write(&mut &*self, buf)
        }
    };
    (@write_vectored) => {
        fn write_vectored(&mut self, bufs: &[::std::io::IoSlice<'_>]) -> ::std::io::Result<usize> {
            ::std::io::Write::write_vectored(&mut &*self, bufs)
        }
    };
}

mod addr;
mod socket;
mod tcp;
mod udp;
#[cfg(unix)]
mod unix;

pub use addr::{each_addr, lookup_host, Resolver, ToSocketAddrs};
pub use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, Shutdown, SocketAddr, SocketAddrV4, SocketAddrV6};
pub use tcp::{Incoming, TcpListener, TcpStream};
pub use udp::UdpSocket;
#[cfg(unix)]
pub use unix::{Incoming as UnixIncoming, UnixDatagram, UnixListener, UnixStream};

#[cfg(test)]
mod tests;
