//! The standard process metrics (the names every Prometheus client library uses, so
//! dashboards and alerts written for them work), read from `/proc` at each scrape on Linux:
//! `process_cpu_seconds_total`, `process_resident_memory_bytes`,
//! `process_virtual_memory_bytes`, `process_open_fds`, `process_max_fds` and
//! `process_start_time_seconds`. Elsewhere there are none. They are written as OpenMetrics
//! text without the `trellis_` prefix of the registry, before its `# EOF`.

use std::fmt::Write as _;

/// Clock ticks per second of `/proc/<pid>/stat`'s times: USER_HZ, 100 on every Linux
/// architecture Trellis builds for (reading `sysconf(_SC_CLK_TCK)` would need `unsafe`).
const USER_HZ: f64 = 100.0;

/// What one scrape reads.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub cpu_seconds: f64,
    pub resident_bytes: u64,
    pub virtual_bytes: u64,
    pub start_time_seconds: f64,
    pub open_fds: u64,
    pub max_fds: Option<u64>,
}

/// The fields of `/proc/self/stat` after the command name: (utime + stime ticks, start time
/// in ticks since boot, virtual size in bytes).
fn parse_stat(stat: &str) -> Option<(u64, u64, u64)> {
    // The command name is in parentheses and may contain spaces or parentheses itself.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // `rest` starts at field 3 (state); utime is field 14, stime 15, starttime 22, vsize 23.
    let field = |n: usize| fields.get(n - 3)?.parse::<u64>().ok();
    Some((field(14)? + field(15)?, field(22)?, field(23)?))
}

/// `VmRSS` of `/proc/self/status`, in bytes.
fn parse_rss(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// `btime` of `/proc/stat`: boot time in seconds since the epoch.
fn parse_btime(stat: &str) -> Option<u64> {
    stat.lines()
        .find_map(|l| l.strip_prefix("btime "))?
        .trim()
        .parse()
        .ok()
}

/// The soft "Max open files" of `/proc/self/limits`.
fn parse_max_fds(limits: &str) -> Option<u64> {
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line["Max open files".len()..]
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Reads this process's figures; `None` where `/proc` is not there (not Linux).
#[must_use]
pub fn read() -> Option<Sample> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let (ticks, start_ticks, virtual_bytes) = parse_stat(&stat)?;
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let btime = parse_btime(&std::fs::read_to_string("/proc/stat").ok()?)?;
    let open_fds = std::fs::read_dir("/proc/self/fd").ok()?.count() as u64;
    #[allow(
        clippy::cast_precision_loss,
        reason = "tick counts and epoch seconds are far below 2^52"
    )]
    Some(Sample {
        cpu_seconds: ticks as f64 / USER_HZ,
        resident_bytes: parse_rss(&status)?,
        virtual_bytes,
        start_time_seconds: btime as f64 + start_ticks as f64 / USER_HZ,
        open_fds,
        max_fds: std::fs::read_to_string("/proc/self/limits")
            .ok()
            .as_deref()
            .and_then(parse_max_fds),
    })
}

/// The sample as OpenMetrics families (HELP, TYPE, UNIT and one sample each).
#[must_use]
pub fn openmetrics(sample: &Sample) -> String {
    let mut out = String::new();
    let mut family = |name: &str, kind: &str, unit: Option<&str>, help: &str, value: String| {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} {kind}");
        if let Some(unit) = unit {
            let _ = writeln!(out, "# UNIT {name} {unit}");
        }
        let suffix = if kind == "counter" { "_total" } else { "" };
        let _ = writeln!(out, "{name}{suffix} {value}");
    };
    family(
        "process_cpu_seconds",
        "counter",
        Some("seconds"),
        "Total user and system CPU time spent in seconds.",
        format!("{}", sample.cpu_seconds),
    );
    family(
        "process_resident_memory_bytes",
        "gauge",
        Some("bytes"),
        "Resident memory size in bytes.",
        sample.resident_bytes.to_string(),
    );
    family(
        "process_virtual_memory_bytes",
        "gauge",
        Some("bytes"),
        "Virtual memory size in bytes.",
        sample.virtual_bytes.to_string(),
    );
    family(
        "process_open_fds",
        "gauge",
        None,
        "Number of open file descriptors.",
        sample.open_fds.to_string(),
    );
    if let Some(max) = sample.max_fds {
        family(
            "process_max_fds",
            "gauge",
            None,
            "Maximum number of open file descriptors.",
            max.to_string(),
        );
    }
    family(
        "process_start_time_seconds",
        "gauge",
        Some("seconds"),
        "Start time of the process since unix epoch in seconds.",
        format!("{}", sample.start_time_seconds),
    );
    out
}

/// `exposition` (OpenMetrics from the registry) with the process families before `# EOF`.
#[must_use]
pub fn with_process_metrics(exposition: String) -> String {
    let Some(sample) = read() else {
        return exposition;
    };
    let families = openmetrics(&sample);
    match exposition.rfind("# EOF") {
        Some(at) => {
            let mut out = exposition;
            out.insert_str(at, &families);
            out
        }
        None => exposition + &families,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_proc() {
        let stat = "4242 (trellis (x) y) S 1 4242 4242 0 -1 4194560 1234 0 0 0 \
                    250 50 0 0 20 0 9 0 123400 734003200 5120 18446744073709551615";
        assert_eq!(parse_stat(stat), Some((300, 123_400, 734_003_200)));
        assert_eq!(
            parse_rss("Name:\ttrellis\nVmRSS:\t   20480 kB\n"),
            Some(20_971_520)
        );
        assert_eq!(
            parse_btime("cpu 1 2 3\nbtime 1796380000\n"),
            Some(1_796_380_000)
        );
        assert_eq!(
            parse_max_fds(
                "Limit                     Soft Limit           Hard Limit           Units\n\
                 Max open files            1024                 524288               files\n"
            ),
            Some(1024)
        );
    }

    #[test]
    #[cfg(target_os = "linux")]
    fn reads_this_process_and_writes_it_before_eof() {
        let sample = read().expect("Linux has /proc");
        assert!(sample.resident_bytes > 1024 * 1024, "{sample:?}");
        assert!(sample.virtual_bytes >= sample.resident_bytes, "{sample:?}");
        assert!(
            sample.open_fds > 0 && sample.start_time_seconds > 1.7e9,
            "{sample:?}"
        );
        let text = with_process_metrics("# TYPE a gauge\na 1\n# EOF\n".to_owned());
        assert!(text.ends_with("# EOF\n"), "{text}");
        assert!(text.contains("\nprocess_cpu_seconds_total "), "{text}");
        assert!(
            text.contains("# UNIT process_resident_memory_bytes bytes\n"),
            "{text}"
        );
    }
}
