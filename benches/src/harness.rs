//! The measuring harness of the side-by-side suite.
//!
//! A [`Workload`] has up to four sides — greenpatch, tokio `current_thread`,
//! tokio `multi_thread` and a physical floor — each a closure that runs the
//! workload once and returns one figure per [`RowSpec`] (a run of the TCP
//! echo with one connection gives both round trips/s and latency, say).
//! Each closure times only the work itself: building runtimes, binding
//! listeners and similar set-up happen outside the timed region.
//!
//! [`run`] does one warm-up round (not counted), then `runs` counted rounds.
//! Within a round every side runs once; the order alternates between
//! rounds (greenpatch first, then last, …) so that a slow drift of the
//! machine (frequency, caches, other load) does not favour one side. The
//! ratio greenpatch/tokio is taken pairwise, round by round, and reported
//! as min/median/max; targets are judged on the median.

use std::fmt;
use std::time::Instant;

/// Run sizes and counts.
#[derive(Clone, Debug)]
pub struct Config {
    /// `--quick`: fewer, shorter runs.
    pub quick: bool,
    /// Counted rounds per workload.
    pub runs: usize,
    /// Print every run's figures (`--verbose`).
    pub verbose: bool,
    /// Run only this side (`--side`, for profiling one side).
    pub only_side: Option<String>,
}

impl Config {
    /// The full configuration (9 counted rounds) or the quick one (3).
    /// Nine short rounds rather than a few long ones: on a shared virtual
    /// machine the speed drifts by tens of percent within a minute, and
    /// pairs of runs close in time, many of them, keep the median ratio
    /// steady.
    pub fn new(quick: bool) -> Config {
        Config { quick, runs: if quick { 3 } else { 9 }, verbose: false, only_side: None }
    }

    /// `full` normally, `quick` under `--quick`.
    pub fn pick<T>(&self, full: T, quick: T) -> T {
        if self.quick {
            quick
        } else {
            full
        }
    }
}

/// Which way a figure is better.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Better {
    /// Time, latency, memory.
    Lower,
    /// Throughput.
    Higher,
}

/// What a target's number is compared with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Against {
    /// The ratio greenpatch / tokio baseline of the row.
    Tokio,
    /// The ratio greenpatch / floor.
    Floor,
    /// The greenpatch figure itself, in the row's unit.
    Absolute,
}

/// A target: `greenpatch (or a ratio) ≤ or ≥ value`.
#[derive(Clone, Copy, Debug)]
pub struct Target {
    /// What is compared.
    pub against: Against,
    /// `true`: must be at most `value`; `false`: at least.
    pub at_most: bool,
    /// The bound.
    pub value: f64,
}

impl Target {
    /// greenpatch / tokio ≤ `x`.
    pub fn tokio_at_most(x: f64) -> Target {
        Target { against: Against::Tokio, at_most: true, value: x }
    }

    /// greenpatch / tokio ≥ `x`.
    pub fn tokio_at_least(x: f64) -> Target {
        Target { against: Against::Tokio, at_most: false, value: x }
    }

    /// greenpatch / floor ≤ `x`.
    pub fn floor_at_most(x: f64) -> Target {
        Target { against: Against::Floor, at_most: true, value: x }
    }

    /// greenpatch / floor ≥ `x`.
    pub fn floor_at_least(x: f64) -> Target {
        Target { against: Against::Floor, at_most: false, value: x }
    }

    /// greenpatch ≤ `x` in the row's unit.
    pub fn absolute_at_most(x: f64) -> Target {
        Target { against: Against::Absolute, at_most: true, value: x }
    }

    /// Short text for the table, e.g. `≤ 0.5× tokio`.
    pub fn describe(&self, row: &RowSpec, baseline: Baseline) -> String {
        let op = if self.at_most { "≤" } else { "≥" };
        match self.against {
            Against::Tokio => format!("{op} {}× {}", self.value, baseline.short()),
            Against::Floor => format!("{op} {}× {}", self.value, row.floor_name.unwrap_or("floor")),
            Against::Absolute => format!("{op} {} {}", self.value, row.unit),
        }
    }

    fn check(&self, x: f64) -> bool {
        if self.at_most {
            x <= self.value
        } else {
            x >= self.value
        }
    }
}

/// Which tokio flavour the ratio of a row divides by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Baseline {
    /// tokio `current_thread` (single-hub rows).
    Current,
    /// tokio `multi_thread` (multi-hub rows).
    Multi,
}

impl Baseline {
    /// Name used in target descriptions.
    pub fn short(self) -> &'static str {
        match self {
            Baseline::Current => "tokio-ct",
            Baseline::Multi => "tokio-mt",
        }
    }
}

