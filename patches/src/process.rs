//! `process`: child processes — std's `Command`/`Child` until the
//! `subprocess` module is patched, green waits and pipes after it (gevent's
//! `subprocess` patch).
//!
//! # Model
//!
//! One registry item, the flavor item `subprocess.Command`, read when a
//! [`Command`] spawns: before patching the child is driven with std's
//! blocking calls (`waitpid`, blocking pipes), after it with the runtime's
//! green waits (a pidfd parked on through the hub, non-blocking pipes), so
//! `output`, `wait`, `wait_with_output` and pipe reads/writes park only the
//! calling green thread. A [`Child`] keeps the flavor it was spawned with
//! ([`Child::is_green`]).
//!
//! `subprocess` is an opt-in builtin module: `PatchAll::default()` leaves it
//! alone; ask for it with `PatchAll::default().subprocess(true)`. It does not
//! depend on the C-level `libc` hooks and does not conflict with them: the
//! green flavor makes only non-blocking calls.
//!
//! ```
//! use greenpatch::process::Command;
//! let out = Command::new("echo").arg("hi").output().unwrap();
//! assert_eq!(out.stdout, b"hi\n");
//! ```

use std::ffi::OsStr;
use std::io;
use std::path::Path;

use crate::flavor::flavor_items;
use crate::Flavor;

pub use greenpatch_runtime::process::{Child, ChildStderr, ChildStdin, ChildStdout};
pub use std::process::{ExitStatus, Output, Stdio};

flavor_items! {
    /// `subprocess.Command`: the flavor of the children a `Command` spawns.
    pub(crate) static COMMAND = "Command";
}

crate::patchable_module!(builtin, name = "subprocess", items = [COMMAND]);

/// A process builder with std's API; the flavor of its children follows
/// the `subprocess` module at spawn time.
///
/// ```
/// use greenpatch::process::Command;
/// let status = Command::new("sh").args(["-c", "exit 2"]).status().unwrap();
/// assert_eq!(status.code(), Some(2));
/// ```
#[derive(Debug)]
pub struct Command {
    inner: greenpatch_runtime::process::Command,
}

impl From<std::process::Command> for Command {
    fn from(c: std::process::Command) -> Command {
        Command { inner: c.into() }
    }
}

macro_rules! forward {
    ($($(#[$doc:meta])* fn $name:ident$(<$($g:ident: $b:path),*>)?($($arg:ident: $ty:ty),*);)+) => {$(
        $(#[$doc])*
        pub fn $name$(<$($g: $b),*>)?(&mut self, $($arg: $ty),*) -> &mut Command {
            self.inner.$name($($arg),*);
            self
        }
    )+};
}

impl Command {
    /// A command for `program`.
    ///
    /// ```
    /// let _ = greenpatch::process::Command::new("true");
    /// ```
    pub fn new<S: AsRef<OsStr>>(program: S) -> Command {
        Command { inner: greenpatch_runtime::process::Command::new(program) }
    }

    forward! {
        /// Adds an argument.
        ///
        /// ```
        /// greenpatch::process::Command::new("ls").arg("-l");
        /// ```
        fn arg<S: AsRef<OsStr>>(arg: S);
        /// Sets an environment variable.
        ///
        /// ```
        /// greenpatch::process::Command::new("env").env("K", "V");
        /// ```
        fn env<K: AsRef<OsStr>, V: AsRef<OsStr>>(key: K, val: V);
        /// Removes an environment variable.
        ///
        /// ```
        /// greenpatch::process::Command::new("env").env_remove("HOME");
        /// ```
        fn env_remove<K: AsRef<OsStr>>(key: K);
        /// Sets the working directory.
        ///
        /// ```
        /// greenpatch::process::Command::new("pwd").current_dir("/");
        /// ```
        fn current_dir<P: AsRef<Path>>(dir: P);
        /// Configures standard input.
        ///
        /// ```
        /// greenpatch::process::Command::new("cat").stdin(std::process::Stdio::null());
        /// ```
        fn stdin<T: Into<Stdio>>(cfg: T);
        /// Configures standard output.
        ///
        /// ```
        /// greenpatch::process::Command::new("ls").stdout(std::process::Stdio::null());
        /// ```
        fn stdout<T: Into<Stdio>>(cfg: T);
        /// Configures standard error.
        ///
        /// ```
        /// greenpatch::process::Command::new("ls").stderr(std::process::Stdio::null());
        /// ```
        fn stderr<T: Into<Stdio>>(cfg: T);
    }

    /// Adds arguments.
    ///
    /// ```
    /// greenpatch::process::Command::new("ls").args(["-l", "-a"]);
    /// ```
    pub fn args<I, S>(&mut self, args: I) -> &mut Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.inner.args(args);
        self
    }

    /// Sets environment variables.
    ///
    /// ```
    /// greenpatch::process::Command::new("env").envs([("A", "1")]);
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

    /// Clears the environment.
    ///
    /// ```
    /// greenpatch::process::Command::new("env").env_clear();
    /// ```
    pub fn env_clear(&mut self) -> &mut Command {
        self.inner.env_clear();
        self
    }

    /// std's builder, for what this type does not forward.
    ///
    /// ```
    /// use std::os::unix::process::CommandExt;
    /// greenpatch::process::Command::new("true").as_std_mut().process_group(0);
    /// ```
    pub fn as_std_mut(&mut self) -> &mut std::process::Command {
        self.inner.as_std_mut()
    }

    fn flavored(&mut self) -> &mut greenpatch_runtime::process::Command {
        let green = (COMMAND.get())() == Flavor::Green;
        self.inner.green(green)
    }

    /// Starts the child.
    ///
    /// # Errors
    /// As std's `spawn`.
    ///
    /// ```
    /// let mut c = greenpatch::process::Command::new("true").spawn().unwrap();
    /// assert!(c.wait().unwrap().success());
    /// ```
    pub fn spawn(&mut self) -> io::Result<Child> {
        self.flavored().spawn()
    }

    /// Runs the child to completion and collects its output.
    ///
    /// # Errors
    /// As std's `output`.
    ///
    /// ```
    /// let o = greenpatch::process::Command::new("echo").arg("x").output().unwrap();
    /// assert_eq!(o.stdout, b"x\n");
    /// ```
    pub fn output(&mut self) -> io::Result<Output> {
        self.flavored().output()
    }

    /// Runs the child to completion and returns its status.
    ///
    /// # Errors
    /// As std's `status`.
    ///
    /// ```
    /// assert!(greenpatch::process::Command::new("true").status().unwrap().success());
    /// ```
    pub fn status(&mut self) -> io::Result<ExitStatus> {
        self.flavored().status()
    }
}
