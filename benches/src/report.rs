//! Output of the side-by-side suite: the markdown table printed on stdout,
//! `results.json` (one object per row) and `ratios.svg`, a hand-written bar
//! chart of the median ratios greenpatch/tokio on a log scale, with the 1.0
//! line and each row's target marked.

use std::fmt::Write as _;

use crate::harness::{Against, Better, RowResult, Verdict};
use crate::machine::Machine;

/// A figure with about three significant digits and thousands separators.
pub fn num(x: f64) -> String {
    if !x.is_finite() {
        return "—".into();
    }
    let a = x.abs();
    if a >= 10_000.0 {
        let mut digits = format!("{:.0}", a);
        let mut out = String::new();
        while digits.len() > 3 {
            let tail = digits.split_off(digits.len() - 3);
            out = format!(",{tail}{out}");
        }
        format!("{}{digits}{out}", if x < 0.0 { "-" } else { "" })
    } else if a >= 100.0 {
        format!("{x:.0}")
    } else if a >= 10.0 {
        format!("{x:.1}")
    } else if a >= 1.0 {
        format!("{x:.2}")
    } else {
        format!("{x:.3}")
    }
}

/// An integer with thousands separators: `100000` → `100,000`.
pub fn count(n: impl Into<u64>) -> String {
    let digits = n.into().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn ratio(x: f64) -> String {
    if !x.is_finite() {
        "—".into()
    } else if x >= 10.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.2}")
    }
}

fn targets(r: &RowResult) -> String {
    if r.spec.targets.is_empty() {
        return "—".into();
    }
    r.spec.targets.iter().map(|t| t.describe(&r.spec, r.baseline)).collect::<Vec<_>>().join("; ")
}

fn cell(s: &str) -> String {
    s.replace('|', "\\|")
}

/// The markdown table (with the machine description above it).
pub fn markdown(rows: &[RowResult], machine: &Machine, header: &str) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "{header}\n");
    let _ = writeln!(s, "{machine}");
    s.push_str(
        "| workload | unit | greenpatch | tokio current | tokio multi | gp/tokio min / **median** / max | target | met | floor | note |\n",
    );
    s.push_str("|---|---|---:|---:|---:|---:|---|---|---:|---|\n");
    for r in rows {
        let gp = match &r.greenpatch {
            Ok(g) => num(g.median()),
            Err(why) => format!("pending: {why}"),
        };
        let tc = r.tokio_current.as_ref().map_or("—".into(), |t| num(t.median()));
        let tm = r.tokio_multi.as_ref().map_or("—".into(), |t| num(t.median()));
        let rat = r.ratio.map_or("—".into(), |q| {
            format!("{} / **{}** / {} ({})", ratio(q.min), ratio(q.median), ratio(q.max), r.baseline.short())
        });
        let floor = match (&r.floor, r.spec.floor_name) {
            (Some(f), Some(name)) => {
                let mut t = format!("{} ({name})", num(f.median()));
                if let Some(q) = r.floor_ratio {
                    let _ = write!(t, "; gp = {}× floor", ratio(q.median));
                }
                t
            }
            _ => "—".into(),
        };
        let better = match r.spec.better {
            Better::Lower => "lower is better",
            Better::Higher => "higher is better",
        };
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            cell(&r.spec.name),
            r.spec.unit,
            cell(&gp),
            tc,
            tm,
            rat,
            cell(&targets(r)),
            r.verdict,
            cell(&floor),
            cell(&format!("{better}; {}", r.note)),
        );
    }
    s
}

