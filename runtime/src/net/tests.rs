//! Unit tests of the socket core: the hot path, options and migration.

use std::io::{Read, Write};
use std::time::Duration;

use super::{TcpListener, TcpStream, UnixStream};
use crate::hub::Hub;

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
