//! Child processes whose waits and pipe I/O park only the green thread
//! (gevent's `subprocess`).
//!
//! # Model
//! [`Command`] wraps std's builder; [`Command::spawn`] forks and execs
//! with std (a short call), then makes the parent's ends of the pipes
//! non-blocking and opens a *pidfd* for the child (`pidfd_open`, Linux
//! 5.3+). A wait asks `waitpid(WNOHANG)` (std's `try_wait`) and, while the
//! child runs, parks the green thread on the pidfd's readability through
//! the hub's foreign-descriptor wait — no blocking `waitpid`, no SIGCHLD
//! handler, nothing process-wide. Without pidfds (older kernels) a wait
//! polls with a sleep that doubles from 1 ms to 50 ms. Pipe reads and
//! writes try the system call and park on `EAGAIN`.
//!
//! A command built with [`Command::green`]`(false)` is driven with std's
//! blocking calls instead (what the `greenpatch::process` facade uses
//! before the program is patched).
//!
//! # Invariants
//! - The pidfd refers to our own unreaped child: it is opened right after
//!   the fork, before anything can reap the pid, and closed with the
//!   [`Child`].
//! - A [`Child`] reaps its process only through std's `Child` (`try_wait`,
//!   `wait`), so std's cached status stays right.

use std::ffi::OsStr;
use std::fmt;
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::Path;
use std::process::{self as sp, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

/// A process builder: std's `Command` API, green waits.
///
/// ```
/// use greenpatch_runtime::process::Command;
/// let out = Command::new("echo").arg("hello").output().unwrap();
/// assert_eq!(out.stdout, b"hello\n");
/// ```
pub struct Command {
    inner: sp::Command,
    green: bool,
    stdin_set: bool,
    stdout_set: bool,
    stderr_set: bool,
}

impl From<sp::Command> for Command {
    fn from(inner: sp::Command) -> Command {
        Command { inner, green: true, stdin_set: false, stdout_set: false, stderr_set: false }
    }
}

impl Command {
    /// A command for `program` (std's `Command::new`).
    ///
    /// ```
    /// let _ = greenpatch_runtime::process::Command::new("true");
    /// ```
    pub fn new<S: AsRef<OsStr>>(program: S) -> Command {
        Command::from(sp::Command::new(program))
    }

    /// Drive the child with green waits (`true`, the default) or with
    /// std's blocking calls (`false`).
    ///
    /// ```
    /// let s = greenpatch_runtime::process::Command::new("true").green(false).status().unwrap();
    /// assert!(s.success());
    /// ```
    pub fn green(&mut self, green: bool) -> &mut Command {
        self.green = green;
        self
    }

    /// Adds an argument.
    ///
    /// ```
    /// greenpatch_runtime::process::Command::new("ls").arg("-l");
    /// ```
    pub fn arg<S: AsRef<OsStr>>(&mut self, arg: S) -> &mut Command {
        self.inner.arg(arg);
        self
    }

    /// Adds arguments.
    ///
    /// ```
    /// greenpatch_runtime::process::Command::new("ls").args(["-l", "-a"]);
    /// ```
    pub fn args<I, S>(&mut self, args: I) -> &mut Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.inner.args(args);
        self
    }

    /// Sets an environment variable.
    ///
    /// ```
    /// greenpatch_runtime::process::Command::new("env").env("K", "V");
    /// ```
    pub fn env<K: AsRef<OsStr>, V: AsRef<OsStr>>(&mut self, key: K, val: V) -> &mut Command {
        self.inner.env(key, val);
        self
    }

    /// Sets environment variables.
    ///
    /// ```
    /// greenpatch_runtime::process::Command::new("env").envs([("A", "1"), ("B", "2")]);
    /// ```
    pub fn envs<I, K, V>(&mut self, vars: I) -> &mut Command
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<OsStr>,
        V: AsRef<OsStr>,
    {
        self.inner.envs(vars);
        self
    }

    /// Removes an environment variable.
    ///
    /// ```
    /// greenpatch_runtime::process::Command::new("env").env_remove("HOME");
    /// ```
    pub fn env_remove<K: AsRef<OsStr>>(&mut self, key: K) -> &mut Command {
        self.inner.env_remove(key);
        self
    }

    /// Clears the environment.
    ///
    /// ```
    /// greenpatch_runtime::process::Command::new("env").env_clear();
    /// ```
    pub fn env_clear(&mut self) -> &mut Command {
        self.inner.env_clear();
        self
    }

    /// Sets the working directory.
    ///
    /// ```
    /// greenpatch_runtime::process::Command::new("pwd").current_dir("/");
    /// ```
    pub fn current_dir<P: AsRef<Path>>(&mut self, dir: P) -> &mut Command {
        self.inner.current_dir(dir);
        self
    }

    /// Configures the child's standard input.
    ///
    /// ```
    /// use std::process::Stdio;
    /// greenpatch_runtime::process::Command::new("cat").stdin(Stdio::piped());
    /// ```
    pub fn stdin<T: Into<Stdio>>(&mut self, cfg: T) -> &mut Command {
        self.stdin_set = true;
        self.inner.stdin(cfg);
        self
    }

    /// Configures the child's standard output.
    ///
    /// ```
    /// use std::process::Stdio;
    /// greenpatch_runtime::process::Command::new("ls").stdout(Stdio::null());
    /// ```
    pub fn stdout<T: Into<Stdio>>(&mut self, cfg: T) -> &mut Command {
        self.stdout_set = true;
        self.inner.stdout(cfg);
        self
    }

    /// Configures the child's standard error.
    ///
    /// ```
    /// use std::process::Stdio;
    /// greenpatch_runtime::process::Command::new("ls").stderr(Stdio::piped());
    /// ```
    pub fn stderr<T: Into<Stdio>>(&mut self, cfg: T) -> &mut Command {
        self.stderr_set = true;
        self.inner.stderr(cfg);
        self
    }

    /// std's builder, for what this type does not forward (`uid`,
    /// `pre_exec`, `process_group`, …).
    ///
    /// ```
    /// use std::os::unix::process::CommandExt;
    /// let mut c = greenpatch_runtime::process::Command::new("true");
    /// c.as_std_mut().process_group(0);
    /// ```
    pub fn as_std_mut(&mut self) -> &mut sp::Command {
        &mut self.inner
    }

    /// Starts the child (std's `spawn`: standard streams inherited unless
    /// configured).
    ///
    /// # Errors
    /// As std's `spawn` (program not found, …).
    ///
    /// ```
    /// let mut c = greenpatch_runtime::process::Command::new("true").spawn().unwrap();
    /// assert!(c.wait().unwrap().success());
    /// ```
    pub fn spawn(&mut self) -> io::Result<Child> {
        let child = self.inner.spawn()?;
        Child::new(child, self.green)
    }

    /// Runs the child to completion, collecting its output (standard
    /// output and error piped, standard input null, unless configured).
    ///
    /// # Errors
    /// As std's `output`.
    ///
    /// ```
    /// let out = greenpatch_runtime::process::Command::new("sh").args(["-c", "echo err >&2; exit 3"]).output().unwrap();
    /// assert_eq!(out.status.code(), Some(3));
    /// assert_eq!(out.stderr, b"err\n");
    /// ```
    pub fn output(&mut self) -> io::Result<Output> {
        if !self.green {
            return self.inner.output();
        }
        if !self.stdin_set {
            self.inner.stdin(Stdio::null());
        }
        if !self.stdout_set {
            self.inner.stdout(Stdio::piped());
        }
        if !self.stderr_set {
            self.inner.stderr(Stdio::piped());
        }
        let r = self.spawn().and_then(Child::wait_with_output);
        // Later calls see the configuration the caller made, as with std.
        if !self.stdin_set {
            self.inner.stdin(Stdio::inherit());
        }
        if !self.stdout_set {
            self.inner.stdout(Stdio::inherit());
        }
        if !self.stderr_set {
            self.inner.stderr(Stdio::inherit());
        }
        r
    }

    /// Runs the child to completion and returns its status (streams
    /// inherited unless configured).
    ///
    /// # Errors
    /// As std's `status`.
    ///
    /// ```
    /// assert!(!greenpatch_runtime::process::Command::new("false").status().unwrap().success());
    /// ```
    pub fn status(&mut self) -> io::Result<ExitStatus> {
        if !self.green {
            return self.inner.status();
        }
        self.spawn()?.wait()
    }
}

