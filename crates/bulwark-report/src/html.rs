//! A self-contained HTML report: one file with inline CSS and an inline SVG bar chart
//! of findings per severity, then tables of vulnerabilities, misconfigurations and
//! secrets. No scripts and no external URLs, so it can be archived, mailed, or opened
//! offline; every piece of report text is HTML-escaped because findings carry
//! attacker-controlled strings (package names, titles, file paths).

use crate::ReportError;
use bulwark_core::{Report, Severity};
use std::fmt::Write as _;
use std::io::Write;

/// Escapes text for HTML element content and double-quoted attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // Control characters are not allowed in HTML text; show them escaped
            // (`\x1b`) rather than pass an ESC sequence on to whoever cats the file.
            c if bulwark_core::text::is_unsafe_char(c) => {
                out.push_str(&bulwark_core::text::terminal_safe(
                    c.encode_utf8(&mut [0; 4]),
                ));
            }
            c => out.push(c),
        }
    }
    out
}

fn colour(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "#8b0000",
        Severity::High => "#d9480f",
        Severity::Medium => "#e8a100",
        Severity::Low => "#2b7bb9",
        Severity::Unknown => "#777777",
    }
}

const CSS: &str = "body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;\
margin:2em;color:#222}h1{font-size:1.5em}h2{margin-top:1.6em;font-size:1.2em}\
table{border-collapse:collapse;width:100%;font-size:.9em}\
th,td{border:1px solid #ccc;padding:.3em .5em;text-align:left;vertical-align:top}\
th{background:#f0f0f0}tr.suppressed td{color:#888;text-decoration:line-through}\
.sev{color:#fff;font-weight:bold;padding:.1em .4em;border-radius:3px;white-space:nowrap}\
td:nth-child(2){white-space:nowrap}.meta{color:#555}.empty{color:#555;font-style:italic}code{font-size:.95em}";

/// Unsuppressed findings of every kind, per severity (least severe first).
fn counts(report: &Report) -> [usize; 5] {
    let mut c = [0usize; 5];
    let mut bump = |s: Severity| {
        if let Some(n) = Severity::ALL
            .iter()
            .position(|x| *x == s)
            .and_then(|i| c.get_mut(i))
        {
            *n += 1;
        }
    };
    for v in report
        .vulnerabilities
        .iter()
        .filter(|v| v.suppressed.is_none())
    {
        bump(v.severity);
    }
    for m in report
        .misconfigurations
        .iter()
        .filter(|m| m.suppressed.is_none())
    {
        bump(m.severity);
    }
    for s in report.secrets.iter().filter(|s| s.suppressed.is_none()) {
        bump(s.severity);
    }
    c
}

fn chart(counts: &[usize; 5]) -> String {
    const BAR_MAX: usize = 500;
    const ROW: usize = 28;
    let max = counts.iter().copied().max().unwrap_or(0).max(1);
    let height = ROW * 5 + 10;
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"700\" height=\"{height}\" \
         role=\"img\" aria-label=\"Findings per severity\">"
    );
    // Most severe on top.
    for (row, (sev, n)) in Severity::ALL.iter().zip(counts).rev().enumerate() {
        let y = 5 + row * ROW;
        let w = if *n == 0 {
            0
        } else {
            (n * BAR_MAX / max).max(2)
        };
        let _ = write!(
            svg,
            "<text x=\"0\" y=\"{}\" font-size=\"13\" fill=\"#222\">{}</text>\
             <rect x=\"90\" y=\"{y}\" width=\"{w}\" height=\"20\" fill=\"{}\"/>\
             <text x=\"{}\" y=\"{}\" font-size=\"13\" fill=\"#222\">{n}</text>",
            y + 15,
            sev.as_str(),
            colour(*sev),
            96 + w,
            y + 15,
        );
    }
    svg.push_str("</svg>");
    svg
}

fn badge(s: Severity) -> String {
    format!(
        "<span class=\"sev\" style=\"background:{}\">{}</span>",
        colour(s),
        s.as_str()
    )
}

/// Renders the whole page.
pub fn render(report: &Report) -> String {
    let mut h = String::new();
    let title = format!("bulwark report: {}", report.target.name);
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{}</title>\n<style>{CSS}</style>\n</head>\n<body>\n<h1>{}</h1>\n",
        escape(&title),
        escape(&title)
    );
    let os = report
        .os
        .as_ref()
        .map(|o| {
            o.pretty_name
                .clone()
                .unwrap_or_else(|| format!("{} {}", o.family, o.version))
        })
        .unwrap_or_else(|| "unknown".into());
    let _ = writeln!(
        h,
        "<p class=\"meta\">{} &middot; OS: {} &middot; {} packages &middot; created {}</p>",
        escape(&report.tool),
        escape(&os),
        report.packages.len(),
        escape(&report.created_at)
    );

    if report.is_incomplete() {
        let _ = writeln!(
            h,
            "<div id=\"incomplete\" class=\"incomplete\" style=\"border:2px solid #8b0000;background:#fde8e8;padding:.6em 1em\">\n<strong>Incomplete scan</strong>: what is listed here was not checked, so no finding does not mean clean.\n<ul>"
        );
        for r in &report.incomplete {
            let _ = writeln!(h, "<li>{}</li>", escape(&r.describe()));
        }
        let _ = writeln!(h, "</ul>\n</div>");
    }
    let c = counts(report);
    let _ = writeln!(h, "<h2>Summary</h2>\n{}", chart(&c));
    let summary: Vec<String> = Severity::ALL
        .iter()
        .zip(c)
        .rev()
        .map(|(s, n)| format!("{}: {n}", s.as_str()))
        .collect();
    let _ = writeln!(h, "<p id=\"summary\">{}</p>", summary.join(", "));

    vulnerabilities(report, &mut h);
    if !report.not_checked.is_empty() {
        let _ = writeln!(
            h,
            "<h2>Not checked for vulnerabilities ({})</h2>\n<table>\n<tr><th>Package</th><th>Version</th><th>Reason</th></tr>",
            report.not_checked.len()
        );
        for n in &report.not_checked {
            let _ = writeln!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                escape(&n.name),
                escape(&n.version),
                escape(&n.reason)
            );
        }
        let _ = writeln!(h, "</table>");
    }
    misconfigurations(report, &mut h);
    secrets(report, &mut h);
    h.push_str("</body>\n</html>\n");
    h
}

