//! What the suite ran on: CPU model and core count (from `/proc/cpuinfo`),
//! kernel release, `rustc -V`, and `vm.max_map_count` (which bounds how
//! many green-thread stacks can be mapped at once).

use std::fmt;
use std::process::Command;

/// A description of the machine.
#[derive(Clone, Debug)]
pub struct Machine {
    /// CPU model name.
    pub cpu: String,
    /// Logical CPUs listed in `/proc/cpuinfo`.
    pub cores: usize,
    /// CPUs this process may run on.
    pub available: usize,
    /// Kernel release.
    pub kernel: String,
    /// `rustc -V`, if rustc is on the path.
    pub rustc: String,
    /// `vm.max_map_count`.
    pub max_map_count: Option<u64>,
}

impl Machine {
    /// Reads the description from `/proc` and `rustc -V`.
    pub fn detect() -> Machine {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu = cpuinfo
            .lines()
            .find_map(|l| {
                l.strip_prefix("model name").and_then(|r| r.split_once(':')).map(|(_, v)| v.trim().to_string())
            })
            .unwrap_or_else(|| "unknown".into());
        let cores = cpuinfo.lines().filter(|l| l.starts_with("processor")).count();
        let available = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
        let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .map(|s| format!("Linux {}", s.trim()))
            .unwrap_or_else(|_| "unknown".into());
        let rustc_bin = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
        let rustc = Command::new(rustc_bin)
            .arg("-V")
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .unwrap_or_else(|| "rustc not found".into());
        Machine { cpu, cores, available, kernel, rustc, max_map_count: max_map_count() }
    }
}

/// `vm.max_map_count`, if readable.
pub fn max_map_count() -> Option<u64> {
    std::fs::read_to_string("/proc/sys/vm/max_map_count").ok()?.trim().parse().ok()
}

/// The 1-minute load average (`/proc/loadavg`), to tell a quiet machine
/// from a busy one when reading the figures.
pub fn load_average() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg").ok()?.split_whitespace().next()?.parse().ok()
}

/// Memory mappings this process holds now (lines of `/proc/self/maps`).
pub fn current_maps() -> Option<u64> {
    Some(std::fs::read_to_string("/proc/self/maps").ok()?.lines().count() as u64)
}

impl fmt::Display for Machine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "- CPU: {} ({} logical CPUs, {} available to this process)", self.cpu, self.cores, self.available)?;
        writeln!(f, "- kernel: {}", self.kernel)?;
        writeln!(f, "- {}", self.rustc)?;
        match self.max_map_count {
            Some(m) => writeln!(f, "- vm.max_map_count: {m}"),
            None => writeln!(f, "- vm.max_map_count: unknown"),
        }
    }
}