impl fmt::Debug for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.inner, f)
    }
}

/// Opens a pidfd for our unreaped child `pid`; `None` where the kernel
/// has none.
fn pidfd_open(pid: u32) -> Option<OwnedFd> {
    let pid = libc::pid_t::try_from(pid).ok()?;
    // SAFETY: pidfd_open takes a pid and flags and returns a new fd or -1;
    // no memory is passed.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    let fd = RawFd::try_from(fd).ok().filter(|&fd| fd >= 0)?;
    // SAFETY: the syscall just returned this fd, which nobody else owns.
    Some(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn set_nonblocking(fd: RawFd) -> io::Result<()> {
    // SAFETY: F_GETFL/F_SETFL on an fd we own, no pointers.
    unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFL);
        if flags < 0 || libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// A running or exited child (std's `Child`, green waits).
///
/// ```
/// use std::io::{Read, Write};
/// use std::process::Stdio;
/// use greenpatch_runtime::process::Command;
/// let mut c = Command::new("cat").stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
/// c.stdin.take().unwrap().write_all(b"ping").unwrap(); // dropped: EOF
/// let mut s = String::new();
/// c.stdout.take().unwrap().read_to_string(&mut s).unwrap();
/// assert_eq!(s, "ping");
/// assert!(c.wait().unwrap().success());
/// ```
pub struct Child {
    /// The child's standard input, if piped.
    pub stdin: Option<ChildStdin>,
    /// The child's standard output, if piped.
    pub stdout: Option<ChildStdout>,
    /// The child's standard error, if piped.
    pub stderr: Option<ChildStderr>,
    inner: sp::Child,
    pidfd: Option<OwnedFd>,
    green: bool,
}

impl Child {
    fn new(mut inner: sp::Child, green: bool) -> io::Result<Child> {
        let pidfd = if green { pidfd_open(inner.id()) } else { None };
        let stdin = inner.stdin.take().map(|s| Pipe::new(s, green)).transpose()?.map(ChildStdin);
        let stdout = inner.stdout.take().map(|s| Pipe::new(s, green)).transpose()?.map(ChildStdout);
        let stderr = inner.stderr.take().map(|s| Pipe::new(s, green)).transpose()?.map(ChildStderr);
        Ok(Child { stdin, stdout, stderr, inner, pidfd, green })
    }

    /// The OS process id.
    ///
    /// ```
    /// let mut c = greenpatch_runtime::process::Command::new("true").spawn().unwrap();
    /// assert!(c.id() > 0);
    /// c.wait().unwrap();
    /// ```
    pub fn id(&self) -> u32 {
        self.inner.id()
    }

    /// Whether waits park the green thread (`false`: std's blocking calls).
    ///
    /// ```
    /// let mut c = greenpatch_runtime::process::Command::new("true").spawn().unwrap();
    /// assert!(c.is_green());
    /// c.wait().unwrap();
    /// ```
    pub fn is_green(&self) -> bool {
        self.green
    }

    /// Sends `SIGKILL` (std's `kill`; fine on an exited, unreaped child).
    ///
    /// # Errors
    /// As std's `kill`.
    ///
    /// ```
    /// let mut c = greenpatch_runtime::process::Command::new("sleep").arg("60").spawn().unwrap();
    /// c.kill().unwrap();
    /// assert!(!c.wait().unwrap().success());
    /// ```
    pub fn kill(&mut self) -> io::Result<()> {
        self.inner.kill()
    }

    /// The exit status if the child has exited (never waits).
    ///
    /// # Errors
    /// As std's `try_wait`.
    ///
    /// ```
    /// let mut c = greenpatch_runtime::process::Command::new("sleep").arg("60").spawn().unwrap();
    /// assert!(c.try_wait().unwrap().is_none());
    /// c.kill().unwrap();
    /// c.wait().unwrap();
    /// ```
    pub fn try_wait(&mut self) -> io::Result<Option<ExitStatus>> {
        self.inner.try_wait()
    }

    /// Waits for the child to exit (closing its piped standard input
    /// first, as std does), parking only the green thread.
    ///
    /// # Errors
    /// As std's `wait`.
    ///
    /// ```
    /// let mut c = greenpatch_runtime::process::Command::new("true").spawn().unwrap();
    /// assert!(c.wait().unwrap().success());
    /// ```
    pub fn wait(&mut self) -> io::Result<ExitStatus> {
        drop(self.stdin.take());
        match self.wait_deadline(None)? {
            Some(s) => Ok(s),
            None => Err(io::Error::new(io::ErrorKind::TimedOut, "child still running")), // no deadline: unreachable
        }
    }

    /// Waits at most `timeout`; `None` if the child still runs (it is left
    /// running: [`kill`](Child::kill) it if that is what a timeout means).
    ///
    /// # Errors
    /// As std's `try_wait`.
    ///
    /// ```
    /// use std::time::Duration;
    /// let mut c = greenpatch_runtime::process::Command::new("sleep").arg("60").spawn().unwrap();
    /// assert!(c.wait_timeout(Duration::from_millis(20)).unwrap().is_none());
    /// c.kill().unwrap();
    /// assert!(c.wait_timeout(Duration::from_secs(5)).unwrap().is_some());
    /// ```
    pub fn wait_timeout(&mut self, timeout: Duration) -> io::Result<Option<ExitStatus>> {
        self.wait_deadline(Instant::now().checked_add(timeout))
    }

    fn wait_deadline(&mut self, deadline: Option<Instant>) -> io::Result<Option<ExitStatus>> {
        if !self.green && deadline.is_none() {
            return self.inner.wait().map(Some);
        }
        let mut nap = Duration::from_millis(1);
        loop {
            if let Some(s) = self.inner.try_wait()? {
                return Ok(Some(s));
            }
            let left = match deadline {
                Some(d) => match d.checked_duration_since(Instant::now()) {
                    Some(l) if !l.is_zero() => Some(l),
                    _ => return Ok(None),
                },
                None => None,
            };
            match (&self.pidfd, self.green) {
                (Some(fd), true) => {
                    crate::wait_readable(fd.as_raw_fd(), left)?;
                }
                _ => {
                    let step = left.map_or(nap, |l| l.min(nap));
                    if self.green {
                        crate::sleep(step);
                    } else {
                        std::thread::sleep(step);
                    }
                    nap = (nap * 2).min(Duration::from_millis(50));
                }
            }
        }
    }

    /// Waits for the child and collects the rest of its piped standard
    /// output and error (read concurrently, so neither pipe can fill up
    /// and stall the child).
    ///
    /// # Errors
    /// As std's `wait_with_output`.
    ///
    /// ```
    /// use std::process::Stdio;
    /// let c = greenpatch_runtime::process::Command::new("echo").arg("x").stdout(Stdio::piped()).spawn().unwrap();
    /// assert_eq!(c.wait_with_output().unwrap().stdout, b"x\n");
    /// ```
    pub fn wait_with_output(mut self) -> io::Result<Output> {
        drop(self.stdin.take());
        let (out, err) = (self.stdout.take(), self.stderr.take());
        let read_all = |r: Option<Pipe>| -> io::Result<Vec<u8>> {
            let mut v = Vec::new();
            if let Some(mut r) = r {
                r.read_to_end(&mut v)?;
            }
            Ok(v)
        };
        let (stdout, stderr) = match (out, err) {
            (Some(o), Some(e)) if self.green => {
                let errs = crate::spawn_local(move || read_all(Some(e.0)));
                let stdout = read_all(Some(o.0));
                let stderr = errs.join().map_err(|e| io::Error::other(e.to_string()))?;
                (stdout?, stderr?)
            }
            (Some(o), Some(e)) => {
                // Blocking flavor: a thread drains standard error.
                let errs = std::thread::spawn(move || read_all(Some(e.0)));
                let stdout = read_all(Some(o.0));
                let stderr = errs.join().map_err(|_| io::Error::other("standard error reader panicked"))?;
                (stdout?, stderr?)
            }
            (o, e) => (read_all(o.map(|o| o.0))?, read_all(e.map(|e| e.0))?),
        };
        let status = self.wait()?;
        Ok(Output { status, stdout, stderr })
    }
}

impl fmt::Debug for Child {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Child").field("id", &self.id()).field("green", &self.green).finish()
    }
}

/// The parent's end of a pipe: non-blocking in the kernel when green.
struct Pipe {
    fd: OwnedFd,
    green: bool,
}

impl Pipe {
    fn new(s: impl Into<OwnedFd>, green: bool) -> io::Result<Pipe> {
        let fd = s.into();
        if green {
            set_nonblocking(fd.as_raw_fd())?;
        }
        Ok(Pipe { fd, green })
    }

    fn io<R>(&self, write: bool, mut op: impl FnMut(RawFd) -> isize, done: impl Fn(isize) -> R) -> io::Result<R> {
        loop {
            let n = op(self.fd.as_raw_fd());
            if n >= 0 {
                return Ok(done(n));
            }
            let e = io::Error::last_os_error();
            match e.kind() {
                io::ErrorKind::Interrupted => continue,
                io::ErrorKind::WouldBlock if self.green => {
                    if write {
                        crate::wait_writable(self.fd.as_raw_fd(), None)?;
                    } else {
                        crate::wait_readable(self.fd.as_raw_fd(), None)?;
                    }
                }
                _ => return Err(e),
            }
        }
    }
}

impl Read for Pipe {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        // SAFETY: `buf` is valid for `buf.len()` writable bytes; `fd` is open.
        self.io(false, |fd| unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) }, |n| n as usize)
    }
}