fn vulnerabilities(report: &Report, h: &mut String) {
    let _ = writeln!(
        h,
        "<h2>Vulnerabilities ({})</h2>",
        report.vulnerabilities.len()
    );
    if report.vulnerabilities.is_empty() {
        h.push_str("<p class=\"empty\">No vulnerabilities found.</p>\n");
        return;
    }
    h.push_str(
        "<table id=\"vulnerabilities\">\n<thead><tr><th>Package</th><th>ID</th>\
         <th>Severity</th><th>Installed</th><th>Fixed</th><th>Title</th><th>Path</th>\
         </tr></thead>\n<tbody>\n",
    );
    let mut vs: Vec<_> = report.vulnerabilities.iter().collect();
    vs.sort_by(|a, b| {
        (&a.path, &a.package, std::cmp::Reverse(a.severity), &a.id).cmp(&(
            &b.path,
            &b.package,
            std::cmp::Reverse(b.severity),
            &b.id,
        ))
    });
    for v in vs {
        let (class, note) = suppressed_marks(v.suppressed.as_deref());
        let _ = writeln!(
            h,
            "<tr{class}><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>\
             <td>{}{note}</td><td><code>{}</code></td></tr>",
            escape(&v.package),
            escape(&v.id),
            badge(v.severity),
            escape(&v.installed_version),
            escape(&v.fixed_versions.join(", ")),
            escape(&v.title),
            escape(v.path.as_deref().unwrap_or("")),
        );
    }
    h.push_str("</tbody>\n</table>\n");
}

/// The row class and the note after the title for a suppressed finding: the row is
/// greyed and struck through, the note says why.
fn suppressed_marks(reason: Option<&str>) -> (&'static str, String) {
    match reason {
        Some(r) => (
            " class=\"suppressed\"",
            format!("<br><small>suppressed: {}</small>", escape(r)),
        ),
        None => ("", String::new()),
    }
}

fn misconfigurations(report: &Report, h: &mut String) {
    let _ = writeln!(
        h,
        "<h2>Misconfigurations ({})</h2>",
        report.misconfigurations.len()
    );
    if report.misconfigurations.is_empty() {
        h.push_str("<p class=\"empty\">No misconfigurations found.</p>\n");
        return;
    }
    h.push_str(
        "<table id=\"misconfigurations\">\n<thead><tr><th>ID</th><th>Severity</th>\
         <th>Location</th><th>Title</th><th>Message</th></tr></thead>\n<tbody>\n",
    );
    for m in &report.misconfigurations {
        let loc = match m.start_line {
            Some(l) => format!("{}:{l}", m.path),
            None => m.path.clone(),
        };
        let (class, note) = suppressed_marks(m.suppressed.as_deref());
        let _ = writeln!(
            h,
            "<tr{class}><td>{}</td><td>{}</td><td><code>{}</code></td><td>{}</td>\
             <td>{}{note}</td></tr>",
            escape(&m.check_id),
            badge(m.severity),
            escape(&loc),
            escape(&m.title),
            escape(&m.message),
        );
    }
    h.push_str("</tbody>\n</table>\n");
}

fn secrets(report: &Report, h: &mut String) {
    let _ = writeln!(h, "<h2>Secrets ({})</h2>", report.secrets.len());
    if report.secrets.is_empty() {
        h.push_str("<p class=\"empty\">No secrets found.</p>\n");
        return;
    }
    h.push_str(
        "<table id=\"secrets\">\n<thead><tr><th>Rule</th><th>Severity</th>\
         <th>Location</th><th>Title</th><th>Match (redacted)</th></tr></thead>\n<tbody>\n",
    );
    for s in &report.secrets {
        let loc = match s.line {
            Some(l) => format!("{}:{l}", s.path),
            None => s.path.clone(),
        };
        let (class, note) = suppressed_marks(s.suppressed.as_deref());
        let _ = writeln!(
            h,
            "<tr{class}><td>{}</td><td>{}</td><td><code>{}</code></td><td>{}{note}</td>\
             <td><code>{}</code></td></tr>",
            escape(&s.rule_id),
            badge(s.severity),
            escape(&loc),
            escape(&s.title),
            escape(&s.redacted),
        );
    }
    h.push_str("</tbody>\n</table>\n");
}

/// Writes the HTML page for `report`.
pub fn write_html(report: &Report, out: &mut dyn Write) -> Result<(), ReportError> {
    out.write_all(render(report).as_bytes())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(
            escape("<script>alert('x')</script>&\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;&quot;"
        );
    }
}
