//! Child processes of the suite.
//!
//! The TCP and HTTP workloads drive their servers from a separate process:
//! the `echo_client` and `http_load` binaries of this crate, found beside
//! the running `versus` binary (when `versus` runs under `cargo run`, they
//! are built first with the same profile). If they cannot be found, the
//! same client code runs in a re-executed `versus --child <tool>`. The
//! memory workload re-executes `versus --child memory …` so that each
//! measurement starts from a fresh process.
//!
//! Children print one line of `key=value` pairs; [`parse_kv`] reads it.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::{Command, Stdio};

/// A client tool of the suite.
#[derive(Clone, Copy, Debug)]
pub enum Tool {
    /// `echo_client`: TCP echo round trips.
    EchoClient,
    /// `http_load`: HTTP/1.1 keep-alive requests.
    HttpLoad,
}

impl Tool {
    fn bin(self) -> &'static str {
        match self {
            Tool::EchoClient => "echo_client",
            Tool::HttpLoad => "http_load",
        }
    }

    fn child(self) -> &'static str {
        match self {
            Tool::EchoClient => "echo-client",
            Tool::HttpLoad => "http-load",
        }
    }
}

/// Builds the client binaries when running under cargo (so that they are
/// up to date); returns a line saying how the clients will run.
pub fn prepare() -> String {
    let Ok(exe) = std::env::current_exe() else { return "clients: re-executed versus".into() };
    if let Ok(cargo) = std::env::var("CARGO") {
        let release = exe.parent().and_then(|p| p.file_name()).is_some_and(|n| n == "release");
        let mut cmd = Command::new(cargo);
        cmd.args(["build", "--quiet", "-p", "benches", "--bin", "echo_client", "--bin", "http_load"]);
        if release {
            cmd.arg("--release");
        }
        match cmd.status() {
            Ok(s) if s.success() => {}
            _ => eprintln!("versus: could not build the client binaries; using `versus --child` instead"),
        }
    }
    if sibling(Tool::EchoClient).is_some() && sibling(Tool::HttpLoad).is_some() {
        "clients: separate processes (echo_client, http_load binaries)".into()
    } else {
        "clients: separate processes (re-executed `versus --child`)".into()
    }
}

fn sibling(tool: Tool) -> Option<PathBuf> {
    let p = std::env::current_exe().ok()?.with_file_name(tool.bin());
    p.is_file().then_some(p)
}

/// The command that runs `tool` in a child process (arguments not yet added).
pub fn command(tool: Tool) -> Command {
    match sibling(tool) {
        Some(p) => Command::new(p),
        None => self_child(tool.child()),
    }
}

/// `versus --child <kind>`.
pub fn self_child(kind: &str) -> Command {
    let exe = std::env::current_exe().expect("path of the running binary");
    let mut c = Command::new(exe);
    c.args(["--child", kind]);
    c
}

/// Runs `cmd` to completion and returns the `key=value` pairs of the last
/// line of its stdout.
pub fn run_kv(mut cmd: Command) -> Result<HashMap<String, f64>, String> {
    let out =
        cmd.stdin(Stdio::null()).stderr(Stdio::inherit()).output().map_err(|e| format!("cannot start {cmd:?}: {e}"))?;
    if !out.status.success() {
        return Err(format!("{cmd:?} failed: {}", out.status));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().last().unwrap_or_default();
    Ok(parse_kv(line))
}

/// Parses `a=1 b=2.5` into a map (values that are not numbers are skipped).
pub fn parse_kv(line: &str) -> HashMap<String, f64> {
    line.split_whitespace()
        .filter_map(|kv| kv.split_once('='))
        .filter_map(|(k, v)| v.parse().ok().map(|v| (k.to_string(), v)))
        .collect()
}
