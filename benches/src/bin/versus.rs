//! `versus`: greenpatch and tokio side by side, in one command.
//!
//! ```text
//! cargo run --release -p benches --bin versus [-- --quick] [-- --only NAME]
//! ```
//!
//! Runs every workload of `benches::work` on greenpatch, tokio
//! `current_thread` and tokio `multi_thread` (and the physical floor where
//! one exists), one warm-up round then alternating counted rounds, and
//! prints a markdown table of medians, pairwise ratios and targets. Writes
//! `results.json`, `ratios.svg` and `table.md` under `target/versus/` (or
//! `--out DIR`). Progress goes to stderr, the table to stdout.

use std::path::PathBuf;
use std::time::Instant;

use benches::harness::{self, Config, RowResult};
use benches::machine::{self, Machine};
use benches::{child, clients, report, work};

fn usage() -> String {
    let mut s = String::from(
        "versus: greenpatch vs tokio, side by side\n\n\
         usage: cargo run --release -p benches --bin versus -- [--quick] [--only NAME[,NAME..]] [--out DIR]\n\n\
         options:\n  \
         --quick        fewer, shorter runs (the whole table in under a minute)\n  \
         --only NAME    run only the named workload(s); may be repeated or comma-separated\n  \
         --verbose      print every run's figures on stderr\n  \
         --side SIDE    run only greenpatch, tokio-ct, tokio-mt or floor (to profile one side)\n  \
         --out DIR      where to write results.json, ratios.svg and table.md (default: target/versus)\n  \
         --help         this text\n\nworkloads:\n",
    );
    for e in work::all() {
        s.push_str(&format!("  {:<10} {}\n", e.id, e.about));
    }
    s
}

fn default_out() -> PathBuf {
    if let Ok(t) = std::env::var("CARGO_TARGET_DIR") {
        return PathBuf::from(t).join("versus");
    }
    // The binary lives in target/<profile>/.
    std::env::current_exe()
        .ok()
        .and_then(|e| e.parent()?.parent().map(|p| p.join("versus")))
        .unwrap_or_else(|| PathBuf::from("target/versus"))
}

fn child_main(args: &[String]) -> Result<(), String> {
    let (kind, rest) = args.split_first().ok_or("--child needs a kind")?;
    match kind.as_str() {
        "memory" => work::memory::child_main(rest),
        "echo-client" => clients::echo_main(rest),
        "http-load" => clients::http_main(rest),
        "libc-recv" => work::libc::recv_child_main(rest),
        "echo-server" => work::libc::server_child_main(rest),
        _ => Err(format!("unknown child kind {kind}")),
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--child") {
        if let Err(e) = child_main(&args[1..]) {
            eprintln!("{e}");
            std::process::exit(2);
        }
        return;
    }
    let mut quick = false;
    let mut verbose = false;
    let mut only_side = None;
    let mut only: Vec<String> = Vec::new();
    let mut out = default_out();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--quick" => quick = true,
            "--verbose" | "-v" => verbose = true,
            "--side" => match it.next() {
                Some(v) if ["greenpatch", "tokio-ct", "tokio-mt", "floor"].contains(&v.as_str()) => {
                    only_side = Some(v.clone())
                }
                _ => fail("--side needs one of greenpatch, tokio-ct, tokio-mt, floor"),
            },
            "--only" => match it.next() {
                Some(v) => only.extend(v.split(',').map(str::to_string)),
                None => fail("--only needs a workload name"),
            },
            "--out" => match it.next() {
                Some(v) => out = PathBuf::from(v),
                None => fail("--out needs a directory"),
            },
            "--help" | "-h" => {
                print!("{}", usage());
                return;
            }
            other => fail(&format!("unknown argument {other}")),
        }
    }
    let entries: Vec<work::Entry> =
        work::all().into_iter().filter(|e| only.is_empty() || only.iter().any(|o| o == e.id)).collect();
    if let Some(bad) = only.iter().find(|o| !work::all().iter().any(|e| e.id == o.as_str())) {
        fail(&format!("no workload named {bad}"));
    }

    let mut cfg = Config::new(quick);
    cfg.verbose = verbose;
    cfg.only_side = only_side;
    let machine = Machine::detect();
    eprintln!(
        "versus: {} counted runs per workload after a warm-up{}",
        cfg.runs,
        if quick { " (--quick)" } else { "" }
    );
    eprint!("{machine}");
    if entries.iter().any(|e| e.id.contains("echo") || e.id.starts_with("http")) {
        eprintln!("{}", child::prepare());
    }

    let load_before = machine::load_average();
    let started = Instant::now();
    let mut rows: Vec<RowResult> = Vec::new();
    let n = entries.len();
    for (i, e) in entries.iter().enumerate() {
        eprintln!("[{}/{n}] {}: {}", i + 1, e.id, e.about);
        let t = Instant::now();
        let w = (e.make)(&cfg);
        let got = harness::run(&cfg, w, &mut |line| eprintln!("{line}"));
        eprintln!("  done in {:.1} s", t.elapsed().as_secs_f64());
        rows.extend(got);
    }
    let total = started.elapsed().as_secs_f64();
    let load_after = machine::load_average();

    let mode = if quick { "--quick, " } else { "" };
    let header = format!(
        "## greenpatch vs tokio ({mode}{} counted runs per side after a warm-up; medians; {total:.0} s in all)",
        cfg.runs
    );
    let fmt_load = |l: Option<f64>| l.map_or("?".to_string(), |l| format!("{l:.2}"));
    let header = format!(
        "{header}\n\n1-minute load average: {} at the start, {} at the end (the suite itself accounts \
         for 1 to 2 of it; more means other processes competed for the {} CPUs)",
        fmt_load(load_before),
        fmt_load(load_after),
        machine.available
    );
    let table = report::markdown(&rows, &machine, &header);
    println!("{table}");
    let legend = "Ratios are greenpatch/tokio, taken pairwise per round (min / median / max); \
                  tokio-ct = current_thread, tokio-mt = multi_thread. Targets are judged on the median.";
    println!("{legend}");

    if let Err(e) = std::fs::create_dir_all(&out)
        .and_then(|_| std::fs::write(out.join("results.json"), report::json(&rows)))
        .and_then(|_| std::fs::write(out.join("ratios.svg"), report::svg(&rows)))
        .and_then(|_| std::fs::write(out.join("table.md"), format!("{table}\n{legend}\n")))
    {
        eprintln!("versus: cannot write results to {}: {e}", out.display());
        std::process::exit(1);
    }
    eprintln!("versus: wrote {}/{{results.json,ratios.svg,table.md}} in {total:.1} s", out.display());
}

fn fail(msg: &str) -> ! {
    eprintln!("versus: {msg}\n\n{}", usage());
    std::process::exit(2)
}
