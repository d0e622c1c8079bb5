//! # greenpatch-libc: the C-level patch layer
//!
//! `#[no_mangle]` definitions of the C library's blocking calls, so that
//! code nobody wrote against greenpatch — crates calling `std::net` or
//! `std::thread::sleep` directly, C drivers such as libpq or libcurl — blocks
//! only its green thread once the registry module `"libc"` of `greenpatch`
//! is patched (`patch_all()` does it by default).
//!
//! ## The model
//!
//! A program that links this crate defines `recv`, `read`, `connect`, … in
//! its own executable; the dynamic linker binds every caller — Rust's std,
//! C libraries linked in or loaded later with `dlopen` — to these
//! definitions before the C library's. Each hook is the original (found
//! with `dlsym(RTLD_NEXT, name)`, cached) unless it reroutes:
//!
//! **Routing rule.** A hook reroutes only when its item of the `"libc"`
//! module is patched *and* the caller runs on a hub: a green thread, or the
//! root code of an OS thread that already has a hub (its wait drives the
//! hub's loop, so the thread's green threads keep running). Everywhere
//! else — threads without a hub (a C library's own threads, the blocking
//! pool's workers), the hub's own loop and reactor (the reactor's waker
//! reads and writes an eventfd through these very symbols), the runtime's
//! own non-blocking sockets, its fault handler — it is the original, after
//! one atomic load and one thread-local read. A hook never creates a hub.
//!
//! **Rerouted**, a call first tries without blocking and only on `EAGAIN`
//! looks at what its caller wanted:
//!
//! | symbol | rerouted |
//! |---|---|
//! | `recv`, `recvfrom`, `recvmsg`, `__recv_chk`, `__recvfrom_chk` | with `MSG_DONTWAIT`; on `EAGAIN`: a non-blocking descriptor (`O_NONBLOCK`/`FIONBIO`) gets `EAGAIN`; a blocking one parks on readability until `SO_RCVTIMEO` (then `EAGAIN`, as the kernel) and retries. A plain read (no flags; `read`, `readv` too) of a blocking TCP stream follows the *short-read rule* (below). `MSG_WAITALL` on a stream socket waits for the whole length (`recv`, `recvfrom`; `recvmsg` returns what has come). A caller's own `MSG_DONTWAIT`, and `MSG_ERRQUEUE`/`MSG_OOB` (which never wait), pass through |
//! | `send`, `sendto`, `sendmsg` | with `MSG_DONTWAIT`; a blocking socket sends the whole buffer (parking on writability between parts, `SO_SNDTIMEO` honoured: the bytes sent so far, or `EAGAIN`), a non-blocking one gets the kernel's answer |
//! | `read`, `readv`, `__read_chk`, `write`, `writev` | on a socket: as `recv`/`send`. Otherwise `preadv2`/`pwritev2` with `RWF_NOWAIT` (pipes, eventfds, cached file data); on `EAGAIN`: non-blocking → `EAGAIN`; ready (file data to read from disk) → the original; else park on readiness; a blocking write completes every byte (a pipe's reader drains it meanwhile). Descriptors without `RWF_NOWAIT` (terminals, some devices): `poll` with timeout 0; ready or non-blocking → the original, else park. Zero-length calls pass through, and so do writes to standard output and standard error (std and stdio hold a process-wide lock around them: a green thread parked there would make the next one that prints block the hub on that lock) |
//! | `accept`, `accept4` | `poll` with timeout 0; ready or non-blocking → the original; else park on readability (`SO_RCVTIMEO` → `EAGAIN`) |
//! | `close`, `dup2`, `dup3` | the original, after dropping the calling hub's persistent registration of the descriptor closed (`close`'s, `dup2`/`dup3`'s target): green threads of the hub waiting on it wake and retry their calls, which fail as on a closed descriptor (`EBADF`) instead of waiting forever. For every caller, they also keep the descriptor-state cache (below) exact |
//! | `fcntl`, `fcntl64`, `ioctl`, `setsockopt`, `dup` (bookkeeping, not registry items) | never rerouted: the original for every caller, hub or not, patched or not, then — when it changed `O_NONBLOCK` (`F_SETFL`, `FIONBIO`), a `SOL_SOCKET` option (the timeouts) or duplicated a descriptor (`dup`, `F_DUPFD*`) — the descriptor-state cache is updated (below). `fcntl` and `ioctl` are only defined on Linux on x86_64 and aarch64 (see below) |
//! | `connect` | a non-blocking caller passes through (`EINPROGRESS` unchanged). A blocking socket is made non-blocking for the one `connect` call, then restored; `EINPROGRESS` parks on writability (`SO_SNDTIMEO` → `EINPROGRESS`, as the kernel) and the result is read from `SO_ERROR` and returned as the blocking call would (0, or -1 with that error) |
//! | `poll`, `__poll_chk`, `select`, `ppoll` (no signal mask), `epoll_wait` | timeout 0 → the original. Otherwise the original with timeout 0, and while nothing is ready a green wait on all the descriptors at once (a private level-triggered epoll instance; `epoll_wait` waits on its own descriptor), then the original again with timeout 0, so `revents`/`fd_set`s are the kernel's. `select` reports the time left in `timeout`, as Linux does |
//! | `nanosleep`, `clock_nanosleep` (`CLOCK_REALTIME`/`MONOTONIC`/`BOOTTIME`/`TAI`, relative or `TIMER_ABSTIME`), `usleep`, `sleep` | park until the deadline; 0 |
//! | `getaddrinfo` | runs on the blocking pool (owned copies of its arguments); the result list is the caller's, freed with `freeaddrinfo` |
//!
//! `ppoll` with a signal mask, `pselect` and `epoll_pwait` are not
//! rerouted: the atomic signal-mask change they exist for cannot be
//! reproduced by a green wait (`pselect` and `epoll_pwait` are not hooked
//! at all; `ppoll` passes through when given a mask).
//!
//! ## What the caller wanted, cached
//!
//! A rerouted call that would block must know what its caller asked for:
//! `O_NONBLOCK`, `SO_RCVTIMEO`/`SO_SNDTIMEO`, whether the descriptor is a
//! socket (a TCP stream). The hooks cache that per descriptor number,
//! process-wide, asking the kernel once, and keep it exact through the
//! calls that change it, all hooked for every caller: `fcntl(F_SETFL)`,
//! `ioctl(FIONBIO)` (std's `set_nonblocking`), `setsockopt` (`SOL_SOCKET`),
//! and `close`, `dup2`/`dup3` (their target) and the descriptors `accept`
//! returns, which name new objects. Two numbers that share an open file
//! description through a hooked `dup`, `dup2`, `dup3` or `F_DUPFD*` are
//! never cached (a flag set through one is the other's too). For pipes
//! and terminals, often shared with other processes, `O_NONBLOCK` is asked
//! of the kernel every time. So a blocking TCP stream's wait costs no
//! system call beyond the `recv` that said `EAGAIN`.
//!
//! `fcntl` and `ioctl` are C-variadic; Rust cannot define a variadic
//! function, so they are defined with a register-wide third argument,
//! which is ABI-compatible with their calls (an `int` or a pointer) on
//! Linux on x86_64 and aarch64. On other targets they are not hooked and
//! nothing is cached: every wait asks the kernel.
//!
//! **The trade-off.** A change the hooks cannot see is not seen by the
//! cache: a raw `fcntl`/`ioctl`/`setsockopt` system call (rustix's raw
//! backend), another process changing an open file description it shares
//! (a `fork`ed child, a descriptor passed over a Unix socket, which also
//! shares it with any number of this process), and a number closed behind
//! the hooks' back (a raw `close`; the C library's internal closes, such as
//! `fclose` of an `fdopen`ed socket) and reused by a descriptor no hooked
//! call returned. Such a descriptor may be treated as what it was: a
//! non-blocking socket as blocking (the call parks until it is ready
//! instead of returning `EAGAIN`), or the reverse. A socket call on a
//! number the cache wrongly holds for a socket corrects the entry
//! (`ENOTSOCK`), and a wait on a stale registration is proven within
//! 100 ms by the runtime (its sweep), as before the cache.
//!
//! **The short-read rule.** A plain read of a blocking TCP stream that
//! returns fewer bytes than asked emptied the receive queue (the rule of
//! the runtime's own TCP streams, and tokio's): the hook tells its hub, and
//! the next read of the stream, while the hub has reported nothing new on
//! it, parks first instead of making a `recv` that would only say
//! `EAGAIN`. Anything that arrives later raises a new edge on the
//! registration, so nothing is lost. A stream whose read side the hub
//! ever saw closed, in error or with urgent data reads without the rule
//! for good (end of stream raises no edge after the short read that ate
//! it); a non-blocking caller always asks the kernel; `MSG_PEEK` and other
//! flags, datagrams and Unix streams (which may stop short at a message
//! carrying descriptors) never use it. An echo round trip of a blocking
//! std server is then one `recv` and one `send`, as a green socket's.
//!
//! ## errno
//!
//! `errno` is what the original would leave: unchanged by a call that
//! succeeds (it is saved on entry and restored around the runtime's work,
//! which may clobber it), the kernel's error for one that fails, plus the
//! interruption errors below.
//!
//! ## Kill and timeouts never unwind through C frames
//!
//! Unwinding out of an `extern "C"` function aborts the process, so a green
//! thread killed, or whose `with_timeout` scope expires, while parked in a
//! hook is not unwound there. The call fails instead:
//!
//! - killed: `-1` with `errno` = `ECANCELED` ([`KILLED`]); std reports
//!   `io::ErrorKind::Other` (not `Interrupted`, which std and many C
//!   libraries retry forever);
//! - timeout scope expired: `-1` with `errno` = `ETIMEDOUT` ([`TIMED_OUT`]),
//!   `io::ErrorKind::TimedOut`;
//! - `getaddrinfo`: `EAI_SYSTEM` with that `errno`;
//! - the sleep family returns early, successfully (sleeps have no error their
//!   callers handle: std's `thread::sleep` asserts `EINTR` and sleeps again);
//! - a root whose wait could never end: `EDEADLK` ([`NEVER`]).
//!
//! The kill or the timeout stays pending and takes effect at the green
//! thread's next park from Rust code (destructors run, `join` reports
//! `Killed`). A hook called while a kill is pending still makes its call
//! without blocking; only a wait fails at once. Waits are oneshot
//! registrations removed however they end, so a reused descriptor number
//! never receives a stale wake-up.
//!
//! ## How linking is guaranteed
//!
//! A linker takes an object file out of a Rust library (an archive) only
//! when it defines a symbol that is still undefined, and GNU ld scans each
//! archive once, in order: a definition nobody asked for would be left out,
//! and the C library's would win. Two things make the hooks part of every
//! program that links `greenpatch`:
//!
//! - rustc makes every `#[no_mangle]` definition of a linked Rust library a
//!   root of the link (it adds an object file that references them), so
//!   the linker takes the objects that define the hooks whatever its
//!   scanning order, the number of codegen units or LTO — this crate only
//!   has to be linked at all;
//! - `greenpatch` depends on this crate and uses it: its registry module
//!   `"libc"` holds every hook as a typed function pointer ([`green`]).
//!
//! The program's own definitions then come before the C library, which is
//! last on the link line, so std's references and the C libraries' bind to
//! them. Because the C library (a shared library) defines the same names,
//! the linker also puts them in the executable's dynamic symbol table,
//! which is what lets shared libraries loaded later with `dlopen` bind to
//! them. The `links` key in this crate's manifest makes a second copy of
//! the crate in one program a build error from cargo, instead of a
//! duplicate-symbol error from the linker.
//!
//! ## What the hooks cannot reach
//!
//! - std's `Mutex`, `Condvar`, `thread::park`, channel waits: raw `futex`
//!   system calls, not C library calls — a green thread that blocks on them
//!   blocks its hub (use greenpatch's `thread` and `queue` facades);
//! - crates that make system calls themselves (rustix's raw-syscall
//!   backend, used by default on Linux: `polling`, parts of `async-io`, …);
//! - the C library's internal calls (glibc calls its own hidden aliases:
//!   `getaddrinfo`'s DNS traffic, `fopen`/`fread`/`fgets` stdio buffering
//!   on sockets, `system`, `popen`'s wait);
//! - statically linked programs (musl or static glibc): there is no
//!   dynamic C library to come after; the hooks then make the system calls
//!   themselves, but C code linked statically may have bound the C
//!   library's own definitions;
//! - a std `Mutex` (or any OS-level lock) held across a hooked call that
//!   parks: another green thread of the same hub that then takes the lock
//!   blocks the OS thread in `futex`, and the holder can never resume —
//!   share sockets between green threads with greenpatch's `thread::Mutex`;
//! - changes of a descriptor's flags or timeouts made where no hook runs,
//!   and numbers closed and reused behind the hooks' back (see "What the
//!   caller wanted, cached");
//! - signal handlers other than the runtime's own run with the interrupted
//!   code's state: a handler that calls a blocking hooked function on a
//!   blocking socket while a green thread runs could park from the handler;
//!   keep handlers async-signal-safe (non-blocking writes, as usual).
//!
//! Races accepted: between the zero-timeout `poll` and the original call of
//! an `accept`, or a `read`/`write` on a descriptor without `RWF_NOWAIT`
//! (a terminal), another thread or process
//! sharing the descriptor may take what was ready, and the original then
//! blocks the hub until more comes; during a blocking `connect`, the socket
//! is `O_NONBLOCK` for the duration of the one system call. A `connect` on
//! a Unix socket whose listener's backlog is full is retried after short
//! green sleeps (1 ms doubling to 50 ms): readiness does not report
//! backlog room.
//!
//! A green thread that blocks its hub anyway — through any of these — is
//! what the runtime's blocking monitor reports (`monitor::enable`, or
//! `GREENPATCH_MONITOR_THREAD=1`), with its spawn site.
//!
//! ## Example
//!
//! The hooks are switched by `greenpatch`'s registry; this crate's own API
//! is what the registry uses:
//!
//! ```
//! use greenpatch_libc::Hook;
//! // Off: recv is the C library's, for every caller.
//! assert!(!Hook::Recv.is_enabled());
//! // The original is the C library's function, not ours.
//! assert_ne!(Hook::Recv.original(), Hook::Recv.hook_address());
//! assert_eq!(Hook::ALL.len(), 29);
//! ```

mod dns;
mod fdstate;
mod hooks;
mod io;
mod route;
mod sys;
mod track;
mod wait;

pub use route::{KILLED, NEVER, TIMED_OUT};
pub use sys::{green, types, Hook};
