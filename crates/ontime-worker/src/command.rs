//! One run of a command target: `/bin/sh -c <run>` in a clean environment and a process group
//! of its own, its output kept up to a bound, the group killed at the timeout, when the run
//! is stopped, and once the shell has exited (so nothing it started outlives it).

use std::os::unix::process::ExitStatusExt as _;
use std::process::{ExitStatus, Stdio};
use std::time::{Duration, Instant};

use chrono::Utc;
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use ontime_core::retry::AttemptClass;
use ontime_core::target::CommandTarget;
use ontime_core::timer::Run;
use tokio::io::{AsyncRead, AsyncReadExt as _};
use tokio::process::Command;

use crate::Commands;
use crate::call::{CallResult, not_made};

/// How long a group asked to stop (SIGTERM) has before it is killed (SIGKILL).
const GRACE: Duration = Duration::from_secs(2);
/// How long the output is still read once the group is gone: a process that left the group
/// may hold the pipes open, and is not waited for.
const DRAIN: Duration = Duration::from_secs(2);

/// Why a run ended before its shell did.
enum Cut {
    Timeout(Duration),
    Stopped,
}

/// Runs `target` under `settings` until it exits, times out, or `stop` completes (the timer
/// was deleted or changed while it ran).
pub async fn run(
    settings: &Commands,
    target: &CommandTarget,
    stop: impl Future<Output = ()>,
) -> CallResult {
    let clock = Instant::now();
    let mut command = Command::new("/bin/sh");
    command
        .arg("-c")
        .arg(&target.run)
        .env_clear()
        .envs(&settings.env)
        .envs(&target.env)
        .current_dir(
            target
                .dir
                .as_deref()
                .map_or(settings.dir.as_path(), std::path::Path::new),
        )
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(e) => {
            return not_made(
                AttemptClass::Retryable,
                format!("the command could not start: {e}"),
            );
        }
    };
    let group = child.id().map(|pid| Pid::from_raw(pid as i32));
    let max = settings.max_output;
    let stdout = tokio::spawn(keep(child.stdout.take(), max));
    let stderr = tokio::spawn(keep(child.stderr.take(), max));

    let timeout = target.timeout();
    tokio::pin!(stop);
    let (status, cut) = tokio::select! {
        status = child.wait() => (status, None),
        _ = tokio::time::sleep(timeout) => (end(&mut child, group).await, Some(Cut::Timeout(timeout))),
        _ = &mut stop => (end(&mut child, group).await, Some(Cut::Stopped)),
    };
    // Whatever the shell left running in its group ends with it.
    if let Some(group) = group {
        let _ = killpg(group, Signal::SIGKILL);
    }
    let (stdout, stdout_omitted) = drained(stdout).await;
    let (stderr, stderr_omitted) = drained(stderr).await;
    let latency = clock.elapsed();
    let status = match status {
        Ok(status) => status,
        Err(e) => {
            return not_made(
                AttemptClass::Retryable,
                format!("waiting for the command failed: {e}"),
            );
        }
    };
    let run = Run {
        exit_code: status.code(),
        signal: status.signal(),
        ended_at: Utc::now(),
        stdout,
        stderr,
        stdout_omitted,
        stderr_omitted,
    };
    let mut result = not_made(AttemptClass::Retryable, describe(status, cut.as_ref()));
    if status.success() && cut.is_none() {
        result.class = AttemptClass::Success;
        result.error = None;
    }
    result.latency = latency;
    result.run = Some(run);
    result
}

/// Ends the group: SIGTERM, then SIGKILL if the shell is still there after [`GRACE`].
async fn end(child: &mut tokio::process::Child, group: Option<Pid>) -> std::io::Result<ExitStatus> {
    if let Some(group) = group {
        let _ = killpg(group, Signal::SIGTERM);
        if let Ok(status) = tokio::time::timeout(GRACE, child.wait()).await {
            return status;
        }
        let _ = killpg(group, Signal::SIGKILL);
    }
    child.wait().await
}

fn describe(status: ExitStatus, cut: Option<&Cut>) -> String {
    let how = match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit code {code}"),
        (None, Some(signal)) => format!("killed by signal {signal}"),
        _ => "ended".to_owned(),
    };
    match cut {
        Some(Cut::Timeout(after)) => format!("{how}: over its {}s timeout", after.as_secs_f64()),
        Some(Cut::Stopped) => format!("{how}: stopped, the timer was deleted or changed"),
        None => how,
    }
}