/// One line of the table.
#[derive(Clone, Debug)]
pub struct RowSpec {
    /// Workload name as printed.
    pub name: String,
    /// Unit of every figure of the row.
    pub unit: &'static str,
    /// Which way is better.
    pub better: Better,
    /// Targets, judged on medians.
    pub targets: Vec<Target>,
    /// Name of the floor, when the row has one.
    pub floor_name: Option<&'static str>,
}

impl RowSpec {
    /// A row without targets or floor.
    pub fn new(name: impl Into<String>, unit: &'static str, better: Better) -> RowSpec {
        RowSpec { name: name.into(), unit, better, targets: Vec::new(), floor_name: None }
    }

    /// Adds a target.
    pub fn target(mut self, t: Target) -> RowSpec {
        self.targets.push(t);
        self
    }

    /// Names the row's floor (the floor side must return a figure for it).
    pub fn floor(mut self, name: &'static str) -> RowSpec {
        self.floor_name = Some(name);
        self
    }
}

/// One run of one side: one figure per row (`f64::NAN` where the side has
/// nothing for that row).
pub type Side = Box<dyn FnMut() -> Vec<f64>>;

/// The sides of a workload. The greenpatch side is `Err(what is missing)`
/// while the runtime API it needs does not exist yet; the other sides still
/// run, so that the table shows them.
pub struct Sides {
    /// greenpatch (one hub, or the hubs the workload names).
    pub greenpatch: Result<Side, String>,
    /// tokio `current_thread`.
    pub tokio_current: Option<Side>,
    /// tokio `multi_thread`.
    pub tokio_multi: Option<Side>,
    /// The physical floor.
    pub floor: Option<Side>,
}

/// A workload: its rows and how to run each side.
pub struct Workload {
    /// The rows its runs fill.
    pub rows: Vec<RowSpec>,
    /// Which tokio flavour ratios divide by.
    pub baseline: Baseline,
    /// What was run, in a few words (sizes, configurations).
    pub note: String,
    /// The sides.
    pub sides: Sides,
}

/// Median and spread of one side's figures for one row.
#[derive(Clone, Debug)]
pub struct Stats {
    /// Counted samples, in run order.
    pub samples: Vec<f64>,
}

impl Stats {
    /// The median (mean of the two middle ones for an even count).
    pub fn median(&self) -> f64 {
        median(&self.samples)
    }
}

/// Median of `xs` (NaN for none).
pub fn median(xs: &[f64]) -> f64 {
    let mut v: Vec<f64> = xs.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Min, median and max of pairwise ratios.
#[derive(Clone, Copy, Debug)]
pub struct Spread {
    /// Smallest ratio.
    pub min: f64,
    /// Median ratio.
    pub median: f64,
    /// Largest ratio.
    pub max: f64,
}

impl Spread {
    fn of(a: &[f64], b: &[f64]) -> Option<Spread> {
        let r: Vec<f64> = a.iter().zip(b).map(|(x, y)| x / y).filter(|x| x.is_finite()).collect();
        if r.is_empty() {
            return None;
        }
        let min = r.iter().copied().fold(f64::INFINITY, f64::min);
        let max = r.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        Some(Spread { min, median: median(&r), max })
    }
}

/// Whether a row meets its targets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// No target for this row.
    NoTarget,
    /// The greenpatch side could not run.
    Pending,
    /// Each target with whether it is met.
    Judged(Vec<bool>),
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Verdict::NoTarget => f.write_str("—"),
            Verdict::Pending => f.write_str("pending"),
            Verdict::Judged(v) => {
                let words: Vec<&str> = v.iter().map(|&m| if m { "met" } else { "**missed**" }).collect();
                f.write_str(&words.join(", "))
            }
        }
    }
}

/// The outcome of one row.
#[derive(Clone, Debug)]
pub struct RowResult {
    /// What the row is.
    pub spec: RowSpec,
    /// The workload's note.
    pub note: String,
    /// Ratio baseline.
    pub baseline: Baseline,
    /// greenpatch figures, or what is missing.
    pub greenpatch: Result<Stats, String>,
    /// tokio `current_thread` figures.
    pub tokio_current: Option<Stats>,
    /// tokio `multi_thread` figures.
    pub tokio_multi: Option<Stats>,
    /// Floor figures.
    pub floor: Option<Stats>,
    /// Pairwise greenpatch / baseline.
    pub ratio: Option<Spread>,
    /// Pairwise greenpatch / floor.
    pub floor_ratio: Option<Spread>,
    /// Targets met or not.
    pub verdict: Verdict,
}

