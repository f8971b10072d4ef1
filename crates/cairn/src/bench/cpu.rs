//! CPU time from /proc (Linux; `None` elsewhere), for the benches' "CPU per event" figures.
//! Clock ticks are taken as 1/100 s, Linux's USER_HZ.

use std::time::Duration;

/// User + system CPU time of this whole process so far.
pub fn process() -> Option<Duration> {
    stat_ticks(&std::fs::read_to_string("/proc/self/stat").ok()?, 11)
}

/// User + system CPU time of this process's waited-for children (a stopped server).
pub fn children() -> Option<Duration> {
    stat_ticks(&std::fs::read_to_string("/proc/self/stat").ok()?, 13)
}

/// CPU time of this process's threads whose name starts with `prefix`.
pub fn threads(prefix: &str) -> Option<Duration> {
    let mut total = Duration::ZERO;
    let mut found = false;
    for entry in std::fs::read_dir("/proc/self/task").ok()?.flatten() {
        let dir = entry.path();
        let Ok(name) = std::fs::read_to_string(dir.join("comm")) else {
            continue;
        };
        if !name.trim_end().starts_with(prefix) {
            continue;
        }
        total += stat_ticks(&std::fs::read_to_string(dir.join("stat")).ok()?, 11)?;
        found = true;
    }
    found.then_some(total)
}

/// The sum of two tick fields of a `stat` line, counted from the field after "pid (comm) "
/// (index 0 is the state): 11 and 12 are utime and stime, 13 and 14 cutime and cstime.
fn stat_ticks(stat: &str, first: usize) -> Option<Duration> {
    let fields: Vec<&str> = stat
        .get(stat.rfind(')')? + 2..)?
        .split_whitespace()
        .collect();
    let ticks =
        fields.get(first)?.parse::<u64>().ok()? + fields.get(first + 1)?.parse::<u64>().ok()?;
    Some(Duration::from_millis(ticks * 10))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_tick_fields_after_the_command_name() {
        // A command name with a space and a parenthesis, as /proc writes it.
        let stat = "42 (cairn (x) y) S 1 42 42 0 -1 4194304 100 0 0 0 250 50 7 3 20 0 8 0";
        assert_eq!(stat_ticks(stat, 11), Some(Duration::from_millis(3000)));
        assert_eq!(stat_ticks(stat, 13), Some(Duration::from_millis(100)));
        assert_eq!(stat_ticks("garbage", 11), None);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn this_process_has_used_some_cpu() {
        let mut x = 0u64;
        for i in 0..20_000_000u64 {
            x = x.wrapping_mul(31).wrapping_add(i);
        }
        std::hint::black_box(x);
        assert!(process().unwrap() > Duration::ZERO);
    }
}
