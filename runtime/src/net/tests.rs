//! Unit tests of the socket core: the hot path, options and migration.

use std::io::{Read, Write};
use std::time::Duration;

use super::{TcpListener, TcpStream, UnixStream};
use crate::hub::Hub;
use crate::io::Dir;

#[test]
fn a_socket_that_never_waits_is_never_registered() {
    let (mut a, mut b) = UnixStream::pair().unwrap();
    a.write_all(b"x").unwrap();
    let mut buf = [0; 1];
    b.read_exact(&mut buf).unwrap();
    assert_eq!(Hub::current().reactor.io_waiters(), 0);
    assert!(format!("{a:?}").contains("UnixStream"));
}

#[test]
fn options_are_per_handle_and_copied_by_try_clone() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let s = TcpStream::connect(l.local_addr().unwrap()).unwrap();
    s.set_read_timeout(Some(Duration::from_millis(7))).unwrap();
    s.set_nonblocking(true).unwrap();
    let c = s.try_clone().unwrap();
    assert_eq!(c.read_timeout().unwrap(), Some(Duration::from_millis(7)));
    c.set_read_timeout(None).unwrap();
    assert_eq!(s.read_timeout().unwrap(), Some(Duration::from_millis(7)));
    assert_eq!((&c).read(&mut [0; 1]).unwrap_err().kind(), std::io::ErrorKind::WouldBlock);
}

#[test]
fn huge_timeouts_saturate_instead_of_overflowing() {
    let (a, _b) = UnixStream::pair().unwrap();
    a.set_read_timeout(Some(Duration::MAX)).unwrap();
    assert!(a.read_timeout().unwrap().unwrap() > Duration::from_secs(100 * 365 * 86_400));
}

#[test]
fn a_waiter_unwinds_cleanly_when_killed() {
    let (a, _b) = UnixStream::pair().unwrap();
    let h = crate::spawn(move || {
        let _ = (&a).read(&mut [0; 1]);
    });
    crate::sleep(Duration::from_millis(5));
    assert_eq!(Hub::current().reactor.io_waiters(), 1);
    h.kill();
    assert!(h.join().is_err());
    assert_eq!(Hub::current().reactor.io_waiters(), 0);
}

#[test]
fn a_socket_moves_to_the_hub_that_waits_on_it_once_the_old_home_is_idle() {
    let (a, b) = UnixStream::pair().unwrap();
    a.set_read_timeout(Some(Duration::from_millis(2))).unwrap();
    assert!((&a).read(&mut [0; 1]).is_err());
    let here = Hub::current().shared.index;
    assert_eq!(a.inner.reg.home_index(), Some(here));
    a.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let there = std::thread::spawn(move || {
        let writer = std::thread::spawn(move || {
            let mut b = b;
            for _ in 0..2 {
                std::thread::sleep(Duration::from_millis(30));
                b.write_all(b"x").unwrap();
            }
        });
        // First wait from this hub: through its oneshot poller, while the
        // old home is asked to let go (nobody waits there: it will).
        (&a).read_exact(&mut [0; 1]).unwrap();
        // Second wait: registers here.
        (&a).read_exact(&mut [0; 1]).unwrap();
        writer.join().unwrap();
        (Hub::current().shared.index, a.inner.reg.home_index())
    });
    // This hub must run to serve the release request.
    while !there.is_finished() {
        crate::sleep(Duration::from_millis(1));
    }
    let (index, home) = there.join().unwrap();
    assert_ne!(index, here);
    assert_eq!(home, Some(index), "registered where it is used now");
}

/// A connected TCP pair whose first stream is registered with this hub
/// (one read has waited on it).
fn registered_tcp_pair() -> (TcpStream, TcpStream) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let a = TcpStream::connect(l.local_addr().unwrap()).unwrap();
    let (b, _) = l.accept().unwrap();
    a.set_read_timeout(Some(Duration::from_millis(2))).unwrap();
    assert!((&a).read(&mut [0; 1]).is_err(), "nothing was written yet");
    a.set_read_timeout(None).unwrap();
    assert_eq!(a.inner.reg.home_index(), Some(Hub::current().shared.index));
    (a, b)
}

