//! Disk barriers during one phase of a scenario: `perf stat` counts the `fsync` and
//! `fdatasync` system calls made by every process while the phase runs (system-wide, so the
//! machine should be otherwise idle; the bench's own processes make none, nats-server makes
//! them all). Under `sync_interval: always` they are what a store costs, so the figures are
//! reported per timer created and per call delivered, beside the raw baseline's.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::process::{Child, Command};

/// A count under way.
pub struct Counting {
    child: Child,
    out: PathBuf,
}

/// Starts counting; `None` (with a note) where `perf` cannot count system calls here.
pub async fn start(dir: &Path, phase: &str) -> Option<Counting> {
    let out = dir.join(format!("fsyncs-{phase}.csv"));
    let child = Command::new("perf")
        .args([
            "stat",
            "-a",
            "-x,",
            "-e",
            "syscalls:sys_enter_fsync,syscalls:sys_enter_fdatasync",
            "-o",
        ])
        .arg(&out)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn();
    let child = match child {
        Ok(child) => child,
        Err(e) => {
            crate::progress(&format!("fsyncs not counted: perf: {e}"));
            return None;
        }
    };
    // perf opens its counters before the phase starts.
    tokio::time::sleep(Duration::from_millis(300)).await;
    Some(Counting { child, out })
}

impl Counting {
    /// Stops counting: the number of barriers since [`start`], if perf counted them.
    pub async fn stop(mut self) -> Option<u64> {
        let pid = self.child.id()?;
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid as i32),
            nix::sys::signal::Signal::SIGINT,
        );
        let _ = tokio::time::timeout(Duration::from_secs(10), self.child.wait()).await;
        let text = std::fs::read_to_string(&self.out).ok()?;
        parse(&text)
    }
}

/// The sum of the counts of `perf stat -x,` output (`<count>,<unit>,<event>,…`).
fn parse(text: &str) -> Option<u64> {
    let counts: Vec<u64> = text
        .lines()
        .filter(|line| line.contains("sys_enter_f"))
        .filter_map(|line| line.split(',').next()?.trim().parse().ok())
        .collect();
    (!counts.is_empty()).then(|| counts.iter().sum())
}

#[cfg(test)]
mod tests {
    #[test]
    fn perf_csv_is_summed() {
        let text = "# started on Sat Nov 28\n\n1203,,syscalls:sys_enter_fsync,1000,100.00,,\n7,,syscalls:sys_enter_fdatasync,1000,100.00,,\n";
        assert_eq!(super::parse(text), Some(1210));
        assert_eq!(
            super::parse("<not counted>,,syscalls:sys_enter_fsync"),
            None
        );
    }
}