/// Reads `pipe` to its end, keeping the first `max` bytes and counting the rest.
async fn keep(pipe: Option<impl AsyncRead + Unpin>, max: usize) -> (Vec<u8>, u64) {
    let Some(mut pipe) = pipe else {
        return (Vec::new(), 0);
    };
    let (mut kept, mut omitted) = (Vec::new(), 0u64);
    let mut buf = [0u8; 8192];
    while let Ok(n) = pipe.read(&mut buf).await {
        if n == 0 {
            break;
        }
        let room = max.saturating_sub(kept.len()).min(n);
        kept.extend_from_slice(&buf[..room]);
        omitted += (n - room) as u64;
    }
    (kept, omitted)
}

/// The output a reader kept, waiting at most [`DRAIN`] for its end.
async fn drained(reader: tokio::task::JoinHandle<(Vec<u8>, u64)>) -> (String, u64) {
    let abort = reader.abort_handle();
    match tokio::time::timeout(DRAIN, reader).await {
        Ok(Ok((bytes, omitted))) => (String::from_utf8_lossy(&bytes).into_owned(), omitted),
        _ => {
            abort.abort();
            (String::new(), 0)
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn settings() -> Commands {
        Commands {
            max_output: 16,
            ..Commands::of(Vec::new())
        }
    }

    fn target(run: &str) -> CommandTarget {
        CommandTarget {
            run: run.to_owned(),
            env: BTreeMap::new(),
            dir: None,
            timeout: None,
        }
    }

    #[tokio::test]
    async fn a_run_reports_its_exit_and_output() {
        let ok = run(
            &settings(),
            &target("echo hi; echo oops >&2"),
            std::future::pending(),
        )
        .await;
        assert_eq!(ok.class, AttemptClass::Success);
        let out = ok.run.unwrap();
        assert_eq!(
            (out.exit_code, out.stdout.as_str(), out.stderr.as_str()),
            (Some(0), "hi\n", "oops\n")
        );
        let failed = run(&settings(), &target("exit 3"), std::future::pending()).await;
        assert_eq!(failed.class, AttemptClass::Retryable);
        assert_eq!(failed.error.as_deref(), Some("exit code 3"));
        assert_eq!(failed.run.unwrap().code(), 3);
    }

    #[tokio::test]
    async fn output_past_the_bound_is_counted_not_kept() {
        let result = run(
            &settings(),
            &target("printf '%0100d' 0"),
            std::future::pending(),
        )
        .await;
        let out = result.run.unwrap();
        assert_eq!(out.stdout.len(), 16);
        assert_eq!(out.stdout_omitted, 84);
    }

    #[tokio::test]
    async fn the_environment_is_the_operators_and_the_targets_only() {
        let mut t = target("echo \"$PATH|$GREETING|$HOME\"; pwd");
        t.env.insert("GREETING".into(), "hello".into());
        t.dir = Some("/".into());
        let settings = Commands::of(Vec::new());
        let out = run(&settings, &t, std::future::pending())
            .await
            .run
            .unwrap();
        assert_eq!(out.stdout, format!("{}|hello|\n/\n", crate::DEFAULT_PATH));
    }

    #[tokio::test]
    async fn a_stop_kills_the_group() {
        let dir = tempfile_dir();
        let pidfile = format!("{dir}/child.pid");
        let t = target(&format!("sleep 30 & echo $! > {pidfile}; wait"));
        let stop = async {
            while std::fs::read_to_string(&pidfile).map_or(true, |s| s.trim().is_empty()) {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        };
        let result = run(&settings(), &t, stop).await;
        let out = result.run.unwrap();
        assert_eq!(out.signal, Some(15), "{:?}", result.error);
        assert_eq!(out.code(), 143);
        assert!(result.error.unwrap().contains("stopped"));
        let child: i32 = std::fs::read_to_string(&pidfile)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        // The group was signalled; the kernel may take a moment to end the child.
        let gone = || !std::path::Path::new(&format!("/proc/{child}")).exists() || zombie(child);
        for _ in 0..250 {
            if gone() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(gone(), "the child outlived its group");
        let _ = std::fs::remove_dir_all(dir);
    }

    /// A killed child not yet reaped by its (also killed) parent.
    fn zombie(pid: i32) -> bool {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .is_ok_and(|stat| stat.split(' ').nth(2) == Some("Z"))
    }

    fn tempfile_dir() -> String {
        let dir = std::env::temp_dir().join(format!("ontime-run-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir.display().to_string()
    }
}