/// `b` writes 3 bytes; `a` reads them into a 16-byte buffer (a short read,
/// which must leave `a` known drained). Returns the buffer.
fn short_read_of_three(a: &TcpStream, b: &mut TcpStream) -> [u8; 16] {
    b.write_all(b"abc").unwrap();
    let mut buf = [0; 16];
    assert_eq!((&*a).read(&mut buf).unwrap(), 3);
    assert!(a.inner.reg.known_drained(Hub::current(), Dir::Read), "a short read emptied the queue");
    buf
}

#[test]
fn a_short_tcp_read_marks_the_stream_drained_until_the_reactor_reports_more() {
    let (a, mut b) = registered_tcp_pair();
    let mut buf = short_read_of_three(&a, &mut b);
    // The next read parks without asking the kernel, and wakes on the edge
    // that the next write raises.
    let writer = crate::spawn(move || {
        crate::sleep(Duration::from_millis(5));
        b.write_all(b"defg").unwrap();
        b
    });
    assert_eq!((&a).read(&mut buf).unwrap(), 4);
    assert_eq!(&buf[..4], b"defg");
    let mut b = writer.join().unwrap();
    // A read that fills the buffer says nothing about what is left.
    b.write_all(&[7; 32]).unwrap();
    crate::sleep(Duration::from_millis(5));
    assert_eq!((&a).read(&mut buf).unwrap(), 16);
    assert!(!a.inner.reg.known_drained(Hub::current(), Dir::Read));
    assert_eq!((&a).read(&mut buf).unwrap(), 16);
}

#[test]
fn a_non_blocking_stream_still_asks_the_kernel_after_a_short_read() {
    let (a, mut b) = registered_tcp_pair();
    let mut buf = short_read_of_three(&a, &mut b);
    a.set_nonblocking(true).unwrap();
    // Runs only if the read below parks (which it must not): then it
    // writes, and the read would return data instead of WouldBlock.
    let ran = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = ran.clone();
    let other = crate::spawn(move || {
        flag.store(true, std::sync::atomic::Ordering::SeqCst);
        b.write_all(b"de").unwrap();
        b
    });
    let r = (&a).read(&mut buf);
    assert_eq!(r.map_err(|e| e.kind()), Err(std::io::ErrorKind::WouldBlock));
    assert!(!ran.load(std::sync::atomic::Ordering::SeqCst), "the read parked");
    let _b = other.join().unwrap();
    // With the bytes in, a non-blocking read gets them at once.
    std::thread::sleep(Duration::from_millis(10));
    assert_eq!((&a).read(&mut buf).unwrap(), 2);
}

#[test]
fn a_short_read_that_eats_the_fin_still_lets_the_next_read_see_end_of_stream() {
    let (a, mut b) = registered_tcp_pair();
    b.write_all(b"abc").unwrap();
    drop(b);
    // Let the hub poll: it sees readable + read-closed before the read.
    crate::sleep(Duration::from_millis(10));
    let mut buf = [0; 16];
    assert_eq!((&a).read(&mut buf).unwrap(), 3, "the last bytes, and the FIN with them");
    // No edge follows end of stream: the read must ask the kernel.
    a.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    assert_eq!((&a).read(&mut buf).unwrap(), 0);
}

#[test]
fn urgent_data_that_stops_a_read_short_does_not_strand_the_bytes_behind_it() {
    use std::os::fd::AsRawFd;
    let (a, mut b) = registered_tcp_pair();
    b.write_all(b"abc").unwrap();
    // SAFETY: sends one byte from a valid buffer on an open socket.
    let sent = unsafe { libc::send(b.as_raw_fd(), b"X".as_ptr().cast(), 1, libc::MSG_OOB) };
    assert_eq!(sent, 1);
    b.write_all(b"def").unwrap();
    // Let the hub poll: it sees readable + urgent before the read.
    crate::sleep(Duration::from_millis(10));
    let mut buf = [0; 16];
    // The read stops at the urgent mark, short, with "def" still queued.
    assert_eq!((&a).read(&mut buf).unwrap(), 3);
    assert_eq!(&buf[..3], b"abc");
    a.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let n = (&a).read(&mut buf).expect("the bytes behind the urgent mark");
    assert_eq!(&buf[..n], b"def");
}