fn json_str(s: &str) -> String {
    let mut o = String::with_capacity(s.len() + 2);
    o.push('"');
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            '\n' => o.push_str("\\n"),
            c if (c as u32) < 0x20 => {
                let _ = write!(o, "\\u{:04x}", c as u32);
            }
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

fn json_num(x: Option<f64>) -> String {
    match x {
        Some(x) if x.is_finite() => format!("{x}"),
        _ => "null".into(),
    }
}

/// `results.json`: an array with one object per row.
pub fn json(rows: &[RowResult]) -> String {
    let mut s = String::from("[\n");
    for (i, r) in rows.iter().enumerate() {
        let met = match &r.verdict {
            Verdict::Judged(v) => if v.iter().all(|&m| m) { "true" } else { "false" }.to_string(),
            _ => "null".into(),
        };
        let pending = match &r.greenpatch {
            Err(why) => json_str(why),
            Ok(_) => "null".into(),
        };
        let _ = write!(
            s,
            "  {{\"name\": {}, \"unit\": {}, \"greenpatch\": {}, \"tokio_current\": {}, \"tokio_multi\": {}, \
             \"ratio_median\": {}, \"ratio_min\": {}, \"ratio_max\": {}, \"ratio_baseline\": {}, \"floor\": {}, \
             \"floor_name\": {}, \"gp_over_floor\": {}, \"target\": {}, \"met\": {}, \"pending\": {}, \
             \"higher_is_better\": {}, \"note\": {}}}",
            json_str(&r.spec.name),
            json_str(r.spec.unit),
            json_num(r.greenpatch.as_ref().ok().map(|g| g.median())),
            json_num(r.tokio_current.as_ref().map(|t| t.median())),
            json_num(r.tokio_multi.as_ref().map(|t| t.median())),
            json_num(r.ratio.map(|q| q.median)),
            json_num(r.ratio.map(|q| q.min)),
            json_num(r.ratio.map(|q| q.max)),
            json_str(r.baseline.short()),
            json_num(r.floor.as_ref().map(|f| f.median())),
            r.spec.floor_name.map_or("null".into(), json_str),
            json_num(r.floor_ratio.map(|q| q.median)),
            json_str(&targets(r)),
            met,
            pending,
            r.spec.better == Better::Higher,
            json_str(&r.note),
        );
        s.push_str(if i + 1 < rows.len() { ",\n" } else { "\n" });
    }
    s.push_str("]\n");
    s
}

/// The targets of a row, with the figure each non-tokio target is judged
/// on (greenpatch/floor, or greenpatch's own figure).
fn svg_target_text(r: &RowResult) -> String {
    let parts: Vec<String> = r
        .spec
        .targets
        .iter()
        .map(|t| {
            let d = t.describe(&r.spec, r.baseline);
            match t.against {
                Against::Tokio => d,
                Against::Floor => match r.floor_ratio {
                    Some(q) => format!("{d}: {}×", ratio(q.median)),
                    None => d,
                },
                Against::Absolute => match &r.greenpatch {
                    Ok(g) => format!("{d}: {}", num(g.median())),
                    Err(_) => d,
                },
            }
        })
        .collect();
    if parts.is_empty() {
        String::new()
    } else {
        format!(" ({})", parts.join("; "))
    }
}

fn xml(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// `ratios.svg`: one horizontal bar per row from 1.0 to the median ratio
/// greenpatch/tokio, on a log scale; green where the row's targets are met,
/// red where missed, grey without a target; a black tick marks a target
/// ratio. The figures are repeated as text in a column on the right.
pub fn svg(rows: &[RowResult]) -> String {
    const W: f64 = 1200.0;
    const LABEL: f64 = 320.0;
    const TEXT: f64 = 330.0;
    const ROW: f64 = 24.0;
    const TOP: f64 = 56.0;
    let h = TOP + ROW * rows.len() as f64 + 56.0;
    let mut lo: f64 = 1.0;
    let mut hi: f64 = 1.0;
    for r in rows {
        if let Some(q) = r.ratio {
            lo = lo.min(q.median);
            hi = hi.max(q.median);
        }
        for t in r.spec.targets.iter().filter(|t| t.against == Against::Tokio) {
            lo = lo.min(t.value);
            hi = hi.max(t.value);
        }
    }
    let (l0, l1) = ((lo / 1.2).log10().floor(), (hi * 1.2).log10().ceil());
    let right = W - TEXT - 20.0;
    let x = |v: f64| LABEL + (v.log10() - l0) / (l1 - l0) * (right - LABEL);
    let mut s = String::new();
    let _ = writeln!(
        s,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{W}\" height=\"{h}\" viewBox=\"0 0 {W} {h}\" \
         font-family=\"sans-serif\" font-size=\"12\">"
    );
    let _ = writeln!(s, "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>");
    let _ = writeln!(
        s,
        "<text x=\"10\" y=\"22\" font-size=\"15\" font-weight=\"bold\">greenpatch / tokio, median of \
         pairwise ratios (log scale)</text>\
         <text x=\"10\" y=\"40\" fill=\"#555\">time, latency, memory: left of 1.0 is better for \
         greenpatch; throughput: right of 1.0 is better</text>"
    );
    let _ = writeln!(
        s,
        "<text x=\"{:.1}\" y=\"{:.1}\" font-weight=\"bold\">ratio (target)</text>",
        right + 16.0,
        TOP - 6.0
    );
    // Grid: decades, plus 2 and 5 when the range is narrow enough to label them.
    let steps: &[f64] = if l1 - l0 <= 3.0 { &[1.0, 2.0, 5.0] } else { &[1.0] };
    let mut e = l0;
    while e <= l1 {
        for &m in steps {
            let v = m * 10f64.powf(e);
            if v.log10() > l1 + 1e-9 {
                continue;
            }
            let xv = x(v);
            let _ = writeln!(
                s,
                "<line x1=\"{xv:.1}\" y1=\"{TOP}\" x2=\"{xv:.1}\" y2=\"{:.1}\" stroke=\"#ddd\"/>\
                 <text x=\"{xv:.1}\" y=\"{:.1}\" text-anchor=\"middle\" fill=\"#555\">{}</text>",
                h - 46.0,
                h - 32.0,
                ratio(v)
            );
        }
        e += 1.0;
    }
    for (i, r) in rows.iter().enumerate() {
        let y = TOP + ROW * i as f64;
        if i % 2 == 1 {
            let _ = writeln!(
                s,
                "<rect x=\"0\" y=\"{y:.1}\" width=\"{W}\" height=\"{ROW}\" fill=\"#000\" fill-opacity=\"0.03\"/>"
            );
        }
        let _ = writeln!(
            s,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            LABEL - 8.0,
            y + 16.0,
            xml(r.spec.name.trim())
        );
        let tgt = svg_target_text(r);
        let Some(q) = r.ratio else {
            let what = if r.greenpatch.is_err() { "pending" } else { "no tokio ratio" };
            let _ = writeln!(
                s,
                "<text x=\"{:.1}\" y=\"{:.1}\" fill=\"#888\">{what}{}</text>",
                right + 16.0,
                y + 16.0,
                xml(&tgt)
            );
            continue;
        };
        let color = match &r.verdict {
            Verdict::Judged(v) if v.iter().all(|&m| m) => "#3a9a4a",
            Verdict::Judged(_) => "#c8433a",
            _ => "#8a8f98",
        };
        let (a, b) = (x(1.0).min(x(q.median)), x(1.0).max(x(q.median)));
        let _ = writeln!(
            s,
            "<rect x=\"{a:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"{color}\"/>",
            y + 5.0,
            (b - a).max(1.5),
            ROW - 10.0
        );
        // The spread of the pairwise ratios as a thin whisker.
        let _ = writeln!(
            s,
            "<line x1=\"{:.1}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\" stroke=\"#333\"/>",
            x(q.min),
            y + ROW / 2.0,
            x(q.max),
            y + ROW / 2.0
        );
        for t in r.spec.targets.iter().filter(|t| t.against == Against::Tokio) {
            let xt = x(t.value);
            let _ = writeln!(
                s,
                "<line x1=\"{xt:.1}\" y1=\"{:.1}\" x2=\"{xt:.1}\" y2=\"{:.1}\" stroke=\"black\" stroke-width=\"2.5\"/>",
                y + 1.0,
                y + ROW - 1.0
            );
        }
        let _ = writeln!(
            s,
            "<text x=\"{:.1}\" y=\"{:.1}\" fill=\"{color}\" font-weight=\"bold\">{}×</text>\
             <text x=\"{:.1}\" y=\"{:.1}\" fill=\"#333\">{}</text>",
            right + 16.0,
            y + 16.0,
            ratio(q.median),
            right + 62.0,
            y + 16.0,
            xml(&tgt)
        );
    }
    let x1 = x(1.0);
    let _ = writeln!(
        s,
        "<line x1=\"{x1:.1}\" y1=\"{:.1}\" x2=\"{x1:.1}\" y2=\"{:.1}\" stroke=\"black\" stroke-width=\"1.5\"/>\
         <text x=\"{x1:.1}\" y=\"{:.1}\" text-anchor=\"middle\" font-weight=\"bold\">1.0</text>",
        TOP - 2.0,
        h - 46.0,
        TOP - 6.0
    );
    let _ = writeln!(
        s,
        "<text x=\"10\" y=\"{:.1}\" fill=\"#555\">bar: median ratio · whisker: min–max over the runs · \
         green: targets met · red: missed · grey: no target · black tick: target ratio vs tokio</text>",
        h - 10.0
    );
    s.push_str("</svg>\n");
    s
}
