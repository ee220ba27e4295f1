//! A real nats-server per test.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::free_port;

/// The pinned nats-server: `ONTIME_NATS_SERVER_BIN`, or the project's install (run
/// `nats/install.sh` if it is not there yet).
pub fn nats_server_bin() -> PathBuf {
    if let Ok(path) = std::env::var("ONTIME_NATS_SERVER_BIN") {
        return PathBuf::from(path);
    }
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let out = std::process::Command::new(repo.join("nats/install.sh"))
        .output()
        .expect("running nats/install.sh");
    assert!(
        out.status.success(),
        "nats/install.sh failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
}

/// A nats-server with JetStream on a free port and a temporary store, stopped on drop.
pub struct NatsServer {
    pub port: u16,
    store: tempfile::TempDir,
    /// The configuration file it runs with.
    conf: PathBuf,
    child: Option<Child>,
}

impl NatsServer {
    /// A server with the project's single-node configuration (`nats/single.conf`).
    pub async fn start() -> Self {
        Self::start_with_config("").await
    }

    /// A server whose configuration is the project's single-node one followed by `extra`
    /// (where a setting is given twice, the later wins): `max_payload: 64KB` for a test of
    /// what the limits do.
    pub async fn start_with_config(extra: &str) -> Self {
        let store = tempfile::tempdir().expect("a temporary store");
        let single = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../nats/single.conf");
        let conf = if extra.is_empty() {
            single
        } else {
            let base = std::fs::read_to_string(&single).expect("reading nats/single.conf");
            let conf = store.path().join("nats.conf");
            std::fs::write(&conf, format!("{base}\n{extra}\n")).expect("writing a configuration");
            conf
        };
        let mut server = Self {
            port: free_port(),
            store,
            conf,
            child: None,
        };
        server.spawn().await;
        server
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    pub fn store_dir(&self) -> &Path {
        self.store.path()
    }

    async fn spawn(&mut self) {
        let mut child = Command::new(nats_server_bin())
            .arg("-c")
            .arg(&self.conf)
            .args(["-a", "127.0.0.1", "-p", &self.port.to_string()])
            .arg("-sd")
            .arg(self.store.path())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("starting nats-server");
        let mut lines = BufReader::new(child.stderr.take().expect("piped")).lines();
        let ready = tokio::time::timeout(Duration::from_secs(20), async {
            while let Ok(Some(line)) = lines.next_line().await {
                if line.contains("Server is ready") {
                    return true;
                }
            }
            false
        })
        .await;
        assert_eq!(
            ready,
            Ok(true),
            "nats-server did not start on port {}",
            self.port
        );
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        self.child = Some(child);
    }

    /// The server's process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().and_then(Child::id)
    }

    /// Stops the server (SIGSTOP): it keeps its connections and answers nothing until
    /// [`Self::resume`], as a server stalled by its machine would.
    pub fn stop(&self) {
        self.signal("-STOP");
    }

    /// Resumes a server [`Self::stop`] stopped (SIGCONT).
    pub fn resume(&self) {
        self.signal("-CONT");
    }

    fn signal(&self, sig: &str) {
        let pid = self.pid().expect("nats-server runs");
        let status = std::process::Command::new("kill")
            .args([sig, &pid.to_string()])
            .status()
            .expect("running kill");
        assert!(status.success(), "kill {sig} {pid}");
    }

    /// SIGKILLs the server (as a crash would).
    pub async fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill().await;
        }
    }

    /// Starts it again on the same port and store.
    pub async fn restart(&mut self) {
        self.kill().await;
        self.spawn().await;
    }
}