impl Write for Pipe {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        // SAFETY: `buf` is valid for `buf.len()` readable bytes; `fd` is open.
        self.io(true, |fd| unsafe { libc::write(fd, buf.as_ptr().cast(), buf.len()) }, |n| n as usize)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

macro_rules! pipe_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        pub struct $name(Pipe);

        impl AsRawFd for $name {
            fn as_raw_fd(&self) -> RawFd {
                self.0.fd.as_raw_fd()
            }
        }

        impl From<$name> for OwnedFd {
            fn from(p: $name) -> OwnedFd {
                p.0.fd
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($name)).field("fd", &self.as_raw_fd()).finish()
            }
        }
    };
}

pipe_type! {
    /// The parent's end of the child's standard input; writes park the
    /// green thread while the pipe is full.
    ///
    /// ```
    /// use std::io::Write;
    /// use std::process::Stdio;
    /// let mut c = greenpatch_runtime::process::Command::new("cat").stdin(Stdio::piped()).stdout(Stdio::null()).spawn().unwrap();
    /// c.stdin.as_mut().unwrap().write_all(b"data").unwrap();
    /// assert!(c.wait().unwrap().success());
    /// ```
    ChildStdin
}
pipe_type! {
    /// The parent's end of the child's standard output; reads park the
    /// green thread while it is empty.
    ///
    /// ```
    /// use std::io::Read;
    /// use std::process::Stdio;
    /// let mut c = greenpatch_runtime::process::Command::new("echo").arg("hi").stdout(Stdio::piped()).spawn().unwrap();
    /// let mut s = String::new();
    /// c.stdout.as_mut().unwrap().read_to_string(&mut s).unwrap();
    /// assert_eq!(s, "hi\n");
    /// c.wait().unwrap();
    /// ```
    ChildStdout
}
pipe_type! {
    /// The parent's end of the child's standard error; reads park the
    /// green thread while it is empty.
    ///
    /// ```
    /// use std::io::Read;
    /// use std::process::Stdio;
    /// let mut c = greenpatch_runtime::process::Command::new("sh").args(["-c", "echo e >&2"]).stderr(Stdio::piped()).spawn().unwrap();
    /// let mut s = String::new();
    /// c.stderr.as_mut().unwrap().read_to_string(&mut s).unwrap();
    /// assert_eq!(s, "e\n");
    /// c.wait().unwrap();
    /// ```
    ChildStderr
}

impl Write for ChildStdin {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Read for ChildStdout {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf)
    }
}

impl Read for ChildStderr {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf)
    }
}