impl RowResult {
    /// A row whose figures are all missing (for `pending` rows of a
    /// workload that could not be set up at all).
    pub fn pending(spec: RowSpec, baseline: Baseline, why: String) -> RowResult {
        RowResult {
            spec,
            note: String::new(),
            baseline,
            greenpatch: Err(why),
            tokio_current: None,
            tokio_multi: None,
            floor: None,
            ratio: None,
            floor_ratio: None,
            verdict: Verdict::Pending,
        }
    }
}

#[derive(Clone, Copy)]
enum Which {
    Greenpatch,
    Current,
    Multi,
    Floor,
}

/// Runs a workload: one warm-up round, then `cfg.runs` alternating rounds.
/// `progress` receives one line per round.
pub fn run(cfg: &Config, mut w: Workload, progress: &mut dyn FnMut(&str)) -> Vec<RowResult> {
    let nrows = w.rows.len();
    let mut samples: [Vec<Vec<f64>>; 4] = Default::default();
    let order = [Which::Greenpatch, Which::Current, Which::Multi, Which::Floor];
    for round in 0..=cfg.runs {
        let started = Instant::now();
        let mut this: Vec<Which> = order.to_vec();
        // Round 0 is the warm-up; counted rounds alternate the order.
        if round % 2 == 0 {
            this.reverse();
        }
        for which in this {
            let side: Option<&mut Side> = match which {
                Which::Greenpatch => w.sides.greenpatch.as_mut().ok(),
                Which::Current => w.sides.tokio_current.as_mut(),
                Which::Multi => w.sides.tokio_multi.as_mut(),
                Which::Floor => w.sides.floor.as_mut(),
            };
            let Some(side) = side else { continue };
            let name = ["greenpatch", "tokio-ct", "tokio-mt", "floor"][which as usize];
            if cfg.only_side.as_deref().is_some_and(|o| o != name) {
                continue;
            }
            let mut figures = side();
            figures.resize(nrows, f64::NAN);
            if cfg.verbose {
                let shown: Vec<String> = figures.iter().map(|x| format!("{x:.3}")).collect();
                progress(&format!("    {name}: {}", shown.join(" ")));
            }
            if round > 0 {
                samples[which as usize].push(figures);
            }
        }
        let label = if round == 0 { "warm-up".to_string() } else { format!("run {round}/{}", cfg.runs) };
        progress(&format!("  {label} ({:.2} s)", started.elapsed().as_secs_f64()));
    }
    let column = |which: Which, row: usize| -> Option<Stats> {
        let runs = &samples[which as usize];
        if runs.is_empty() {
            return None;
        }
        let s: Vec<f64> = runs.iter().map(|r| r[row]).collect();
        if s.iter().all(|x| x.is_nan()) {
            None
        } else {
            Some(Stats { samples: s })
        }
    };
    let mut out = Vec::with_capacity(nrows);
    for (i, spec) in w.rows.into_iter().enumerate() {
        let gp = match &w.sides.greenpatch {
            Ok(_) => column(Which::Greenpatch, i).ok_or_else(|| "no figure".to_string()),
            Err(why) => Err(why.clone()),
        };
        let tc = column(Which::Current, i);
        let tm = column(Which::Multi, i);
        let floor = if spec.floor_name.is_some() { column(Which::Floor, i) } else { None };
        let base = match w.baseline {
            Baseline::Current => tc.as_ref(),
            Baseline::Multi => tm.as_ref(),
        };
        let ratio = match (&gp, base) {
            (Ok(g), Some(b)) => Spread::of(&g.samples, &b.samples),
            _ => None,
        };
        let floor_ratio = match (&gp, &floor) {
            (Ok(g), Some(f)) => Spread::of(&g.samples, &f.samples),
            _ => None,
        };
        let verdict = if spec.targets.is_empty() {
            Verdict::NoTarget
        } else if let Ok(g) = &gp {
            let judged = spec
                .targets
                .iter()
                .map(|t| {
                    let x = match t.against {
                        Against::Tokio => ratio.map(|r| r.median),
                        Against::Floor => floor_ratio.map(|r| r.median),
                        Against::Absolute => Some(g.median()),
                    };
                    x.is_some_and(|x| t.check(x))
                })
                .collect();
            Verdict::Judged(judged)
        } else {
            Verdict::Pending
        };
        out.push(RowResult {
            spec,
            note: w.note.clone(),
            baseline: w.baseline,
            greenpatch: gp,
            tokio_current: tc,
            tokio_multi: tm,
            floor,
            ratio,
            floor_ratio,
            verdict,
        });
    }
    out
}

/// Nanoseconds per operation.
pub fn ns_per(elapsed: std::time::Duration, ops: u64) -> f64 {
    elapsed.as_nanos() as f64 / ops as f64
}
